"""How well `bassl segment` recovers the scenes of videos, next to the same model's scores on the keyframe dataset.

The synthetic test movies of a root are rendered to H.264 videos (bassl.data.render.render_video: camera motion, hard
cuts, dissolves and fades; the true scene boundaries are known), segmented with a fine-tuned model as `bassl segment`
does, and scored against the truth: each true scene cut is matched to the nearest detected shot boundary within
`--tolerance` frames; a true cut no detected boundary matches counts as a miss in recall and F1 (it cannot be predicted).

    python bench/segment_quality.py [--model runs/demo] [--root data/synthetic] [--out bench/out/segment] [--detector adaptive]
                                    [--record results/segment/demo.json]

Prints figures and writes them, with the machine (its yardstick) and the model's run, as a record (--record): the
benchmarks page renders the committed one. Asserts nothing.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torchmetrics.functional.classification import binary_auroc, binary_average_precision

from bassl.data.movienet import MovieNetRoot, read_split
from bassl.data.render import render_video
from bassl.data.video import DEFAULT_DETECTOR, DETECTORS, read_video_record
from bassl.metrics import movie_miou
from bassl.runs import resolve
from bassl.core import write_json
from bassl.runs import read_done
from bassl.segment import load_scene_model, segment_video, truth_labels
from bassl.study import machine


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', default='runs/demo', help='a fine-tuning run folder (default: the demo)')
    ap.add_argument('--root', default='data/synthetic', help='synthetic root whose test movies are rendered')
    ap.add_argument('--out', type=Path, default=Path('bench/out/segment'), help='rendered videos and segmentations')
    ap.add_argument('--detector', default=DEFAULT_DETECTOR, choices=list(DETECTORS))
    ap.add_argument('--size', default='256x144', help='rendered video size WIDTHxHEIGHT')
    ap.add_argument('--tolerance', type=int, default=2, help='frames between a true scene cut and a detected shot boundary')
    ap.add_argument('--movies', type=int, default=0, help='only the first N test movies (0: all)')
    ap.add_argument('--record', type=Path, default=Path('results/segment/demo.json'), help='where the figures are written (JSON)')
    a = ap.parse_args()
    size = tuple(int(v) for v in a.size.split('x'))
    test = read_split(MovieNetRoot(a.root).split_file)['test'][:a.movies or None]
    model = load_scene_model(a.model)
    probs, labels, mious, missed, cuts, shots, movies = [], [], [], 0, 0, [0, 0], []
    for vid in test:
        video = a.out/'videos'/f'{vid}-{a.size}.mp4'
        truth = render_video(a.root, vid, video, fps=24, size=size, progress=False)
        s = segment_video(video, model, a.out/'segmented', vid=vid, detector=a.detector, progress=False, overwrite=True)
        rec = read_video_record(s.root, vid)
        starts = np.array([sh['start'] for sh in rec.shots])
        lab, miss = truth_labels(starts, truth.scene_cuts, a.tolerance)
        probs.append(s.prob); labels.append(lab); missed += miss; cuts += len(truth.scene_cuts)
        mious.append(movie_miou(lab, (s.prob > 0.5).astype(np.int64), rec.table()))
        shots[0] += len(starts); shots[1] += len(truth.shots)
        movies.append({'video_id': vid, 'minutes': truth.n_frames / truth.fps / 60, 'shots_detected': len(starts), 'shots_true': len(truth.shots),
                       'scene_cuts': len(truth.scene_cuts), 'scene_cuts_missed': miss, 'seconds': s.seconds})
        print(f"{vid}: {truth.n_frames / truth.fps / 60:.1f} min, {len(starts)} shots detected of {len(truth.shots)}, "
              f"{len(truth.scene_cuts) - miss} of {len(truth.scene_cuts)} scene cuts on a detected cut, {s.seconds:.0f} s", flush=True)
    p, y = torch.tensor(np.concatenate(probs)), torch.tensor(np.concatenate(labels))
    pred = p > 0.5
    tp = int((pred & (y == 1)).sum())
    prec, rec_ = tp / max(int(pred.sum()), 1), tp / max(cuts, 1)                  # recall over every true cut: misses included
    f1 = 2 * prec * rec_ / max(prec + rec_, 1e-9)
    video = {'AP': 100 * float(binary_average_precision(p, y)), 'AUC': 100 * float(binary_auroc(p, y)), 'F1': 100 * f1,
             'mIoU': 100 * float(np.mean(mious))}
    run = resolve(a.model)
    kf = json.loads(run.predictions.with_name('scores.json').read_text())
    print(f"\n{len(test)} test movies, detector {a.detector!r}: {shots[0]} shots detected of {shots[1]}, "
          f"{cuts - missed} of {cuts} true scene cuts on a detected shot boundary (within {a.tolerance} frames)\n")
    print(f"{'':6s} {'segment on video':>17s} {'keyframe set':>13s}")
    kf = {k: kf[k] * (100 if kf[k] <= 1 else 1) for k in ('AP', 'AUC', 'F1', 'mIoU')}
    for k in kf: print(f"{k:6s} {video[k]:17.1f} {kf[k]:13.1f}")
    write_json(a.record, {'title': "bassl segment on rendered test movies against the same model on the keyframe dataset",
                          'command': ' '.join(['python', 'bench/segment_quality.py'] + sys.argv[1:]), 'machine': machine(),
                          'model': a.model, 'model_finetune': (read_done(run.predictions.parent) or {}).get('record'),
                          'detector': a.detector, 'size': a.size, 'tolerance_frames': a.tolerance, 'movies': movies,
                          'video': video, 'keyframe': kf}, indent=1)
    print(f"record: {a.record}")


if __name__ == '__main__':
    main()
