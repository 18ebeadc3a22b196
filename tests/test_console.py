"The installed `bassl` console command, end to end in subprocesses (what a notebook cannot show)."
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BASSL = Path(sys.executable).parent/'bassl'


def bassl(*args, check=True):
    r = subprocess.run([str(BASSL), *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0: raise AssertionError(f"bassl {args} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp('data')/'movienet'
    r = bassl('synth', d, '--movies', 5, '--shots', 30, '--size', '64x48', '--seed', 7, '--quiet')
    assert r.stdout.startswith(f'wrote {d}: 5 movies (4 labelled)')
    return d


def test_help_lists_commands():
    out = bassl('--help').stdout
    for cmd in ('synth', 'check', 'build-anno', 'demo'): assert cmd in out


def test_synth_check_round_trip(root):
    r = bassl('check', root, '--quiet')
    assert 'is a valid MovieNet-SSeg root' in r.stdout
    summary = {k: v for k, v in (re.split(r'\s{2,}', l, maxsplit=1) for l in r.stdout.splitlines()[:-1])}
    assert summary['movies'] == '5' and summary['labelled movies'] == '4' and summary['unlabelled movies'] == '1'
    assert int(summary['keyframes'].replace(',', '')) == 3 * int(summary['shots'].replace(',', ''))
    assert bassl('check', root, '--deep', '--quiet').returncode == 0


def test_build_anno_reproduces_synth(root, tmp_path):
    copy = tmp_path/'movienet'
    shutil.copytree(root, copy)
    before = {p.name: p.read_text() for p in (copy/'anno').iterdir()}
    shutil.rmtree(copy/'anno')
    bassl('build-anno', copy)
    after = {p.name: p.read_text() for p in (copy/'anno').iterdir()}
    assert after == before
    assert len(before) == 6


def test_check_fails_on_broken_root(root, tmp_path):
    copy = tmp_path/'movienet'
    shutil.copytree(root, copy)
    split = json.loads((copy/'scene318/meta/split318.json').read_text())
    vid = split['train'][0]
    (copy/'240P_frames'/vid/'shot_0004_img_0.jpg').unlink()
    lab = copy/'scene318/label318'/f'{vid}.txt'
    lines = lab.read_text().splitlines()
    lines[2] = '0002 7'
    lab.write_text('\n'.join(lines) + '\n')
    r = bassl('check', copy, '--quiet', check=False)
    assert r.returncode == 1
    assert f'240P_frames/{vid}/shot_0004_img_0.jpg: missing keyframe' in r.stdout
    assert f'label318/{vid}.txt:3: expected a label in 0, 1, -1' in r.stdout
    assert r.stdout.rstrip().endswith(f'problems found in {copy}')


def test_synth_refuses_foreign_folder(tmp_path):
    (tmp_path/'thesis.tex').write_text('precious')
    r = bassl('synth', tmp_path, '--movies', 1, '--quiet', check=False)
    assert r.returncode == 1 and 'refusing to write' in r.stderr
    assert (tmp_path/'thesis.tex').read_text() == 'precious' and not (tmp_path/'240P_frames').exists()


def test_demo_runs_main_job(tmp_path):
    r = bassl('demo', tmp_path/'synthetic', '--movies', 3, '--shots', 20, '--size', '64x48', '--quiet')
    assert 'is a valid MovieNet-SSeg root' in r.stdout
    assert (tmp_path/'synthetic'/'anno'/'anno.pretrain.ndjson').exists()
