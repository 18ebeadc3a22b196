"Video ingestion across processes: `prepare` killed half-way resumes without redoing finished videos; the written root trains."
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bassl.data.check import check_root
from bassl.data.movienet import MovieNetRoot
from bassl.data.render import render_video
from bassl.data.video import RECORD_DIR, is_done, read_video_record
from bassl.fixtures import tiny_root

PREPARE = "import sys; from bassl.data.video import prepare; print(prepare(sys.argv[1:-1], sys.argv[-1], progress=False))"


@pytest.fixture(scope='module')
def collection(tmp_path_factory):
    d = tmp_path_factory.mktemp('videos')
    synth = tiny_root(d/'synth', movies=4, shots=24)
    vids = [f'tt900000{i}' for i in range(4)]
    return {v: render_video(synth, v, d/'col'/f'{v}.mp4', size=(320, 180), shots=16, shot_seconds=1.5) for v in vids}


def test_prepare_killed_then_resumed(collection, tmp_path):
    root, col = tmp_path/'root', next(iter(collection.values())).path.parent
    p = subprocess.Popen([sys.executable, '-c', PREPARE, str(col), str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    records, frames = root/RECORD_DIR, MovieNetRoot(root).frames_dir
    deadline = time.time() + 120
    def second_started():  # the first video is complete and the next one is being written: kill then
        return records.is_dir() and any(records.glob('*.json')) and frames.is_dir() and any(d.name.startswith('.tmp-') for d in frames.iterdir())
    while not second_started():
        assert p.poll() is None and time.time() < deadline, p.communicate()
        time.sleep(.01)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    done = sorted(f.stem for f in records.glob('*.json'))
    assert 1 <= len(done) < len(collection), done
    mr = MovieNetRoot(root)
    half = [d.name for d in mr.frames_dir.iterdir() if d.name.startswith('.tmp-')]
    assert half, "the video in progress was writing into a hidden folder"
    assert not (mr.anno_dir/'anno.pretrain.ndjson').exists()               # anno/ is built once all videos are through
    mtimes = {v: (records/f'{v}.json').stat().st_mtime_ns for v in done}

    r = subprocess.run([sys.executable, '-c', PREPARE, str(col), str(root)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    last = r.stdout.strip().splitlines()[-1]
    assert last == f"{root}: {len(collection) - len(done)} videos added, {len(done)} already done, 0 failed", r.stdout
    assert {v: (records/f'{v}.json').stat().st_mtime_ns for v in done} == mtimes   # finished videos were not redone
    assert not [d for d in mr.frames_dir.iterdir() if d.name.startswith('.')]
    rep = check_root(root, progress=False)
    assert rep.ok, [str(x) for x in rep.problems]
    for v, truth in collection.items():
        assert is_done(root, v, truth.path)
        assert read_video_record(root, v).n_frames == truth.n_frames
    pre = [json.loads(l)['video_id'] for l in open(mr.anno_file('pretrain'))]
    assert sorted(set(pre)) == sorted(collection)


def test_prepared_root_pretrains_and_finetunes(collection, tmp_path):
    "A labelled collection prepared with a labels CSV: BaSSL pre-trains on it, extracts, fine-tunes and evaluates, Recall@3s from its shot tables."
    from bassl.data.video import prepare
    from bassl.test_utils import fit_steps, tiny_experiment
    from bassl.train.finetune import extract, finetune
    rows = ['video,time,split']
    for (v, t), split in zip(collection.items(), ['train', 'train', 'val', 'test']):
        rows += [f'{v}.mp4,{t.times[c]:.3f},{split}' for c in t.scene_cuts] or [f'{v}.mp4,,{split}']
    (tmp_path/'labels.csv').write_text('\n'.join(rows) + '\n')
    root = tmp_path/'root'
    s = prepare([t.path for t in collection.values()], root, labels=tmp_path/'labels.csv', progress=False)
    assert s.ok and sorted(s.labelled) == sorted(collection), str(s)
    rep = check_root(root, progress=False)
    assert rep.ok and rep.summary['labelled movies'] == 4, [str(x) for x in rep.problems]
    cfg = tiny_experiment('bassl', root)
    cfg = replace(cfg, finetune=replace(cfg.finetune, global_batch=8))        # 2 training videos of ~14 shots
    ckpt = fit_steps(cfg, tmp_path/'pretrain', steps=2)
    store = extract(cfg, ckpt, tmp_path/'features', progress=False)
    assert sorted(store) == sorted(collection)
    scores = finetune(cfg, store.folder, tmp_path/'finetune', max_steps=2, progress=False)
    assert {'AP', 'mAP', 'Recall@3s', 'mIoU'} <= set(scores) and all(0 <= v <= 100 for v in scores.values())
