"""Video ingestion benchmark: shot detection quality, CPU throughput, memory on long videos, time of a whole ingestion.

Every video is rendered from the built-in synthetic movies (bassl.data.render.render_video), so the true shot
boundaries are known and nothing is downloaded.

  detection  per detector (and 'adaptive:flash=0', PySceneDetect's cuts with flashes kept), on an easy set (videos of
             only hard cuts and of only dissolves and fades, steady camera) and a hard set (bassl.data.render.HARD: a
             hand-held camera, fast zooms, flashes, dissolves and fades of 4-48 frames mixed with hard cuts, crf 32):
             hard-cut precision and recall (within one frame), gradual recall (inside the transition, +-1 frame),
             false cuts at flashes, frames/s; written to results/video/detectors.json (--record), with the machine
  speed      frames/s of decoding alone, decoding + shot detection, and decoding + detection + keyframes written
             (add_video), on 240p, 720p and 1080p H.264 inputs, on the CPU
  memory     peak RSS of add_video (a fresh process each) on a 1-minute and a 5-minute 720p video: flat if bounded;
             the time of each run gives a 10-minute 720p ingestion by proportion (--ten-minutes: measured)

    python bench/video.py [--parts detection,speed,memory] [--sets easy,hard] [--detectors ...] [--quick]
                          [--ten-minutes] [--out bench/out/video] [--record results/video/detectors.json]

Prints figures and ratios; it asserts nothing (timings on shared machines are noisy).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bassl.data.synthetic import MARKER, SynthConfig, plan_movie, synthesize
from bassl.core import write_json
from bassl.data.render import HARD, cut_matches, flash_cuts, render_video
from bassl.data.video import DEFAULT_DETECTOR, DETECTORS, _decode, _rgb, add_video, detect_shots, probe
from bassl.study import machine

SIZES = {'240p': (426, 240), '720p': (1280, 720), '1080p': (1920, 1080)}


def synth_root(out: Path) -> Path:
    "A synthetic root of a few movies with 256x144 keyframes (the default), written once."
    root = out/'synth'
    if not (root/MARKER).exists(): synthesize(root, SynthConfig(movies=4, shots=40, seed=0), workers=1, progress=False)
    return root


def video(root, out, vid, size, fps, seconds, **kw):
    "A rendered video of about `seconds` (cached by its parameters) and its truth."
    w, h = size
    opts = '-'.join(f'{k}{v}' for k, v in sorted(kw.items())).replace(' ', '').replace('(', '').replace(')', '')
    name = f"{vid}-{w}x{h}-{fps}fps-{seconds}s-{opts}.mp4"
    shots = max(2, round(seconds / kw.get('shot_seconds', 3)))     # the plan may have fewer: then the video is shorter
    return render_video(root, vid, out/'videos'/name, fps=fps, size=size, shots=shots, **kw)


EASY = {'settings': [(24, (320, 180)), (30, (640, 360))], 'movies': ['tt9000000'], 'seconds': 45,
        'shot_seconds': 1.5, 'render': {}}      # one video of hard cuts only and one of gradual transitions only, each
HARD_SET = {'settings': [(24, (640, 360)), (30, (960, 540))], 'movies': ['tt9000002', 'tt9000003'], 'seconds': 45,
            'shot_seconds': 2.0, 'render': HARD}   # hard cuts, dissolves and fades mixed, in hand-held, flashing footage


def parse_detector(spec):
    "'adaptive' or 'adaptive:adaptive_threshold=2:min_content_val=10' -> (name, options)."
    name, *opts = spec.split(':')
    kw = {k: float(v) if '.' in v else int(v) for k, v in (o.split('=') for o in opts)}
    return name, kw


def videos(root, out, setting, quick):
    "The rendered videos of one setting (EASY or HARD_SET) with their truths."
    fpss = setting['settings'][:1 if quick else None]
    vids = setting['movies'][:1 if quick else None]
    seconds = 10 if quick else setting['seconds']
    kinds = [{'gradual': 0.}, {'gradual': 1.}] if setting is EASY else [{}]
    return [video(root, out, v, size, fps, seconds, shot_seconds=setting['shot_seconds'], seed=0,
                  **{**setting['render'], **k}) for fps, size in fpss for v in vids for k in kinds]


def measure(truths, spec):
    "One detector's figures on some videos: hard cuts found and detections, gradual found, false cuts on flashes, frames/s."
    name, kw = parse_detector(spec)
    n = {'cuts': 0, 'cuts_found': 0, 'gradual': 0, 'gradual_found': 0, 'detections': 0, 'false': 0, 'flashes': 0,
         'flash_cuts': 0, 'frames': 0, 'seconds': 0.}
    for truth in truths:
        t0 = time.perf_counter()
        starts = [s.start for s in detect_shots(truth.path, name, progress=False, **kw)[1:]]
        n['seconds'] += time.perf_counter() - t0
        m = cut_matches(truth, starts)
        n['cuts_found'] += m['cut'][0]; n['cuts'] += m['cut'][1]
        n['gradual_found'] += m['gradual'][0]; n['gradual'] += m['gradual'][1]
        n['false'] += m['false'][0]; n['detections'] += m['false'][1]
        n['flashes'] += sum(1 for f in truth.flashes if f - 1 not in truth.flashes)
        n['flash_cuts'] += flash_cuts(truth, starts); n['frames'] += truth.n_frames
    n['seconds'] = round(n['seconds'], 2)
    return n


def figures(n):
    "Percentages of one detector's counts: hard-cut precision and recall, gradual recall, and frames/s."
    pct = lambda a, b: round(100 * a / b, 1) if b else None
    hard_dets = n['detections'] - n['gradual_found']      # detections that were not a found gradual transition
    return {'hard_P': pct(n['cuts_found'], hard_dets), 'hard_R': pct(n['cuts_found'], n['cuts']),
            'gradual_R': pct(n['gradual_found'], n['gradual']), 'false': n['false'], 'flash_cuts': n['flash_cuts'],
            'fps': round(n['frames'] / n['seconds'])}


def detection(root, out, quick, detectors, record, sets=('easy', 'hard')):
    print("shot detection on rendered videos with known transitions: a hard cut found within 1 frame, a gradual "
          "transition inside its span (+-1 frame)\n")
    sets = {k: {'easy': EASY, 'hard': HARD_SET}[k] for k in sets}
    truths = {k: videos(root, out, s, quick) for k, s in sets.items()}
    rows = {d: {k: measure(truths[k], d) for k in sets} for d in detectors}
    print(f"{'detector':20s} {'set':5s} {'hard P':>7s} {'hard R':>7s} {'grad. R':>8s} {'false':>6s} {'flash':>6s} "
          f"{'frames/s':>9s}")
    for d, r in rows.items():
        for k, n in r.items():
            f = figures(n)
            v = lambda x: '-' if x is None else f'{x:.1f}'
            print(f"{d:20s} {k:5s} {v(f['hard_P']):>7s} {v(f['hard_R']):>7s} {v(f['gradual_R']):>8s} "
                  f"{f['false']:6d} {f['flash_cuts']:6d} {f['fps']:9d}")
    print('\n' + '; '.join(f"{k}: {sum(t.n_frames for t in ts)} frames, {sum(t.kinds.count('cut') for t in ts)} hard cuts, "
                           f"{sum(len(t.kinds) - t.kinds.count('cut') for t in ts)} gradual, "
                           f"{sum(1 for t in ts for f in t.flashes if f - 1 not in t.flashes)} flashes"
                           for k, ts in truths.items()) + '\n')
    settings = {k: {'settings': s['settings'][:1 if quick else None], 'seconds': 10 if quick else s['seconds'],
                    'shot_seconds': s['shot_seconds'],
                    'movies': s['movies'][:1 if quick else None], 'render': s['render'],
                    'videos': [{'vid': t.vid, 'fps': t.fps, 'size': list(t.size), 'frames': t.n_frames} for t in truths[k]]}
                for k, s in sets.items()}
    write_json(record, {'title': "Shot detectors on rendered videos with known transitions, an easy and a hard set",
                        'command': ' '.join(['python', 'bench/video.py'] + sys.argv[1:]), 'machine': machine(),
                        'quick': quick, 'default': DEFAULT_DETECTOR, 'seed': 0, 'sets': settings,
                        'matching': "a hard cut within 1 frame; a gradual transition inside its span +-1 frame; "
                                    "a flash cut on a flash frame or the frame after, +-1",
                        'detectors': {d: {k: {**n, **figures(n)} for k, n in r.items()} for d, r in rows.items()}},
               indent=1)
    print(f"written: {record}\n")


def speed(root, out, quick):
    seconds = 2 if quick else 15
    print(f"CPU throughput on {seconds} s H.264 videos at 24 fps ({os.cpu_count()} cores; PyAV decodes with threads):\n")
    print(f"{'input':7s} {'decode':>8s} {'+ detect':>9s} {'+ keyframes':>12s}   frames/s (x realtime at 24 fps); detector {DEFAULT_DETECTOR!r}")
    rates = {}
    for name, size in (list(SIZES.items())[:2] if quick else SIZES.items()):
        truth = video(root, out, 'tt9000003', size, 24, seconds, shot_seconds=2.0)
        info = probe(truth.path)
        small = info.size_at(240)
        t0 = time.perf_counter()
        for i, t, f in _decode(truth.path, info): _rgb(f, info, small)
        dec = truth.n_frames / (time.perf_counter() - t0)
        t0 = time.perf_counter(); detect_shots(truth.path, DEFAULT_DETECTOR, progress=False)
        det = truth.n_frames / (time.perf_counter() - t0)
        dst = out/'roots'/name
        shutil.rmtree(dst, ignore_errors=True)
        t0 = time.perf_counter(); add_video(truth.path, dst, progress=False)
        full = truth.n_frames / (time.perf_counter() - t0)
        rates[name] = {'decode': round(dec), 'detect': round(det), 'add_video': round(full), 'frames': truth.n_frames}
        print(f"{name:7s} {dec:8.0f} {det:9.0f} {full:12.0f}   ({dec / 24:.1f}x / {det / 24:.1f}x / {full / 24:.1f}x)")
    if '720p' in rates: print(f"\n10-minute 720p video at 24 fps (14,400 frames), decode + detect + keyframes + anno/: "
          f"~{14400 / rates['720p']['add_video']:.0f} s, extrapolated from the 720p rate above\n")
    return rates


HWM = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"  # peak RSS of this process, kB
RSS = f"""
import sys, time
from bassl.data.video import add_video
t0 = time.perf_counter()
add_video(sys.argv[1], sys.argv[2], detector=sys.argv[3], progress=False)
print({HWM}, time.perf_counter() - t0)
"""


def memory(root, out, quick):
    minutes, size = ((.1, .3), (426, 240)) if quick else ((1, 5), (1280, 720))
    cfg = SynthConfig(movies=1, shots=40 if quick else 120, seed=1)  # one movie with enough shots for 5 minutes of 3-second shots
    long = out/f'synth-long-{cfg.shots}'                             # (quick: fewer, shorter shots, a smoke run)
    if not (long/MARKER).exists(): synthesize(long, cfg, workers=1, progress=False)
    n_shot = plan_movie(cfg, 0).num_shot
    print(f"peak RSS of add_video in a fresh process ({size[0]}x{size[1]}, 24 fps; interpreter and libraries included, torch only for transnetv2):\n")
    base = subprocess.run([sys.executable, '-c', f'import bassl.data.video; print({HWM})'],
                          capture_output=True, text=True, check=True)
    print(f"{'import bassl.data.video':24s} {int(base.stdout) / 1024:7.0f} MB")
    runs = [(DEFAULT_DETECTOR, m) for m in minutes] + ([] if quick else [('transnetv2', m) for m in (1, 3)])
    for detector, m in runs:
        truth = video(long, out, 'tt9000000', size, 24, int(60 * m), shot_seconds=60 * max(minutes) / n_shot)
        dst = out/'roots'/f'mem-{detector}-{m}'
        shutil.rmtree(dst, ignore_errors=True)
        r = subprocess.run([sys.executable, '-c', RSS, str(truth.path), str(dst), detector], capture_output=True, text=True, check=True)
        kb, sec = r.stdout.split()
        print(f"{detector + f', {truth.n_frames / 24 / 60:.2g} min':24s} {int(kb) / 1024:7.0f} MB   ({truth.n_frames} frames in {float(sec):.0f} s: "
              f"{truth.n_frames / float(sec):.0f} frames/s, a 10-minute video at this rate: {600 * 24 / truth.n_frames * float(sec):.0f} s)")
        shutil.rmtree(dst, ignore_errors=True)
    print()


def ten_minutes(root, out):
    truth = video(root, out, 'tt9000001', (1280, 720), 24, 600, shot_seconds=3.0)
    dst = out/'roots'/'ten'
    shutil.rmtree(dst, ignore_errors=True)
    t0 = time.perf_counter(); add_video(truth.path, dst, progress=False)
    print(f"10-minute 720p video ({truth.n_frames} frames): add_video in {time.perf_counter() - t0:.0f} s (measured)\n")
    shutil.rmtree(dst, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--parts', default='detection,speed,memory', help='comma-separated: detection, speed, memory')
    ap.add_argument('--detectors', default=','.join([*DETECTORS, 'adaptive:flash=0']),
                    help="comma-separated detectors to measure; options after colons: 'adaptive:adaptive_threshold=2.5'")
    ap.add_argument('--sets', default='easy,hard', help='comma-separated detection sets: easy, hard')
    ap.add_argument('--record', type=Path, default=None,
                    help='where the detection figures are written (default: results/video/detectors.json; --quick: OUT/detectors.json)')
    ap.add_argument('--quick', action='store_true', help='short videos, one setting: a smoke run of every part')
    ap.add_argument('--ten-minutes', action='store_true', help='also render and ingest a real 10-minute 720p video')
    ap.add_argument('--out', type=Path, default=Path('bench/out/video'), help='rendered videos (kept for the next run) and roots')
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    root = synth_root(a.out)
    parts = a.parts.split(',')
    record = a.record or (a.out/'detectors.json' if a.quick else Path('results/video/detectors.json'))
    if 'detection' in parts: detection(root, a.out, a.quick, a.detectors.split(','), record, a.sets.split(','))
    if 'speed' in parts:
        rates = speed(root, a.out, a.quick)
        write_json(record.with_name('speed.json'), {
            'title': f"CPU frames/s of decoding, + shot detection ({DEFAULT_DETECTOR!r}), + keyframes (add_video), 24 fps",
            'command': ' '.join(['python', 'bench/video.py'] + sys.argv[1:]), 'machine': machine(), 'quick': a.quick,
            'detector': DEFAULT_DETECTOR, 'rates': rates}, indent=1)
    if 'memory' in parts: memory(root, a.out, a.quick)
    if a.ten_minutes: ten_minutes(root, a.out)
    shutil.rmtree(a.out/'roots', ignore_errors=True)


if __name__ == '__main__':
    main()
