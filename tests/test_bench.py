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


def test_video_bench_dry_run(tmp_path):
    "The video benchmark's quick run measures detection, throughput and memory on rendered videos (into a temporary folder)."
    r = subprocess.run([sys.executable, str(ROOT/'bench'/'video.py'), '--quick', '--detectors', 'adaptive', '--out', str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    row = next(l.split() for l in r.stdout.splitlines() if l.split()[:1] == ['adaptive'])
    assert len(row) >= 6 and all(0 <= float(v) <= 100 for v in row[1:5]) and float(row[5]) > 0, row   # P, R (hard, gradual), frames/s
    assert float(row[2]) == 100.0, row          # the default detector finds every hard cut of the rendered movie
    assert '720p' in r.stdout and 'peak RSS' in r.stdout and '10-minute 720p' in r.stdout
