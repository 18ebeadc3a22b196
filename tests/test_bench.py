"The GPU readiness script stays runnable: its CPU dry run goes through the same code path."
import json
import os
import subprocess
import sys
from pathlib import Path

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
