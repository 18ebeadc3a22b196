"The papermill experiment notebooks end to end: tiny runs, run folders, reuse, failures, 2 CPU processes, the paper's parameter files."
import ast
import csv
import dataclasses
import inspect
import json
import subprocess
import sys
from pathlib import Path

import papermill as pm
import pytest
import yaml

from bassl.experiments import STAGES, RunSpec, boundary_rate, get_stage, read_done, run_stage
from bassl.methods import TASKS
from bassl.runs import STAGE_FOLDERS
from bassl.fixtures import SMALL_CRN, tiny_root

ROOT = Path(__file__).parent.parent
NBS = ROOT/'nbs'/'experiments'
CONFIGS = sorted(c for c in (ROOT/'configs').glob('*.yaml') if not c.stem.startswith('study'))  # study-*.yaml: studies (bassl.study), not runs
SCORES = {'AP', 'mAP', 'AUC', 'F1', 'acc_boundary', 'acc_no_boundary', 'Recall', 'Recall@3s', 'mIoU'}


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return tiny_root(tmp_path_factory.mktemp('exp')/'movienet', movies=5, shots=30, seed=4, width=64, height=48)


def tiny(data, runs, **kw):
    "Parameters of a run that takes seconds: tiny images, CRN and batches, 3 pre-training steps, 1 fine-tuning epoch."
    config = {'pretrain': {'image_size': 32, 'global_batch': 8, 'num_workers': 0, 'checkpoint_every': 2, 'crn': SMALL_CRN},
              'finetune': {'global_batch': 16, 'crn': SMALL_CRN}}
    return {'name': 'tiny', 'runs': str(runs), 'root': str(data), 'synth': False, 'max_steps': 3, 'finetune_epochs': 1,
            'config': config, **kw}


def execute(nb, out, params):
    Path(out).parent.mkdir(parents=True, exist_ok=True)  # papermill writes into an existing folder
    return pm.execute_notebook(str(NBS/f'{nb}.ipynb'), str(out), parameters=params, progress_bar=False, cwd=str(ROOT))


def printed(nb_path) -> str:
    "What an executed notebook shows as text: its printed streams and the plain-text displays."
    nb = json.loads(Path(nb_path).read_text())
    return ''.join(''.join(o.get('text', '') or o.get('data', {}).get('text/plain', '')) for c in nb['cells'] for o in c.get('outputs', []))


def figures(nb_path) -> list[dict]:
    "The plotly figures an executed notebook displays, as plotly JSON."
    nb = json.loads(Path(nb_path).read_text())
    return [o['data']['application/vnd.plotly.v1+json'] for c in nb['cells'] for o in c.get('outputs', [])
            if 'application/vnd.plotly.v1+json' in o.get('data', {})]


def csv_columns(stage_dir) -> dict[str, tuple[list, list]]:
    "Each logged metric of a stage's (single) CSV log: its steps and values, where it has one."
    [f] = (Path(stage_dir)/'logs').glob('version_*/metrics.csv')
    rows = list(csv.DictReader(open(f)))
    return {k: ([int(r['step']) for r in rows if r[k]], [float(r[k]) for r in rows if r[k]]) for k in rows[0] if '/' in k}


def parameters_cell(nb) -> dict:
    "The values of an experiment notebook's `parameters` cell, which must be plain literal assignments (papermill's)."
    cells = [c for c in json.loads((NBS/f'{nb}.ipynb').read_text())['cells'] if 'parameters' in c['metadata'].get('tags', [])]
    assert len(cells) == 1, nb
    body = ast.parse(''.join(cells[0]['source'])).body
    assert all(isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) for s in body), nb
    return {s.targets[0].id: ast.literal_eval(s.value) for s in body}


@pytest.mark.parametrize('nb', ['pretrain', 'extract', 'finetune', 'pipeline'])
def test_notebook_defaults_are_runspec_defaults(nb):
    "One source of defaults: each parameters cell spells RunSpec's defaults (and run_stage's), so both describe run 'quick' alike."
    spec = {f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default for f in dataclasses.fields(RunSpec)}
    stage = {k: p.default for k, p in inspect.signature(run_stage).parameters.items() if k in ('upstream', 'dry_run')}
    extra = {'baseline': False, 'notebooks': ''} if nb == 'pipeline' else {}
    params = parameters_cell(nb)
    assert params == {**spec, **stage, **extra}
    assert (params['max_steps'], params['finetune_epochs']) == (20, 5)  # the quick run the notebooks and README describe
    assert RunSpec.from_params(params) == RunSpec()  # a notebook's run and run_stage(RunSpec(), ...) are the same run


def test_the_stage_table_is_the_one_place_stages_are_defined(tmp_path, monkeypatch):
    "Folders, upstreams, commands and records come from STAGES: a stage outside it is refused, one added to it runs."
    names = list(STAGES)
    assert names == ['pretrain', 'extract', 'finetune']
    assert all(s.upstream is None or s.upstream in names[:i] for i, s in enumerate(STAGES.values()))  # upstream: an earlier stage
    assert len({s.folder for s in STAGES.values()}) == len(STAGES) and set(STAGE_FOLDERS) == set(STAGES)
    for stage in ('train', 'features'):  # a folder name is not a stage either
        with pytest.raises(ValueError, match=rf"unknown stage '{stage}', expected one of \('pretrain', 'extract', 'finetune'\)"):
            run_stage(RunSpec(runs=str(tmp_path/'runs')), stage)
    assert not (tmp_path/'runs').exists()
    # a fourth stage is one row (and its folder in bassl.runs): stage_dir, records, commands and upstream checks follow
    monkeypatch.setitem(STAGE_FOLDERS, 'evaluate', 'evaluation')
    monkeypatch.setitem(STAGES, 'evaluate', dataclasses.replace(get_stage('finetune'), name='evaluate', command='evaluate', upstream='finetune'))
    spec = RunSpec(name='b', runs=str(tmp_path/'runs'))
    dry = run_stage(spec, 'evaluate', dry_run=True)
    assert dry['record']['stage'] == 'evaluate' and dry['record']['crn'] == 'scratch'  # the CPU size's 'auto': a fresh CRN
    run = tmp_path/'runs'/'b'
    assert dry['command'][3:] == ['evaluate', '--config', str(run/'evaluation'/'config.json'), '--progress', 'lines',
                                  '--quiet', str(run/'features'), str(run/'evaluation')]
    with pytest.raises(Exception, match=r"finetune: no finished finetune stage: run it first \(or pass upstream='run'\)"):
        run_stage(spec, 'evaluate', upstream='fail')
    assert not run.exists()


def test_pipeline_runs_every_stage_and_the_random_baseline(data, tmp_path):
    """README's command line (papermill --log-output): the stages' progress reaches the terminal as it comes, one score table, a
    clean end. Then what each stage notebook it ran left (records, outputs, curves), their reuse, refusal and overwrite."""
    runs = tmp_path/'runs'; run = runs/'pipe'
    run.mkdir(parents=True)
    r = subprocess.run([sys.executable, '-m', 'papermill', str(NBS/'pipeline.ipynb'), str(run/'pipeline.ipynb'), '--log-output', '--cwd', str(ROOT),
                        '-y', json.dumps(tiny(data, runs, name='pipe', baseline=True))], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    for stage in STAGES: assert (run/f'{stage}.ipynb').exists(), stage
    for stage in ('extract', 'finetune'): assert (run/'random'/f'{stage}.ipynb').exists(), stage
    assert read_done(run/'random'/'features')['record']['encoder'] == 'random'
    assert read_done(run/'features')['record']['input'] == read_done(run/'pretrain')['id']
    # the terminal: every stage's progress lines, in run order, and the table; no KeyboardInterrupt when the kernels shut down
    term = r.stdout + r.stderr
    assert 'KeyboardInterrupt' not in term and 'Traceback' not in term
    marks = ['== pipe: pretrain in', 'train epoch 1/2 · step 3/3', '== pipe: extract in', 'extracting · movie', '== pipe: finetune in',
             'train epoch 1/1 · step', '== pipe/random: extract in', '== pipe/random: finetune in', 'random init']
    at = [term.find(m) for m in marks]
    assert -1 not in at and at == sorted(at), dict(zip(marks, at))
    # one table, both runs side by side, with the chance level beside AP
    out = printed(run/'pipeline.ipynb')
    chance = f"(chance {boundary_rate(data):.2f}: the share of test shots that end a scene)"
    assert out.count(chance) == 1 and term.count(chance) == 1
    table = out[out.index('random init'):].splitlines()
    ap = table[1].split()
    assert ap[0] == 'AP' and ' '.join(ap[3:]) == chance and all(0 <= float(v) <= 100 for v in ap[1:3])
    assert ap[1] == f"{read_done(run/'finetune')['outputs']['scores']['AP']:.2f}"
    assert f'run folder: {run}' in out
    [fig] = figures(run/'pipeline.ipynb')  # pre-training's curves
    assert {t['name']: (t['x'], t['y']) for t in fig['data']} == csv_columns(run/'pretrain')
    # each stage notebook the pipeline ran: a complete stage folder, its outputs and curves
    for stage, st in STAGES.items():
        d = run/st.folder
        assert {'config.json', 'started.json', 'done.json', 'stage.log'} <= {p.name for p in d.iterdir()}, stage
        assert read_done(d)['record']['stage'] == stage
    assert (run/'pretrain'/'checkpoints'/'last.ckpt').exists() and list((run/'pretrain'/'logs').glob('version_*/metrics.csv'))
    assert 'train epoch 1/' in printed(run/'pretrain.ipynb') and 'step 3/3' in printed(run/'pretrain.ipynb')
    index = json.loads((run/'features'/'index.json').read_text())
    assert len(index) == 4 and all(shape[1] == 512 for shape in index.values())  # the labelled movies, resnet18 features
    scores = json.loads((run/'finetune'/'scores.json').read_text())
    assert set(scores) == SCORES and all(0 <= v <= 100 for v in scores.values())
    rows = list(csv.DictReader(open(run/'finetune'/'predictions.csv')))
    assert rows and set(rows[0]) == {'movie', 'shot', 'probability', 'label'}
    assert all(0 <= float(r['probability']) <= 1 and r['label'] in ('0', '1') for r in rows)
    assert f"{scores['AP']:.2f}  {chance}" in printed(run/'finetune.ipynb') and 'predictions.csv' in printed(run/'finetune.ipynb')
    # each training stage shows its curves, read from its CSV log, and saves them as a page that opens offline
    for stage in ('pretrain', 'finetune'):
        [fig] = figures(run/f'{stage}.ipynb')
        assert {t['name']: (t['x'], t['y']) for t in fig['data']} == csv_columns(run/stage), stage
        page = (run/stage/'curves.html').read_text()
        assert '<script src=' not in page and 'plotly.js v' in page, stage  # plotly.js inlined
        assert f"training curves: {run/stage/'curves.html'}" in printed(run/f'{stage}.ipynb')
    assert set(csv_columns(run/'pretrain')) == {'train/loss', 'train/ssm', 'train/cgm', 'train/pp', 'train/msm'}
    # the same parameters again: every stage is reused, nothing re-trained
    before = (run/'finetune'/'done.json').read_text()
    execute('finetune', tmp_path/'again.ipynb', tiny(data, runs, name='pipe'))
    assert 'reusing' in printed(tmp_path/'again.ipynb') and (run/'finetune'/'done.json').read_text() == before
    # a changed parameter is refused, naming the field; overwrite redoes the stage
    with pytest.raises(pm.PapermillExecutionError, match='max_steps: 3 there, 4 now'):
        execute('pretrain', tmp_path/'changed.ipynb', tiny(data, runs, name='pipe', max_steps=4))
    execute('pretrain', tmp_path/'over.ipynb', tiny(data, runs, name='pipe', max_steps=4, overwrite=True))
    assert read_done(run/'pretrain')['record']['max_steps'] == 4


def test_a_failing_stage_fails_papermill(data, tmp_path):
    params = tiny(data, tmp_path/'runs', encoder='random')
    params['config']['finetune']['global_batch'] = 4096  # more than the training shots: the stage refuses to train nothing
    r = subprocess.run([sys.executable, '-m', 'papermill', str(NBS/'finetune.ipynb'), str(tmp_path/'out.ipynb'), '--cwd', str(ROOT),
                        '-y', json.dumps(params)], capture_output=True, text=True, timeout=600)
    assert r.returncode != 0
    assert 'failed with exit status 1' in r.stdout + r.stderr
    assert 'fewer than one batch of 4096' in (tmp_path/'runs'/'tiny'/'finetune'/'stage.log').read_text()
    assert not (tmp_path/'runs'/'tiny'/'finetune'/'done.json').exists()


@pytest.mark.parametrize('nb', ['pretrain', 'study'])
def test_a_misspelt_parameter_is_refused(tmp_path, nb):
    "`papermill -p epocs 3`: papermill only warns; the notebook refuses the name, with the closest one, before any work."
    r = subprocess.run([sys.executable, '-m', 'papermill', str(NBS/f'{nb}.ipynb'), str(tmp_path/'out.ipynb'), '--cwd', str(ROOT),
                        '-p', 'runs', str(tmp_path/'runs'), '-p', 'epocs', '3', '-p', 'dry_run', 'True'] if nb == 'pretrain' else
                       [sys.executable, '-m', 'papermill', str(NBS/f'{nb}.ipynb'), str(tmp_path/'out.ipynb'), '--cwd', str(ROOT),
                        '-p', 'study', str(tmp_path/'nothing.yaml'), '-p', 'rep', '2'],
                       capture_output=True, text=True, timeout=600)
    want = "unknown parameter 'epocs' (did you mean 'epochs'?)" if nb == 'pretrain' else "unknown parameter 'rep' (did you mean 'reps'?)"
    assert r.returncode != 0 and want in r.stdout + r.stderr, r.stdout + r.stderr
    assert not (tmp_path/'runs').exists()


def test_two_cpu_processes_from_the_notebook(data, tmp_path):
    runs = tmp_path/'runs'; run = runs/'tiny'
    for stage in STAGES: execute(stage, run/f'{stage}.ipynb', tiny(data, runs, devices=2))
    log = (run/'pretrain'/'stage.log').read_text()
    assert 'torch.distributed.run' in printed(run/'pretrain.ipynb')
    assert 'MEMBER: 2/2' in log  # Lightning's DDP saw both processes
    assert torch_step(run/'pretrain'/'checkpoints'/'last.ckpt') == 3
    assert len(json.loads((run/'features'/'index.json').read_text())) == 4  # both extraction shards in the index
    assert set(json.loads((run/'finetune'/'scores.json').read_text())) == SCORES


def test_two_processes_inside_the_kernel(data, tmp_path):
    "launcher='kernel' for a quick interactive run: Lightning's fork-based ddp_notebook in the notebook's own kernel."
    run = tmp_path/'runs'/'tiny'
    execute('pretrain', run/'pretrain.ipynb', tiny(data, tmp_path/'runs', devices=2, launcher='kernel'))
    out = printed(run/'pretrain.ipynb')
    assert 'MEMBER: 1/2' in out and 'MEMBER: 2/2' in out and 'bassl.cli' not in out  # two processes, no subprocess launched
    assert torch_step(run/'pretrain'/'checkpoints'/'last.ckpt') == 3 and read_done(run/'pretrain')


def torch_step(path):
    import torch
    return torch.load(path, map_location='cpu', weights_only=False)['global_step']


@pytest.mark.parametrize('config', CONFIGS, ids=[c.stem for c in CONFIGS])
def test_paper_parameter_files(config, tmp_path):
    params = yaml.safe_load(config.read_text())
    spec = RunSpec(**params)
    e = spec.experiment()
    assert (e.name, e.root, spec.max_steps, spec.synth) == (config.stem, 'data/movienet', -1, False)
    assert e.pretrain.encoder == 'resnet50' and e.finetune.epochs == 20 and e.finetune.global_batch == 1024
    shot_level = e.pretrain.method in ('instance', 'temporal', 'shotcol')
    assert e.transfers_crn == (not shot_level)  # the paper's transfer: BaSSL fine-tunes its pre-trained CRN
    assert e.finetune.base_lr == (2.5e-6 if e.transfers_crn else 2.5e-5)  # 10x lower for a transferred CRN
    if spec.encoder == 'pretrain':
        assert (e.devices, e.per_device_batch('pretrain'), e.lr('pretrain'), e.pretrain.precision) == (8, 32, 0.3, '16-mixed')
        assert e.pretrain.epochs == (40 if '40ep' in config.stem else 10)
    if config.stem.startswith('bassl-no-'):
        off = config.stem.removeprefix('bassl-no-')
        assert [t for t in TASKS if t not in e.pretrain.tasks] == [off]
    for nb in ('pretrain', 'extract', 'finetune', 'pipeline'):  # papermill injects the file into every notebook
        out = tmp_path/f'{nb}.ipynb'
        pm.execute_notebook(str(NBS/f'{nb}.ipynb'), str(out), parameters=params, prepare_only=True)
        cells = json.loads(out.read_text())['cells']
        injected = [c for c in cells if 'injected-parameters' in c['metadata'].get('tags', [])]
        assert len(injected) == 1 and f"name = \"{config.stem}\"" in ''.join(injected[0]['source'])


def test_dry_run_of_a_paper_run_on_two_nodes(tmp_path):
    params = {**yaml.safe_load((ROOT/'configs'/'bassl.yaml').read_text()), 'dry_run': True, 'runs': str(tmp_path/'runs'), 'num_nodes': 2}
    out = tmp_path/'pretrain.ipynb'
    pm.execute_notebook(str(NBS/'pretrain.ipynb'), str(out), parameters=params, progress_bar=False, cwd=str(ROOT))
    text = printed(out)
    assert 'global batch 256 (16 per device)' in text  # 2 nodes x 8 GPUs
    for rank in (0, 1):  # outside SLURM: what to start on each node
        assert f'node {rank}: torchrun --nnodes 2 --node_rank {rank} --nproc_per_node 8' in text
    assert '-m bassl.cli pretrain --config' in text
    assert not (tmp_path/'runs').exists()  # nothing launched, nothing written
