"Lightning DDP on CPU (2 processes, gloo): distributed evaluation gives the 1-process numbers."
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bassl.data.synthetic import SynthConfig, synthesize

HERE = Path(__file__).parent


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp('ddp')/'movienet'
    # 7 test-split shots per process would leave padding: an odd shot count exercises the deduplication
    synthesize(d, SynthConfig(movies=5, shots=23, seed=1, width=64, height=48), workers=1, progress=False)
    return d


def run(script, *args, timeout=600):
    r = subprocess.run([sys.executable, str(HERE/'scripts'/script), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]


def test_knn_precision_two_processes_equals_one(root, tmp_path):
    for n in (1, 2): run('ddp_knn.py', root, n, tmp_path/f'knn{n}.json')
    one, two = (json.loads((tmp_path/f'knn{n}.json').read_text()) for n in (1, 2))
    assert (one.pop('world_size'), two.pop('world_size')) == (1, 2)
    assert set(one) == {f'knn/P@{k}' for k in (1, 5, 10, 15, 20)}
    assert one['knn/P@1'] > 0
    for k in one: assert two[k] == pytest.approx(one[k], abs=1e-4), k
