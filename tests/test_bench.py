"The GPU readiness script stays runnable: its CPU dry run goes through the same code path."
import json
import os
import subprocess
import sys
from pathlib import Path

from bassl.study import summarize

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_bench_dry_run(tmp_path):
    "The dry run measures (i) the encoder, (ii) the whole step on synthetic batches, (iii) the whole step fed by the real loader, their ratio, and fine-tuning."
    r = subprocess.run([sys.executable, str(ROOT/'bench'/'gpu.py'), '--dry-run'], capture_output=True, text=True, timeout=600,
                       env={**os.environ, 'TMPDIR': str(tmp_path)})
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    def rate(prefix):   # images/s of the measurement line starting with `prefix`
        l = next((l for l in lines if l.startswith(prefix) and 'images/s' in l), None)
        assert l is not None, r.stdout
        return float(l.split(' images/s')[0].split()[-1].replace(',', ''))
    assert rate('(i) ') > 0 and rate('(ii) ') > 0 and rate('(iii) whole step, real loader (1 worker, CPU decode)') > 0
    assert rate('(iii) whole step, real loader (1 worker, decode in the step') > 0   # the GPU-decode path, decoding on the CPU
    ratio = next(l for l in lines if l.startswith('ratio (iii)/(i), CPU decode:'))
    assert float(ratio.split(':')[1].split()[0]) > 0, ratio
    assert 'windows/s' in r.stdout
    assert not any(tmp_path.glob('bassl-gpu-bench-*')), list(tmp_path.iterdir())   # its tiny root (a temporary folder) is removed afterwards


def test_objective_bench_dry_run():
    "The objective benchmark's quick run times all four ways to compute the losses and profiles the step."
    r = subprocess.run([sys.executable, str(ROOT/'bench'/'objective.py'), '--quick'], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    row = next(l for l in r.stdout.splitlines() if l.split()[:1] == ['4'])
    assert len(row.split()) == 8 and all(float(v) > 0 for v in row.split()[1:])   # 4 timings and 3 ratios
    assert r.stdout.count('%') >= 2 and 'matrix products' in r.stdout


def test_video_bench_dry_run(tmp_path):
    "The video benchmark's quick run measures detection (easy and hard videos, into a record), throughput and memory."
    r = subprocess.run([sys.executable, str(ROOT/'bench'/'video.py'), '--quick', '--detectors', 'adaptive,adaptive:flash=0',
                        '--out', str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = {tuple(l.split()[:2]): l.split()[2:] for l in r.stdout.splitlines() if l.split()[:1] == ['adaptive']}
    assert set(rows) == {('adaptive', 'easy'), ('adaptive', 'hard')}, rows  # P, R (hard cuts), gradual R, false, flash, frames/s
    assert all(len(v) == 6 and float(v[1]) <= 100 and int(v[5]) > 0 for v in rows.values()), rows
    assert float(rows['adaptive', 'easy'][1]) == 100.0, rows   # the default detector finds every hard cut of the easy movie
    rec = json.loads((tmp_path/'detectors.json').read_text())
    assert rec['quick'] and rec['machine']['cpu'] and set(rec['sets']) == {'easy', 'hard'}, rec
    hard = rec['detectors']['adaptive']['hard']
    assert hard['flashes'] > 0 and hard['flash_cuts'] == 0, hard                   # flashes are dropped ...
    assert rec['detectors']['adaptive:flash=0']['hard']['flash_cuts'] > 0, rec     # ... and cut without the filter
    assert '720p' in r.stdout and 'peak RSS' in r.stdout and '10-minute 720p' in r.stdout


def test_finetune_step_bench_quick():
    "The fine-tuning step benchmark checks that `CRN.pooled` gives the full pass's gradients, then times both ways."
    r = subprocess.run([sys.executable, str(ROOT/'bench'/'finetune_step.py'), '--quick'], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines[0].startswith('2 members, batch ') and 'gradients agree to' in lines[0]
    ms = [float(l.split(': ')[1].split(' ms')[0]) for l in lines if ' ms per step ' in l]
    assert len(ms) == 2 and all(v > 0 for v in ms)
    ratio = next(l for l in lines if l.startswith('CRN.pooled / all tokens:'))
    assert abs(float(ratio.split(':')[1]) - ms[1] / ms[0]) < 0.05, r.stdout  # (the times print rounded to the ms)


def test_finetune_seeds_bench_records_what_its_runs_scored(tiny_demo, tmp_path):
    "The seed-spread bench fine-tunes each row's stored features with every seed; its record holds what each run scored, and two at once score as one at a time."
    project, _ = tiny_demo
    def bench(out, jobs):
        r = subprocess.run([sys.executable, str(ROOT/'bench'/'finetune_seeds.py'), '--seeds', '2', '--rows', 'BaSSL, transferred CRN', 'random init',
                            '--recipes', 'quick=members:2,epochs:2', '--out', str(out), '--jobs', str(jobs)],
                           cwd=project, capture_output=True, text=True, timeout=900, env={**os.environ, 'OMP_NUM_THREADS': '1'})
        assert r.returncode == 0, r.stderr[-3000:]
        return r.stdout, json.loads((out/'finetune-seeds-quick.json').read_text())
    out1, one = bench(tmp_path/'one', 1)
    out2, two = bench(tmp_path/'two', 2)
    assert '4 fine-tunings, 2 at a time (1 thread(s) each)' in out2 and 'at a time' not in out1
    for rec in (one, two):
        assert [(c['row'], c['finetune_seed']) for c in rec['cells']] == [(r, s) for r in ('BaSSL, transferred CRN', 'random init') for s in (0, 1)]
        assert rec['recipe'] == {'members': 2, 'epochs': 2} and rec['cells_total'] == 4 and 0 < rec['chance'] < 100   # (a percentage, as AP is)
        for c in rec['cells']:   # every cell's scores are its run's, and the run fine-tuned as the recipe says
            run = Path(c['finetune_run'])
            assert c['scores'] == json.loads((run/'scores.json').read_text())
            ft = json.loads((run/'config.json').read_text())['finetune']
            assert (ft['members'], ft['epochs'], ft['crn_init']) == (2, 2, 'pretrain' if c['row'].startswith('BaSSL') else 'scratch')
        rows = {r['label']: r for r in summarize(rec)['rows']}
        for row in ('BaSSL, transferred CRN', 'random init'):   # the summary's mean and sd, by hand
            ap = [c['scores']['AP'] for c in rec['cells'] if c['row'] == row]
            assert abs(rows[row]['mean'] - sum(ap) / 2) < 1e-9 and abs(rows[row]['sd'] - abs(ap[0] - ap[1]) / 2 ** .5) < 1e-9
    assert [c['scores'] for c in one['cells']] == [c['scores'] for c in two['cells']]   # the workers' runs score as the serial ones
    _, again = bench(tmp_path/'one', 1)   # run again: every run is reused, with its scores and the time it took when it ran
    assert [(c['scores'], c['seconds']) for c in again['cells']] == [(c['scores'], c['seconds']) for c in one['cells']]
    for line, row in zip([l for l in out1.splitlines() if ' AP ' in l and 'fine-tuning' in l], ('BaSSL, transferred CRN', 'random init')):
        mean = next(r['mean'] for r in summarize(one)['rows'] if r['label'] == row)
        assert line.startswith(row) and f"AP {mean:5.1f}" in line
