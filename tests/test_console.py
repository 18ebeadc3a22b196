"The installed `bassl` console command, end to end in subprocesses (what a notebook cannot show)."
import dataclasses
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEMO

BASSL = Path(sys.executable).parent/'bassl'


def bassl(*args, check=True, cwd=None):
    r = subprocess.run([str(BASSL), *map(str, args)], capture_output=True, text=True, cwd=cwd)
    if check and r.returncode != 0: raise AssertionError(f"bassl {args} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp('data')/'movienet'
    r = bassl('synth', d, '--movies', 5, '--shots', 30, '--size', '64x48', '--seed', 7, '--quiet')
    assert r.stdout.startswith(f'wrote {d}: 5 movies (4 labelled)')
    return d


def test_help_lists_commands():
    from bassl.cli import COMMANDS
    out = bassl('--help').stdout
    listed = re.findall(r'^    (\S+)', out, re.M)
    assert listed == ['synth', 'check', 'build-anno', 'pretrain', 'extract', 'finetune', 'demo', 'study', 'prepare', 'segment'] == list(COMMANDS), out


def _help(cmd):
    r = subprocess.run([str(BASSL), cmd, '--help'], capture_output=True, text=True, env={**os.environ, 'COLUMNS': '1000'})
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize('cmd', ['synth', 'check', 'build-anno', 'pretrain', 'extract', 'finetune', 'demo', 'study', 'prepare', 'segment'])
def test_command_help_is_the_functions(cmd):
    "Each option's help is its function's docment and default, whichever module that function lives in."
    from fastcore.docments import docments
    from bassl.cli import command
    out = _help(cmd)
    f = command(cmd)
    docs = docments(f, full=True, returns=False)
    assert f.__doc__ in out
    for k, d in docs.items():
        anno = inspect.signature(f).parameters[k].annotation
        anno = eval(anno, f.__globals__) if isinstance(anno, str) else anno       # postponed annotations: a `Param` holds the help
        opt, doc = f"--{k.replace('_', '-')}", d.docment or getattr(anno, 'help', None)
        if d.default is inspect.Parameter.empty: assert re.search(rf'^  {k}\s+{re.escape(doc)}$', out, re.M), (k, out)
        elif d.default is False: assert re.search(rf'^  {opt}\s+{re.escape(doc)}$', out, re.M), (k, out)
        elif doc and d.default is not None:
            assert re.search(rf'^  {opt}( [A-Z_]+| {{[a-z,+0-9]+}})?\s+{re.escape(doc)} \(default: {re.escape(str(d.default))}\)$', out, re.M) \
                or (cmd, k) == ('demo', 'root'), (k, out)
    options = set(re.findall(r'^  (--[a-z-]+)', out, re.M)) - {'--help'}
    assert options == {f"--{k.replace('_', '-')}" for k, d in docs.items() if d.default is not inspect.Parameter.empty} - {'--root'}


def test_options_follow_the_library():
    "The defaults and help texts come from the functions that use them: SynthConfig, synthesize's caller, check_root."
    from bassl.data.check import check_root
    from bassl.data.synthetic import DEFAULT_ROOT, SynthConfig
    synth = _help('synth')
    for field in dataclasses.fields(SynthConfig):
        if field.name in ('width', 'height'): continue
        assert f"--{field.name.replace('_', '-')} " in synth and f"(default: {field.default})" in synth, field.name
    assert f'keyframe size WIDTHxHEIGHT (default: {SynthConfig.width}x{SynthConfig.height})' in synth
    assert '--force ' in synth and '--force' not in _help('demo')
    assert f"threads reading keyframes (default: {inspect.signature(check_root).parameters['workers'].default})" in _help('check')
    assert re.search(rf'^  root +dataset root \(default: {DEFAULT_ROOT}\)$', _help('demo'), re.M)
    assert '--max-steps MAX_STEPS' in _help('pretrain') and '--config CONFIG' in _help('extract')
    r = bassl('finetune', 'features', 'run', check=False)
    assert r.returncode == 2 and 'the following arguments are required: --config' in r.stderr


def test_rejected_config_is_one_line(tmp_path):
    r = bassl('synth', tmp_path/'d', '--size', '16x16', '--quiet', check=False)
    assert (r.returncode, r.stderr, r.stdout) == (2, 'error: frames must be at least 32x32, got 16x16\n', '')
    r = bassl('synth', tmp_path/'d', '--size', 'big', check=False)
    assert r.returncode == 2 and "argument --size: expected WIDTHxHEIGHT, e.g. 256x144, got 'big'" in r.stderr
    assert 'Traceback' not in r.stderr and not (tmp_path/'d').exists()


def test_synth_check_round_trip(root):
    r = bassl('check', root, '--quiet')
    assert 'is a valid MovieNet-SSeg root' in r.stdout
    summary = {k: v for k, v in (re.split(r'\s{2,}', l, maxsplit=1) for l in r.stdout.splitlines()[:-1])}
    assert summary['movies'] == '5' and summary['labelled movies'] == '4' and summary['unlabelled movies'] == '1'
    assert int(summary['keyframes'].replace(',', '')) == 3 * int(summary['shots'].replace(',', ''))
    assert bassl('check', root, '--deep', '--quiet').returncode == 0


def test_build_anno_reproduces_synth(root, tmp_path):
    copy = tmp_path/'movienet'
    shutil.copytree(root, copy)
    before = {p.name: p.read_text() for p in (copy/'anno').iterdir()}
    shutil.rmtree(copy/'anno')
    bassl('build-anno', copy)
    after = {p.name: p.read_text() for p in (copy/'anno').iterdir()}
    assert after == before
    assert len(before) == 6


def test_check_fails_on_broken_root(root, tmp_path):
    copy = tmp_path/'movienet'
    shutil.copytree(root, copy)
    split = json.loads((copy/'scene318/meta/split318.json').read_text())
    vid = split['train'][0]
    (copy/'240P_frames'/vid/'shot_0004_img_0.jpg').unlink()
    lab = copy/'scene318/label318'/f'{vid}.txt'
    lines = lab.read_text().splitlines()
    lines[2] = '0002 7'
    lab.write_text('\n'.join(lines) + '\n')
    r = bassl('check', copy, '--quiet', check=False)
    assert r.returncode == 1
    assert f'240P_frames/{vid}/shot_0004_img_0.jpg: missing keyframe' in r.stdout
    assert f'label318/{vid}.txt:3: expected a label in 0, 1, -1' in r.stdout
    assert r.stdout.rstrip().endswith(f'problems found in {copy}')


def test_synth_refuses_foreign_folder(tmp_path):
    (tmp_path/'thesis.tex').write_text('precious')
    r = bassl('synth', tmp_path, '--movies', 1, '--quiet', check=False)
    assert r.returncode == 1 and 'refusing to write' in r.stderr
    assert (tmp_path/'thesis.tex').read_text() == 'precious' and not (tmp_path/'240P_frames').exists()


def test_demo_runs_main_job(tiny_demo):
    "`bassl demo data/synthetic`, tiny (conftest.py): every row and seed recorded, the table, the verdict, the time; then reused."
    from bassl.study import DEMO_FOLDERS
    project, r = tiny_demo
    assert 'is a valid MovieNet-SSeg root' in r.stdout
    runs = project/'runs'/'demo'
    rows = {'BaSSL, fresh CRN': runs, 'SimCLR instance': runs/'instance', 'random init': runs/'random'}
    study = json.loads((runs/'study.json').read_text())
    assert study['study']['folders'] == DEMO_FOLDERS and study['study']['finetune_seeds'] == [0, 1] and len(study['cells']) == 6
    for label, run in rows.items():  # seed 0 in the row's folder, seed 1 in its ft1/, both in study.json
        for seed, ft in ((0, run), (1, run/'ft1')):
            scores = json.loads((ft/'finetune'/'scores.json').read_text())
            assert all(0 <= v <= 100 for v in scores.values())
            [cell] = [c for c in study['cells'] if (c['row'], c['finetune_seed']) == (label, seed)]
            assert cell['scores'] == scores == json.loads((ft/'finetune'/'done.json').read_text())['outputs']['scores']
            assert json.loads((ft/'finetune'/'done.json').read_text())['record']['seed'] == seed
    record = lambda run: json.loads((run/'finetune'/'done.json').read_text())['record']
    # at the CPU size BaSSL fine-tunes a fresh CRN ('auto'), as every row does
    for run in (runs, runs/'instance', runs/'random', runs/'ft1'): assert record(run)['crn'] == 'scratch', run
    assert record(runs)['input'] == record(runs/'ft1')['input']  # one feature store, every seed
    assert (runs/'pretrain'/'checkpoints'/'last.ckpt').exists() and (runs/'instance'/'pretrain'/'checkpoints'/'last.ckpt').exists()
    assert not (runs/'random'/'pretrain').exists() and not (runs/'transferred-crn').exists()
    assert not (runs/'ft1'/'pretrain').exists() and not (runs/'ft1'/'features').exists()
    table = lambda out: [l for l in out.splitlines() if l.startswith('|')]
    assert [l.split('|')[1].strip() for l in table(r.stdout)[2:]] == ['SimCLR instance', 'BaSSL, fresh CRN', 'random init']
    assert re.search(r'^- BaSSL, fresh CRN \u2212 SimCLR instance: [+\u2212]\d+\.\d AP, 95 % CI ', r.stdout, re.M), r.stdout
    assert re.search(r'^chance: AP \d+\.\d\d', r.stdout, re.M), r.stdout
    # the time left, from the first cell on (with fine-tunings at once, a line per fine-tuning in the order they end)
    assert re.search(r'(cell 1/6 done|1/6 done \(.+\)): AP \d+\.\d\d; about .* left$', r.stdout, re.M), r.stdout
    assert re.search(r'^the demo took .* on this machine: yardstick \d\.\d\d s', r.stdout, re.M), r.stdout
    assert "run folder: runs/demo" in r.stdout and (runs/"study.html").exists()  # (relative: the demo ran in the project)
    assert r.stdout.rstrip().splitlines()[-3:][0].strip().startswith('make lab')  # it ends saying what to do next
    assert 'Epoch 0' not in r.stdout + r.stderr  # --quiet: no progress bars
    again = bassl(*DEMO, cwd=project)
    # every stage finished before: nothing runs again (a line per cell's two stages; at once, per feature store and fine-tuning)
    assert again.stdout.count('reusing') == (12 if study['jobs'] == 1 else 3 + 6), again.stdout
    assert not re.search(r'^== .*: (pretrain|extract|finetune)( \(resuming\))? in ', again.stdout, re.M), again.stdout
    assert table(again.stdout) == table(r.stdout)  # the same table


def test_training_commands(root, tmp_path):
    from dataclasses import replace
    from bassl.config import save_config
    from bassl.test_utils import tiny_experiment
    cfg = tiny_experiment('bassl', root)
    cfg = replace(cfg, pretrain=replace(cfg.pretrain, epochs=1), finetune=replace(cfg.finetune, epochs=2, global_batch=16))
    save_config(cfg, tmp_path/'config.json')
    r = bassl('pretrain', '--config', tmp_path/'config.json', tmp_path/'pretrain')
    ckpt = tmp_path/'pretrain'/'checkpoints'/'last.ckpt'
    assert r.stdout.strip().endswith(str(ckpt)) and ckpt.exists()
    r = bassl('extract', '--config', tmp_path/'config.json', '--checkpoint', ckpt, tmp_path/'features')
    assert r.stdout.strip().endswith('4 movies')
    r = bassl('finetune', '--config', tmp_path/'config.json', tmp_path/'features', tmp_path/'finetune')
    scores = json.loads((tmp_path/'finetune'/'scores.json').read_text())
    assert re.search(r'^AP\s+' + re.escape(f"{scores['AP']:.2f}"), r.stdout, re.M), r.stdout
    r = bassl('finetune', '--config', tmp_path/'config.json', tmp_path/'features', tmp_path/'finetune', '--quiet')  # finished: evaluated again
    assert r.stdout.strip().splitlines()[-1] == f"scores: {tmp_path/'finetune'/'scores.json'}" and not re.search(r'^AP\s', r.stdout, re.M)
    assert json.loads((tmp_path/'finetune'/'scores.json').read_text()) == scores
    r = bassl('finetune', '--config', tmp_path/'nope.json', tmp_path/'features', tmp_path/'x', check=False)
    assert r.returncode != 0
    # another feature store into the finished folder: refused, naming it, never the old store's scores reported as its own
    shutil.copytree(tmp_path/'features', tmp_path/'features2')
    r = bassl('finetune', '--config', tmp_path/'config.json', tmp_path/'features2', tmp_path/'finetune', check=False)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1 and 'AP' not in r.stdout, r.stdout + r.stderr
    assert f"{tmp_path/'finetune'}: holds a fine-tuning made from other inputs (features.store: '{(tmp_path/'features').resolve()}' there, " \
           f"'{(tmp_path/'features2').resolve()}' now): pass --overwrite" in r.stderr, r.stderr
    # a changed pre-training config: refused before it resumes, config.json kept
    from dataclasses import replace as rep
    save_config(rep(cfg, seed=5), tmp_path/'seed5.json')
    r = bassl('pretrain', '--config', tmp_path/'seed5.json', tmp_path/'pretrain', check=False)
    assert r.returncode == 1 and 'holds pre-training checkpoints made from other inputs (seed: 0 there, 5 now)' in r.stderr, r.stderr
    assert json.loads((tmp_path/'pretrain'/'config.json').read_text())['seed'] == 0


@pytest.fixture
def tiny_cfg(root, tmp_path):
    "A tiny experiment on the module's root, saved as config.json: (its path, the Experiment, a function saving variants)."
    from dataclasses import replace
    from bassl.config import save_config
    from bassl.test_utils import tiny_experiment
    cfg = tiny_experiment('bassl', root)
    cfg = replace(cfg, pretrain=replace(cfg.pretrain, epochs=1), finetune=replace(cfg.finetune, epochs=2, global_batch=16))
    def save(name, c):
        save_config(c, tmp_path/name)
        return tmp_path/name
    return save('config.json', cfg), cfg, save


def one_line_error(r, *parts):
    "The command failed with exit status 1 and one line on stderr, `error: ` and every one of `parts`, no traceback."
    assert r.returncode == 1 and r.stderr.startswith('error: ') and len(r.stderr.splitlines()) == 1, (r.returncode, r.stderr)
    for p in parts: assert str(p) in r.stderr, (p, r.stderr)


def test_extract_refuses_another_config(tiny_cfg, tmp_path):
    "A feature store made from other inputs is refused, naming them, and kept; --overwrite redoes it, sparing the user's files."
    from dataclasses import replace
    config, cfg, save = tiny_cfg
    store = tmp_path/'features'
    bassl('extract', '--config', config, store, '--progress', 'none')
    (store/'notes.txt').write_text('mine')
    before = {p.name: p.read_bytes() for p in store.glob('*.npy')}
    bigger = save('bigger.json', replace(cfg, pretrain=replace(cfg.pretrain, image_size=48)))
    r = bassl('extract', '--config', bigger, store, check=False)
    one_line_error(r, f"{store}: holds features made from other inputs (image_size: 32 there, 48 now): pass --overwrite")
    assert {p.name: p.read_bytes() for p in store.glob('*.npy')} == before
    assert json.loads((store/'config.json').read_text())['pretrain']['image_size'] == 32
    bassl('extract', '--config', bigger, store, '--progress', 'none', '--overwrite')
    assert {p.name for p in store.glob('*.npy')} == set(before) and {p.name: p.read_bytes() for p in store.glob('*.npy')} != before
    assert (store/'notes.txt').read_text() == 'mine'


def test_runs_that_would_do_nothing_are_errors(tiny_cfg, root, tmp_path):
    "0 steps, fewer samples than one batch, an empty feature store: one line naming why, and nothing written."
    from dataclasses import replace
    config, cfg, save = tiny_cfg
    for steps in (0, -5):
        one_line_error(bassl('pretrain', '--config', config, tmp_path/'run', '--max-steps', steps, check=False),
                       f'--max-steps={steps}: expected a positive number of training steps, or -1 to train every epoch')
    huge = save('huge.json', replace(cfg, pretrain=replace(cfg.pretrain, global_batch=1024)))
    one_line_error(bassl('pretrain', '--config', huge, tmp_path/'run', check=False),
                   f"anno.pretrain.ndjson: {len((root/'anno'/'anno.pretrain.ndjson').read_text().splitlines())} pre-training samples, "
                   "fewer than one batch of 1024: nothing would train")
    (tmp_path/'empty').mkdir()
    one_line_error(bassl('finetune', '--config', config, tmp_path/'empty', tmp_path/'run', check=False), f"{tmp_path/'empty'}: no features here")
    assert not (tmp_path/'run').exists()


def test_pickled_resume_file_is_refused(tiny_cfg, tmp_path):
    "A last.ckpt that needs pickled code: bassl's refusal and what to do, never torch's advice to load it with weights_only=False."
    import torch
    from bassl.runs import claim_folder
    from bassl.train.pretrain import pretrain_inputs
    config, cfg, _ = tiny_cfg
    claim_folder(tmp_path/'run', pretrain_inputs(cfg), ('checkpoints/*.ckpt',))  # bassl's own run folder: only the resume file is wrong
    ck = tmp_path/'run'/'checkpoints'/'last.ckpt'; ck.parent.mkdir(parents=True)
    torch.save({'state_dict': {}, 'payload': dataclass_payload()}, ck)
    r = bassl('pretrain', '--config', config, tmp_path/'run', check=False)
    one_line_error(r, f'{ck}: needs more than weights-only loading', 'delete it')
    assert 'weights_only=False' not in r.stderr + r.stdout


def dataclass_payload():
    "An object weights-only loading refuses: any pickled class."
    import fractions
    return fractions.Fraction(1, 3)


def test_full_disk_during_extraction(tiny_cfg, tmp_path):
    "A full disk: one line naming the store and what to do; the movies stored stay whole, no partial file, the rerun goes on."
    config, *_ = tiny_cfg
    store = tmp_path/'features'
    full = ("import errno, sys, numpy as np\nreal, n = np.save, []\n"
            "def save(f, a, *args, **kw):\n    n.append(1)\n    if len(n) > 1: f.write(b'partial'); raise OSError(errno.ENOSPC, 'No space left on device')\n"
            "    return real(f, a, *args, **kw)\nnp.save = save\nfrom bassl.cli import main\n"
            f"sys.exit(main(['extract', '--config', {str(config)!r}, {str(store)!r}, '--progress', 'none']))")
    r = subprocess.run([sys.executable, '-c', full], capture_output=True, text=True)
    one_line_error(r, f'{store}: no space left on the device to store', 'the 1 movie(s) this process stored are whole and kept')
    assert len(list(store.glob('*.npy'))) == 1 and not list(store.glob('.*.tmp'))
    r = bassl('extract', '--config', config, store, '--progress', 'none')
    assert r.stdout.strip().endswith('4 movies')


def test_worker_error_is_the_last_line(tiny_cfg, root, tmp_path):
    "With DataLoader workers, a damaged keyframe is the one line the user sees last, not buried in a traceback."
    from dataclasses import replace
    config, cfg, save = tiny_cfg
    copy = tmp_path/'movienet'; shutil.copytree(root, copy)
    bad = sorted((copy/'240P_frames').glob('*/shot_0002_img_1.jpg'))[0]
    bad.write_bytes(bad.read_bytes()[:40])
    workers = save('workers.json', replace(cfg, root=str(copy), pretrain=replace(cfg.pretrain, num_workers=2)))
    r = bassl('pretrain', '--config', workers, tmp_path/'run', '--progress', 'none', check=False)
    last = r.stderr.rstrip().splitlines()[-1]
    assert r.returncode == 1 and last.startswith('error: ') and str(bad.relative_to(copy)) in last, r.stderr[-3000:]
    assert 'Traceback' not in r.stderr, r.stderr[-3000:]
