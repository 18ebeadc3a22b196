"What more than one test file uses: a tiny `bassl demo`, made once per session (it takes about 40 s on 2 cores)."
import os
import subprocess
import sys
from pathlib import Path

import pytest

# the demo at a size the tests afford: 6 movies of 40 shots at 64x48, two fine-tuning seeds
DEMO = ['demo', 'data/synthetic', '--movies', '6', '--shots', '40', '--size', '64x48', '--seeds', '2', '--quiet']


@pytest.fixture(scope='session')
def tiny_demo(tmp_path_factory):
    "A bassl project (`settings.ini`, `nbs/`) where `bassl demo` ran tiny: `(project folder, the demo's CompletedProcess)`."
    d = tmp_path_factory.mktemp('project')
    (d/'settings.ini').write_text('[DEFAULT]\nlib_name = bassl\n')
    (d/'nbs').mkdir()
    r = subprocess.run([str(Path(sys.executable).parent/'bassl'), *DEMO], cwd=d, capture_output=True, text=True,
                       env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, f"bassl {' '.join(DEMO)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return d, r
