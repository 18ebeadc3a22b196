"""How well the label-free boundary scores of `bassl.zeroshot` find the scenes of the synthetic test movies, with no fine-tuning.

For each feature store (BaSSL pre-training, SimCLR instance pre-training, random init: the demo's runs), each score
(`pp` only where the pre-training has a PP head) is computed for every shot of every test movie from the stored shot
features and scored with the paper's metrics (bassl.metrics.boundary_metrics, as fine-tuning's test does): AP and AUC
of the raw scores, pooled; F1 (pooled) and mIoU (per movie) of the scenes cut without labels, each movie at the
label-free threshold of `bassl.zeroshot.label_free_threshold` (an expected `SCENE_SHOTS` shots per scene). The chance
level is the test split's boundary rate (the AP of a score that knows nothing). Prints a table and writes a JSON record.

    python bench/zeroshot.py [--root data/synthetic] [--out results/zeroshot/demo.json]

Asserts nothing.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from bassl.data.datasets import ShotTable
from bassl.data.movienet import MovieNetRoot, read_shot_table
from bassl.experiments import boundary_rate, metric_rows
from bassl.features import FeatureStore
from bassl.metrics import Predictions, boundary_metrics
from bassl.runs import read_scores
from bassl.study import machine
from bassl.zeroshot import SCENE_SHOTS, SCORES, label_free_threshold, load_pp, movie_scores

RUNS = {'BaSSL': ('runs/demo/features', 'runs/demo/pretrain'),                     # features, and the pre-training with its PP head
        'SimCLR instance': ('runs/demo/instance/features', None),
        'random init': ('runs/demo/random/features', None)}
FINETUNED = {'BaSSL': 'runs/demo/finetune', 'SimCLR instance': 'runs/demo/instance/finetune', 'random init': 'runs/demo/random/finetune'}  # with labels, for reference
METRICS = ('AP', 'AUC', 'F1', 'mIoU')


def test_labels(root:MovieNetRoot) -> dict[str, np.ndarray]:
    "{vid: [n-1] 0/1} of the test movies: abs(boundary_label) of shots 0..n-2."
    t = ShotTable.read(root.anno_file('test'))
    out = {}
    for m, vid in enumerate(t.vids):
        rows = t.movie == m
        lab = np.zeros(int(t.num_shot[rows][0]) - 1, np.int64)
        keep = t.shot[rows] < len(lab)
        lab[t.shot[rows][keep]] = np.abs(t.label[rows][keep])
        out[vid] = lab
    return out


def score_table(scores:dict[str, np.ndarray], labels:dict[str, np.ndarray], tables:dict[str, np.ndarray]) -> dict[str, float]:
    "AP/AUC of the raw scores, F1/mIoU of the label-free cut (each movie at its own threshold), x100."
    vids = sorted(labels)
    raw = Predictions(*[np.concatenate(c) for c in zip(*[([v] * len(labels[v]), np.arange(len(labels[v])), scores[v], labels[v]) for v in vids])])
    cut = Predictions(raw.vid, raw.shot, np.concatenate([(scores[v] > label_free_threshold(scores[v])).astype(float) for v in vids]), raw.label)
    a, b = boundary_metrics(raw, tables), boundary_metrics(cut, tables)
    return {'AP': a['AP'], 'AUC': a['AUC'], 'F1': b['F1'], 'mIoU': b['mIoU']}


def last_pp_loss(pretrain:str) -> float|None:
    "The last logged PP training loss of a pre-training (ln 2 = 0.693: a head that learned nothing)."
    vals = [float(r['train/pp']) for r in metric_rows(pretrain) if r.get('train/pp')]
    return vals[-1] if vals else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--root', default='data/synthetic')
    ap.add_argument('--out', type=Path, default=Path('results/zeroshot/demo.json'))
    a = ap.parse_args()
    torch.set_num_threads(2)
    root = MovieNetRoot(a.root)
    labels = test_labels(root)
    tables = {v: read_shot_table(root.shot_table_file(v)) for v in sorted(labels)}
    chance = boundary_rate(a.root, 'test')
    rows, t0 = [], time.monotonic()
    for name, (features, pretrain) in RUNS.items():
        store = FeatureStore(features)
        for score in SCORES:
            if score == 'pp' and pretrain is None: continue
            kw = {'pp': load_pp(pretrain)} if score == 'pp' else {}
            s = movie_scores(store, score, sorted(labels), **kw)
            rows.append({'features': name, 'store': features, 'pretrain': pretrain, 'score': score, **score_table(s, labels, tables)})
    print(f"{'features':<16} {'score':<7} " + ' '.join(f'{m:>6}' for m in METRICS))
    for r in rows: print(f"{r['features']:<16} {r['score']:<7} " + ' '.join(f'{r[m]:6.2f}' for m in METRICS))
    print(f"chance (boundary rate of the test split): AP {chance:.2f}")
    for r, f in FINETUNED.items():
        if Path(f, 'scores.json').is_file(): print(f"fine-tuned with labels, {r:<16}", ' '.join(f'{read_scores(f)[m]:6.2f}' for m in METRICS))
    rec = {'what': 'label-free boundary scores (bassl.zeroshot) on the synthetic test split, no fine-tuning',
           'root': a.root, 'test_movies': len(labels), 'test_shots': int(sum(len(l) for l in labels.values())),
           'scene_shots': SCENE_SHOTS, 'chance_AP': chance, 'rows': rows,
           'finetuned': {r: {m: read_scores(f)[m] for m in METRICS} for r, f in FINETUNED.items() if Path(f, 'scores.json').is_file()},
           'pp_train_loss_last': {r: last_pp_loss(p) for r, (_, p) in RUNS.items() if p}, 'machine': machine(),
           'seconds': round(time.monotonic() - t0, 1), 'date': time.strftime('%Y-%m-%d')}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(rec, indent=1) + '\n')
    print(f"-> {a.out}")


if __name__ == '__main__':
    main()
