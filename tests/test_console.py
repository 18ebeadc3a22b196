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

BASSL = Path(sys.executable).parent/'bassl'


def bassl(*args, check=True):
    r = subprocess.run([str(BASSL), *map(str, args)], capture_output=True, text=True)
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
    assert listed == ['synth', 'check', 'build-anno', 'pretrain', 'extract', 'finetune', 'demo'] == list(COMMANDS), out


def _help(cmd):
    r = subprocess.run([str(BASSL), cmd, '--help'], capture_output=True, text=True, env={**os.environ, 'COLUMNS': '1000'})
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize('cmd', ['synth', 'check', 'build-anno', 'pretrain', 'extract', 'finetune', 'demo'])
def test_command_help_is_the_functions(cmd):
    "Each option's help is its function's docment and default, whichever module that function lives in."
    from fastcore.docments import docments
    from bassl.cli import COMMANDS
    out = _help(cmd)
    f = COMMANDS[cmd]
    docs = docments(f, full=True, returns=False)
    assert f.__doc__ in out
    for k, d in docs.items():
        opt = f"--{k.replace('_', '-')}"
        if d.default is inspect.Parameter.empty: assert re.search(rf'^  {k}\s+{re.escape(d.docment)}$', out, re.M), (k, out)
        elif d.default is False: assert re.search(rf'^  {opt}\s+{re.escape(d.docment)}$', out, re.M), (k, out)
        elif d.docment and d.default is not None:
            assert re.search(rf'^  {opt}( [A-Z_]+)?\s+{re.escape(d.docment)} \(default: {re.escape(str(d.default))}\)$', out, re.M) \
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


def test_demo_runs_main_job(tmp_path):
    r = bassl('demo', tmp_path/'synthetic', '--movies', 6, '--shots', 40, '--size', '64x48', '--quiet', '--runs', tmp_path/'runs')
    assert 'is a valid MovieNet-SSeg root' in r.stdout
    header = next(l for l in r.stdout.splitlines() if l.split()[:1] == ['BaSSL'])  # the score table's
    assert header.split() == ['BaSSL', 'BaSSL,', 'fresh', 'CRN', 'SimCLR', 'instance', 'random', 'init']
    runs = tmp_path/'runs'
    for run in (runs, runs/'fresh-crn', runs/'instance', runs/'random'):
        scores = json.loads((run/'finetune'/'scores.json').read_text())
        assert all(0 <= v <= 100 for v in scores.values())
        assert json.loads((run/'finetune'/'done.json').read_text())['outputs']['scores'] == scores
    record = lambda run: json.loads((run/'finetune'/'done.json').read_text())['record']
    assert record(runs)['crn'] == "pre-trained with the features' encoder" and record(runs)['finetune']['crn_init'] == 'pretrain'
    for run in (runs/'fresh-crn', runs/'instance', runs/'random'): assert record(run)['crn'] == 'scratch', run
    assert record(runs/'fresh-crn')['input'] == record(runs)['input']  # the encoder-only ablation reads BaSSL's own features
    assert (runs/'pretrain'/'checkpoints'/'last.ckpt').exists() and (runs/'instance'/'pretrain'/'checkpoints'/'last.ckpt').exists()
    assert not (runs/'random'/'pretrain').exists() and not (runs/'fresh-crn'/'pretrain').exists() and not (runs/'fresh-crn'/'features').exists()
    assert re.search(r'^AP .*\(chance \d+\.\d\d: the share of test shots that end a scene\)$', r.stdout, re.M), r.stdout
    assert f"run folder: {runs}" in r.stdout
    assert r.stdout.rstrip().splitlines()[-3:][0].strip().startswith('make lab')  # it ends saying what to do next
    assert 'Epoch 0' not in r.stdout + r.stderr  # --quiet: no progress bars
    again = bassl('demo', tmp_path/'synthetic', '--movies', 6, '--shots', 40, '--size', '64x48', '--quiet', '--runs', runs)
    assert again.stdout.count('reusing') == 4  # every fine-tuning stage finished before (and so did what they read)
    table = lambda out: out[out.index(header):]
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
