"The GPU readiness script stays runnable: its CPU dry run goes through the same code path."
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_bench_dry_run():
    r = subprocess.run([sys.executable, str(ROOT/'bench'/'gpu.py'), '--dry-run'], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'images/s' in r.stdout and 'windows/s' in r.stdout
