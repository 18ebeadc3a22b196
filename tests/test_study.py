"`bassl study` and the study notebook end to end on a tiny grid: every cell in study.json, the table and the page, reuse, errors."
import ast
import dataclasses
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import papermill as pm
import pytest
import yaml

from bassl.runs import read_done, read_scores
from bassl.study import Study, load_study, results_records, run_study, summarize
from bassl.fixtures import SMALL_CRN, tiny_root

ROOT = Path(__file__).parent.parent
NB = ROOT/'nbs'/'experiments'/'study.ipynb'


@pytest.fixture(scope='module')
def grid(tmp_path_factory):
    "A tiny study file: SimCLR instance against a random encoder, one pre-training seed, two fine-tuning seeds, every stage in-process."
    d = tmp_path_factory.mktemp('study')
    root = tiny_root(d/'movienet', movies=4, shots=24, seed=0, width=64, height=48)
    small = {'pretrain': {'image_size': 32, 'global_batch': 8, 'num_workers': 0, 'crn': SMALL_CRN}, 'finetune': {'global_batch': 16, 'crn': SMALL_CRN}}
    study = {'name': 'tiny', 'root': str(root), 'synth': False, 'baseline': 'random init', 'finetune_seeds': [0, 1],
             'rows': [{'label': 'SimCLR instance', 'method': 'instance'}, {'label': 'random init', 'encoder': 'random'}],
             'max_steps': 2, 'finetune_epochs': 1, 'launcher': 'kernel', 'config': small}
    f = d/'tiny.yaml'
    f.write_text(yaml.safe_dump(study))
    return d, f


def bassl(*args, cache):
    return subprocess.run([sys.executable, '-m', 'bassl.cli', *map(str, args)], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, 'XDG_CACHE_HOME': str(cache)})


def made(d, f):
    "The tiny study's folder, its cells made one at a time (by the command's test, or here when a test runs alone)."
    folder = d/'runs'/'tiny'
    if not (folder/'study.json').exists():
        with pytest.MonkeyPatch.context() as m:
            m.setenv('XDG_CACHE_HOME', str(d/'cache'))
            run_study(dataclasses.replace(load_study(f), runs=str(d/'runs')), progress=False, reps=0)
    return folder


def test_bassl_study_runs_every_cell_and_prints_the_table(grid):
    d, f = grid
    r = bassl('study', f, '--runs', d/'runs', '--quiet', '--reps', 0, cache=d/'cache')
    assert r.returncode == 0, r.stderr[-3000:]
    folder = d/'runs'/'tiny'
    rec = json.loads((folder/'study.json').read_text())
    assert rec['cells_total'] == len(rec['cells']) == 4 and rec['study']['rows'][0]['label'] == 'SimCLR instance'
    assert [(c['row'], c['finetune_seed']) for c in rec['cells']] == [('SimCLR instance', 0), ('SimCLR instance', 1), ('random init', 0), ('random init', 1)]
    for c in rec['cells']: assert c['scores'] == read_scores(d/'runs'/c['finetune_run']/'finetune')
    assert rec['cells'][0]['budget']['steps'] == 2 and rec['cells'][2]['budget']['steps'] == 0
    assert set(rec['machine']) >= {'yardstick_s', 'cpu', 'threads', 'torch'}
    out = r.stdout
    at = [out.find(f'cell {i}/4: ') for i in range(1, 5)]
    assert -1 not in at and at == sorted(at), out  # a line per cell, in order
    sm = summarize(folder)
    assert sm['differences'][0]['verdict'] in out and f"| SimCLR instance | {sm['rows'][0]['mean']:.2f} ± {sm['rows'][0]['sd']:.2f} |" in out
    assert f"study.json: {folder/'study.json'}" in out and f"study.html: {folder/'study.html'}" in out
    assert 'plotly.js v' in (folder/'study.html').read_text()


def test_study_notebook_reuses_every_cell(grid):
    d, f = grid
    folder = made(d, f)
    ids = {p: read_done(p.parent)['id'] for p in folder.rglob('done.json')}
    before = json.loads((folder/'study.json').read_text())
    out = d/'study.ipynb'
    pm.execute_notebook(str(NB), str(out), parameters={'study': str(f), 'runs': str(d/'runs'), 'reps': 0}, progress_bar=False, cwd=str(ROOT))
    assert {p: read_done(p.parent)['id'] for p in folder.rglob('done.json')} == ids and len(ids) == 1 + 2 + 4  # nothing re-run
    after = json.loads((folder/'study.json').read_text())
    assert after['cells'] == before['cells']
    text = ''.join(''.join(o.get('text', '')) for c in json.loads(out.read_text())['cells'] for o in c.get('outputs', []))
    assert text.count('reusing') == 8 and summarize(after)['differences'][0]['verdict'] in text and 'study.html: ' in text


def test_fine_tunings_at_once_reuse_the_features_and_score_as_one_at_a_time(grid):
    "`bassl study --jobs 2` on a copy of the tiny study without its fine-tunings: the same cells, two processes at a time."
    d, f = grid
    folder = made(d, f)
    serial = json.loads((folder/'study.json').read_text())
    par = d/'runs-par'
    shutil.copytree(d/'runs', par)
    for p in (par/'tiny').rglob('finetune'): shutil.rmtree(p)
    (par/'tiny'/'study.json').unlink()
    features = {p: read_done(p.parent)['id'] for p in (par/'tiny').rglob('done.json')}
    r = bassl('study', f, '--runs', par, '--quiet', '--reps', 0, '--jobs', 2, cache=d/'cache')
    assert r.returncode == 0, r.stderr[-3000:]
    rec = json.loads((par/'tiny'/'study.json').read_text())
    assert rec['jobs'] == 2 and rec['wall_seconds'] > 0 and len(rec['cells']) == 4
    assert [(c['row'], c['finetune_seed']) for c in rec['cells']] == [(c['row'], c['finetune_seed']) for c in serial['cells']]
    for a, b in zip(rec['cells'], serial['cells']):  # one thread each instead of the machine's: rounding, no more
        assert abs(a['scores']['AP'] - b['scores']['AP']) < 1e-3 and a['budget'] == b['budget'], (a, b)
    assert {p: read_done(p.parent)['id'] for p in features} == features  # pre-training and features reused
    for c in rec['cells']:  # each fine-tuning a process of its own, its output in its stage.log only
        log = (par/c['finetune_run']/'finetune'/'stage.log').read_text()
        assert log.rstrip().endswith(f"scores: {par/c['finetune_run']/'finetune'/'scores.json'}") and 'train epoch' in log, log
    assert 'train epoch' not in r.stdout and 'scores: ' not in r.stdout, r.stdout
    assert re.search(r'4 fine-tunings, 2 at a time \(\d+ thread\(s\) each\)', r.stdout), r.stdout
    assert sorted(re.findall(r'(\d)/4 done \(', r.stdout)) == ['1', '2', '3', '4'], r.stdout


def test_a_bad_study_file_is_one_error_line(tmp_path):
    f = tmp_path/'bad.yaml'
    f.write_text("rows: [{label: a}]\nbaseline: b\n")
    r = bassl('study', f, '--runs', tmp_path/'runs', cache=tmp_path/'cache')
    assert (r.returncode, r.stderr) == (1, f"error: {f}: baseline: unknown row 'b', expected one of ['a']\n")
    assert not (tmp_path/'runs').exists()


def test_study_notebook_parameters():
    "The parameters cell: a study file ('' the default study), its runs folder (Study's default), overrides, the yardstick's repetitions (run_study's)."
    [cell] = [c for c in json.loads(NB.read_text())['cells'] if 'parameters' in c['metadata'].get('tags', [])]
    body = ast.parse(''.join(cell['source'])).body
    params = {s.targets[0].id: ast.literal_eval(s.value) for s in body}
    assert params == {'study': '', 'runs': Study().runs, 'overrides': {}, 'reps': inspect.signature(run_study).parameters['reps'].default}
    demo = yaml.safe_load((ROOT/'configs'/'study-demo.yaml').read_text())
    assert set(Study().declaration()) >= set(demo) and {r['label'] for r in demo['rows']} == {r.label for r in Study().rows}


def test_cpu_auto_crn_follows_the_records():
    "The CPU preset's crn='auto' starts a fresh CRN: over every committed record a fresh CRN beat BaSSL's transferred one on average, paired by seed, and in none was it behind beyond its 95 % interval."
    from bassl.config import AUTO_CRN, preset
    from bassl.study import mean_interval
    rows = ('BaSSL, transferred CRN', 'BaSSL, fresh CRN')
    every = []
    for path in results_records():
        cells = json.loads(path.read_text())['cells']
        ap = {(c['row'], c['pretrain_seed'], c['finetune_seed']): c['scores']['AP'] for c in cells if c['row'] in rows}
        diffs = [ap[rows[1], p, f] - ap[rows[0], p, f] for row, p, f in ap if row == rows[1] and (rows[0], p, f) in ap]
        if len(diffs) > 1: assert mean_interval(diffs)['ci'][1] > 0, (path.name, diffs)  # fresh never behind beyond its interval
        every += diffs
    assert len(every) >= 10 and sum(every) / len(every) > 0, every  # ahead on average over every paired seed
    assert AUTO_CRN['cpu'] == 'scratch' and preset('bassl', 'cpu').finetune.crn_init == 'scratch'
    assert AUTO_CRN['paper'] == 'pretrain' and preset('bassl').finetune.crn_init == 'pretrain'  # the paper's transfer (its Table 5)
