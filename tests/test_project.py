"Project wiring that notebooks cannot check on themselves: nbdev settings, cleaning, test flags."
import json
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def settings():
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
    return cfg['DEFAULT']


def test_test_flags_declared():
    assert set(settings()['tst_flags'].split()) == {'slow', 'cuda', 'multigpu'}


def test_nbdev_clean_keeps_papermill_parameters_tag(tmp_path):
    nb = {'cells': [{'cell_type': 'code', 'execution_count': 7, 'id': 'abc', 'outputs': [],
                     'metadata': {'tags': ['parameters'], 'scrolled': True}, 'source': ['epochs = 1']}],
          'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    # inside the project, so that nbdev reads its settings.ini
    path = ROOT/'nbs'/'_tmp_clean_check.ipynb'
    try:
        path.write_text(json.dumps(nb))
        subprocess.run([str(BIN/'nbdev_clean'), '--fname', str(path)], cwd=ROOT, check=True, capture_output=True)
        cell = json.loads(path.read_text())['cells'][0]
    finally:
        path.unlink(missing_ok=True)
    assert cell['metadata'] == {'tags': ['parameters']}  # the tag stays, other cell metadata goes
    assert cell['execution_count'] is None


def test_slow_cells_skipped_unless_asked(tmp_path):
    nb = {'cells': [{'cell_type': 'code', 'execution_count': None, 'metadata': {}, 'outputs': [],
                     'source': ['#| slow\n', 'raise RuntimeError("slow cell ran")']}],
          'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    path = ROOT/'nbs'/'_tmp_flag_check.ipynb'  # nbdev skips files starting with '_' only when globbing
    try:
        path.write_text(json.dumps(nb))
        default = subprocess.run([str(BIN/'nbdev_test'), '--path', str(path)], cwd=ROOT, capture_output=True, text=True)
        forced = subprocess.run([str(BIN/'nbdev_test'), '--path', str(path), '--flags', 'slow'], cwd=ROOT, capture_output=True, text=True)
    finally:
        path.unlink(missing_ok=True)
    assert default.returncode == 0, default.stderr
    assert forced.returncode != 0 and 'slow cell ran' in forced.stderr + forced.stdout
