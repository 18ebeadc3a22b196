"""Video ingestion benchmark: shot detection quality, CPU throughput, memory on long videos, time of a whole ingestion.

Every video is rendered from the built-in synthetic movies (bassl.data.render.render_video), so the true shot
boundaries are known and nothing is downloaded.

  detection  precision and recall of detected shot boundaries per detector, on videos with only hard cuts and on
             videos with only gradual transitions (dissolves, fades), at two frame rates and resolutions: a hard cut
             counts as found within one frame, a gradual one anywhere inside the transition (+-1 frame)
  speed      frames/s of decoding alone, decoding + shot detection, and decoding + detection + keyframes written
             (add_video), on 240p, 720p and 1080p H.264 inputs, on the CPU
  memory     peak RSS of add_video (a fresh process each) on a 1-minute and a 5-minute 720p video: flat if bounded;
             the time of each run gives a 10-minute 720p ingestion by proportion (--ten-minutes: measured)

    python bench/video.py [--parts detection,speed,memory] [--quick] [--ten-minutes] [--out bench/out/video]

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
from bassl.data.render import cut_matches, render_video
from bassl.data.video import DEFAULT_DETECTOR, DETECTORS, _decode, _rgb, add_video, detect_shots, probe

SIZES = {'240p': (426, 240), '720p': (1280, 720), '1080p': (1920, 1080)}


def synth_root(out: Path) -> Path:
    "A synthetic root of a few movies with 256x144 keyframes (the default), written once."
    root = out/'synth'
    if not (root/MARKER).exists(): synthesize(root, SynthConfig(movies=4, shots=40, seed=0), workers=1, progress=False)
    return root


def video(root, out, vid, size, fps, seconds, **kw):
    "A rendered video of about `seconds` (cached by its parameters) and its truth."
    w, h = size
    name = f"{vid}-{w}x{h}-{fps}fps-{seconds}s-{'-'.join(f'{k}{v}' for k, v in sorted(kw.items()))}.mp4"
    shots = max(2, round(seconds / kw.get('shot_seconds', 3)))     # the plan may have fewer: then the video is shorter
    return render_video(root, vid, out/'videos'/name, fps=fps, size=size, shots=shots, **kw)


def detection(root, out, quick, detectors=tuple(DETECTORS)):
    settings = [(24, (320, 180)), (30, (640, 360))][:1 if quick else 2]
    vids = ['tt9000000', 'tt9000001'][:1 if quick else 2]
    seconds = 10 if quick else 45
    print(f"shot detection: {len(vids)} movies x {len(settings)} settings (fps, size), ~{seconds} s each, shots of ~1.5 s; "
          "hard cuts within 1 frame, gradual transitions inside their span (+-1 frame)\n")
    tally = {d: {'cut': [0, 0, 0, 0], 'gradual': [0, 0, 0, 0], 'frames': 0, 'seconds': 0.} for d in detectors}
    for fps, size in settings:
        for kind, gradual in (('cut', 0.), ('gradual', 1.)):
            for v in vids:
                truth = video(root, out, v, size, fps, seconds, shot_seconds=1.5, gradual=gradual)
                for d in detectors:
                    t0 = time.perf_counter()
                    shots = detect_shots(truth.path, d, progress=False)
                    tally[d]['seconds'] += time.perf_counter() - t0
                    tally[d]['frames'] += truth.n_frames
                    m = cut_matches(truth, [s.start for s in shots[1:]])
                    found, total = m[kind]
                    false, dets = m['false']
                    t = tally[d][kind]
                    t[0] += found; t[1] += total; t[2] += dets - false; t[3] += dets
    print(f"{'detector':20s} {'hard P':>7s} {'hard R':>7s} {'grad. P':>8s} {'grad. R':>8s} {'frames/s':>9s}   (transitions: hard / gradual)")
    for d, t in tally.items():
        c, g = t['cut'], t['gradual']
        p = lambda a, b: f"{100 * a / b:.1f}" if b else '-'
        print(f"{d:20s} {p(c[2], c[3]):>7s} {p(c[0], c[1]):>7s} {p(g[2], g[3]):>8s} {p(g[0], g[1]):>8s} "
              f"{t['frames'] / t['seconds']:9.0f}   ({c[1]} / {g[1]})")
    print()


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
        rates[name] = full
        print(f"{name:7s} {dec:8.0f} {det:9.0f} {full:12.0f}   ({dec / 24:.1f}x / {det / 24:.1f}x / {full / 24:.1f}x)")
    if '720p' in rates: print(f"\n10-minute 720p video at 24 fps (14,400 frames), decode + detect + keyframes + anno/: "
          f"~{14400 / rates['720p']:.0f} s, extrapolated from the 720p rate above\n")
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
    long = out/'synth-long'                                   # one movie with enough shots for 5 minutes of 3-second shots
    if not (long/MARKER).exists(): synthesize(long, SynthConfig(movies=1, shots=120, seed=1), workers=1, progress=False)
    n_shot = plan_movie(SynthConfig(movies=1, shots=120, seed=1), 0).num_shot
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
        print(f"{detector + f', {m:g} min':24s} {int(kb) / 1024:7.0f} MB   ({truth.n_frames} frames in {float(sec):.0f} s: "
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
    ap.add_argument('--detectors', default=','.join(DETECTORS), help='comma-separated detectors to measure')
    ap.add_argument('--quick', action='store_true', help='short videos, one setting: a smoke run of every part')
    ap.add_argument('--ten-minutes', action='store_true', help='also render and ingest a real 10-minute 720p video')
    ap.add_argument('--out', type=Path, default=Path('bench/out/video'), help='rendered videos (kept for the next run) and roots')
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    root = synth_root(a.out)
    parts = a.parts.split(',')
    if 'detection' in parts: detection(root, a.out, a.quick, a.detectors.split(','))
    if 'speed' in parts: speed(root, a.out, a.quick)
    if 'memory' in parts: memory(root, a.out, a.quick)
    if a.ten_minutes: ten_minutes(root, a.out)
    shutil.rmtree(a.out/'roots', ignore_errors=True)


if __name__ == '__main__':
    main()
