"The GPU readiness script stays runnable: its CPU dry run goes through the same code path."
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_bench_dry_run():
    r = subprocess.run([sys.executable, str(ROOT/'bench'/'gpu.py'), '--dry-run'], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'images/s' in r.stdout and 'windows/s' in r.stdout


def test_objective_bench_dry_run():
    "The objective benchmark's quick run times all four ways to compute the losses and profiles the step."
    r = subprocess.run([sys.executable, str(ROOT/'bench'/'objective.py'), '--quick'], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    row = next(l for l in r.stdout.splitlines() if l.split()[:1] == ['4'])
    assert len(row.split()) == 8 and all(float(v) > 0 for v in row.split()[1:])   # 4 timings and 3 ratios
    assert r.stdout.count('%') >= 2 and 'matrix products' in r.stdout
