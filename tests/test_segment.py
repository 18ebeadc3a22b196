"`bassl segment` from the shell, as a subprocess: a rendered video cut into scenes (with a fine-tuned model, and without labels from a pre-trained one), a bad file skipped with a summary, a foreign output folder refused, a hostile file name shown as text in Chromium, one writer per folder, its own clips never taken as input."
import csv
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

from bassl.cli import COMMANDS

pytestmark = pytest.mark.skipif('segment' not in COMMANDS,
                                reason="`segment` is not in bassl.cli.COMMANDS yet: the CLI notebook registers bassl.segment.segment_cmd")


@pytest.fixture(scope='module')
def model(tmp_path_factory) -> Path:
    "A tiny fine-tuned run: a small synthetic root, two pre-training steps, extraction, two fine-tuning steps."
    from bassl.fixtures import tiny_root
    from bassl.test_utils import fit_steps, tiny_experiment
    from bassl.train.finetune import extract, finetune
    tmp = tmp_path_factory.mktemp('model')
    cfg = tiny_experiment('bassl', tiny_root(tmp/'root', movies=4, shots=30, seed=1))
    cfg = dataclasses.replace(cfg, finetune=dataclasses.replace(cfg.finetune, global_batch=8))
    ck = fit_steps(cfg, tmp/'run'/'pretrain', 2)
    store = extract(cfg, ck, tmp/'run'/'features', progress=False)
    finetune(cfg, store.folder, tmp/'run'/'finetune', max_steps=2, progress=False)
    return tmp/'run'


@pytest.fixture(scope='module')
def video(tmp_path_factory) -> tuple[Path, dict]:
    "A short rendered video of a synthetic movie with known shots and scenes."
    from bassl.data.render import render_video
    from bassl.fixtures import tiny_root
    tmp = tmp_path_factory.mktemp('video')
    root = tiny_root(tmp/'root', movies=1, shots=12, seed=3)
    vid = sorted(p.name for p in (root/'240P_frames').iterdir())[0]
    return tmp/'film.mp4', render_video(root, vid, tmp/'film.mp4')


def bassl(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'bassl.cli', 'segment', *map(str, args), '--progress', 'none'],
                          capture_output=True, text=True, timeout=600)


def test_segment_writes_every_output_and_skips_a_bad_video(tmp_path, model, video):
    path, _ = video
    bad = tmp_path/'notes.mp4'; bad.write_text('not a video')
    r = bassl(path, bad, '--model', model, '--out', tmp_path/'out', '--cut', 'keyframe')
    assert r.returncode == 1, r.stderr                                      # one video skipped: a failure exit, after the others
    assert '1 of 2 videos segmented' in r.stdout and 'notes.mp4' in r.stdout, r.stdout
    folder = tmp_path/'out'/'film'
    scenes = json.loads((folder/'scenes.json').read_text())['scenes']
    rows = list(csv.DictReader(open(folder/'scenes.csv')))
    assert [int(r['first_shot']) for r in rows] == [s['first_shot'] for s in scenes]
    assert (folder/'report.html').stat().st_size > 3e6                        # plotly.js inlined
    pred = list(csv.reader(open(folder/'predictions.csv')))
    assert pred[0] == ['movie', 'shot', 'probability', 'label'] and len(pred) - 1 == scenes[-1]['last_shot']
    clips = sorted((folder/'clips').glob('scene_*.mp4'))
    assert 1 <= len(clips) <= len(scenes) and f"{len(scenes)} scenes, {len(clips)} clips" in r.stdout, r.stdout
    assert {r['clip'] for r in rows} == {f'clips/{c.name}' for c in clips}        # every scene says which clip holds it
    frames = 0
    for c in clips:
        with av.open(str(c)) as f: frames += sum(1 for _ in f.decode(video=0))
    assert frames == scenes[-1]['end_frame'] + 1                              # stream-copied clips tile the video


def test_segment_refuses_another_videos_folder(tmp_path, model, video):
    path, _ = video
    other = tmp_path/'elsewhere'/'film.mp4'; other.parent.mkdir(); other.write_bytes(path.read_bytes())
    assert bassl(path, '--model', model, '--out', tmp_path/'out').returncode == 0
    assert bassl(path, '--model', model, '--out', tmp_path/'out', '--threshold', '0').returncode == 0   # the same video again: fine
    r = bassl(other, '--model', model, '--out', tmp_path/'out')
    assert r.returncode == 1 and "another video's results" in r.stdout, r.stdout


def test_segment_refuses_a_model_that_is_not_fine_tuned(tmp_path, model, video):
    r = bassl(video[0], '--model', model/'pretrain', '--out', tmp_path/'out')
    assert r.returncode == 1 and 'error:' in r.stderr and 'pre-trained checkpoints only' in r.stderr, r.stderr
    assert '--zero-shot pp' in r.stderr, r.stderr                            # and names the way to segment it without labels


def test_segment_zero_shot_pp_from_a_pre_training_checkpoint(tmp_path, model, video):
    "`--zero-shot pp` with a pre-training checkpoint alone (no fine-tuning, no labels): scenes on the shot cuts, a report that says label-free."
    from bassl.data.video import read_video_record
    path, truth = video
    ck = tmp_path/'pretrained.ckpt'; ck.write_bytes((model/'pretrain'/'checkpoints'/'last.ckpt').read_bytes())   # outside any run
    r = bassl(path, '--model', ck, '--out', tmp_path/'out', '--zero-shot', 'pp', '--scenes', '3')
    assert r.returncode == 0 and '1 of 1 videos segmented' in r.stdout, r.stdout + r.stderr
    folder = tmp_path/'out'/'film'
    meta = json.loads((folder/'scenes.json').read_text())
    assert (meta['label_free'], meta['score'], meta['scenes_asked'], meta['model']) == (True, 'pp', 3, str(ck)), meta
    scenes = meta['scenes']
    assert 2 <= len(scenes) <= 3, scenes                                     # 3 asked; ties at the cut may merge two
    rec = read_video_record(folder/'root', 'film')
    starts = [s['start'] for s in rec.shots]
    assert [s['start_frame'] for s in scenes] == [starts[s['first_shot']] for s in scenes]      # every scene starts a detected shot
    assert [s['first_shot'] for s in scenes[1:]] == [s['last_shot'] + 1 for s in scenes[:-1]]   # and they tile the shots
    for s in scenes[1:]: assert min(abs(s['start_frame'] - c) for c in truth.cuts) <= 2, (s, truth.cuts)   # on the video's real cuts
    report = (folder/'report.html').read_text()
    assert 'label-free scenes (no labels, no fine-tuning): score pp' in report and report.count('<div class="scene"') == len(scenes)
    pred = list(csv.reader(open(folder/'predictions.csv')))
    assert len(pred) - 1 == rec.num_shot - 1 and all(0 <= float(p[2]) <= 1 for p in pred[1:])


def test_segment_zero_shot_dtw_and_cosine_by_default_length(tmp_path, model, video):
    "dtw and cosine from a pre-training run, the number of scenes from the expected scene length; --threshold with --scenes refused."
    for score in ('dtw', 'cosine'):
        r = bassl(video[0], '--model', model/'pretrain', '--out', tmp_path/score, '--zero-shot', score)
        assert r.returncode == 0, r.stdout + r.stderr
        meta = json.loads((tmp_path/score/'film'/'scenes.json').read_text())
        assert meta['score'] == score and meta['label_free'] and 'expected 8 shots per scene' in meta['threshold_from'], meta
        assert len(meta['scenes']) <= max(1, round(meta['shots'] / 8)), meta
    r = bassl(video[0], '--model', model/'pretrain', '--out', tmp_path/'both', '--zero-shot', 'dtw', '--scenes', '2', '--threshold', '.5')
    assert r.returncode == 2 and '--threshold and --scenes both given' in r.stderr and not (tmp_path/'both').exists(), r.stderr


CHROMIUM = Path('/usr/bin/chromium')


@pytest.mark.skipif(not CHROMIUM.exists(), reason='needs Debian Chromium at /usr/bin/chromium (make browser, or apt-get install chromium)')
def test_report_of_a_hostile_file_name_runs_no_script(tmp_path, model, video):
    "A video whose file name is markup: its report, opened in Chromium, shows the name as text and runs none of it."
    payload = """<img src=x onerror="document.body.setAttribute('data-pwned',1)">"""
    hostile = tmp_path/'in'/f'{payload}.mp4'; hostile.parent.mkdir(); hostile.write_bytes(video[0].read_bytes())
    r = bassl(hostile, '--model', model, '--out', tmp_path/'out')
    assert r.returncode == 0, r.stdout + r.stderr
    report, = (tmp_path/'out').glob('*/report.html')
    dom = subprocess.run([str(CHROMIUM), '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--virtual-time-budget=5000',
                          '--dump-dom', report.as_uri()], capture_output=True, text=True, timeout=300).stdout
    assert 'class="plotly-graph-div' in dom, dom[:2000]                       # the page loaded and drew its figure
    assert 'data-pwned="1"' not in dom and '<img src="x"' not in dom            # nothing of the name ran or became an element
    assert """<h1>&lt;img src=x onerror="document.body.setAttribute('data-pwned',1)"&gt;.mp4</h1>""" in dom


def test_segment_is_one_writer_per_folder_and_skips_its_own_clips(tmp_path, model, video):
    "While another segment writes OUT/ID, a second is refused by name and touches nothing; run twice over a folder that holds --out, segment never takes its own clips for new videos."
    from bassl.segment import writing
    films = tmp_path/'films'; films.mkdir(); (films/'film.mp4').write_bytes(video[0].read_bytes())
    first = bassl(films, '--model', model, '--out', films/'scenes', '--cut', 'keyframe')
    assert first.returncode == 0 and '1 of 1 videos segmented' in first.stdout, first.stdout + first.stderr
    folder = films/'scenes'/'film'
    before = {p: p.stat().st_mtime_ns for p in folder.rglob('*') if p.is_file()}
    with writing(folder):                                                       # held as a running segment holds it
        second = bassl(films/'film.mp4', '--model', model, '--out', films/'scenes', '--overwrite')
    assert second.returncode == 1 and f"another bassl segment is writing {folder}" in second.stdout, second.stdout + second.stderr
    assert {p: p.stat().st_mtime_ns for p in folder.rglob('*') if p.is_file()} == before   # nothing written or removed
    clips = sorted((folder/'clips').glob('scene_*.mp4'))
    assert clips
    again = bassl(films, '--model', model, '--out', films/'scenes', '--cut', 'keyframe')
    assert again.returncode == 0 and '1 of 1 videos segmented' in again.stdout, again.stdout + again.stderr
    assert f"skipped {len(clips)} video(s) in bassl's own output folders" in again.stderr, again.stderr
    assert sorted(p.name for p in (films/'scenes').iterdir()) == ['film']       # no folder made for a clip
