"""Fine-tuning's seed spread: the same stored features fine-tuned with several seeds, under two recipes, side by side.

Fine-tuning on stored features is where a comparison of pre-trainings is decided, and a seed (the CRN's and the head's
initialisation, the batch order) can move one run's AP by tens of points on the demo's data. This script fine-tunes each
feature store of a finished `make demo` (BaSSL with its transferred and with a fresh CRN, SimCLR instance, a random
encoder) with --seeds seeds under each recipe, with bassl's own `finetune` (the runs are kept under --out and reused when
run again), and prints per row and recipe: the AP of every seed, mean, standard deviation and 95 % interval (Student t).

    python bench/finetune_seeds.py [--demo runs/demo] [--seeds 5] [--out runs/finetune-seeds]
                                   [--recipes "one model, 15 epochs=members:1,epochs:15" "cpu preset=preset"]

A recipe is `label=field:value,...` over `finetune` fields of the CPU preset (`preset` alone: the preset as it is). It
writes the figures to --out/finetune_seeds.json with the machine (bassl.study.machine: the yardstick and the CPU).
"""
import argparse
import dataclasses
import json
import time
from pathlib import Path

from bassl.config import FinetuneConfig, preset
from bassl.core import write_json
from bassl.features import FeatureStore
from bassl.study import machine, mean_interval
from bassl.train.finetune import finetune

ROWS = {  # label: (feature store under the demo's run folder, crn_init, method whose preset it is)
    'BaSSL, transferred CRN': ('features', 'pretrain', 'bassl'),
    'BaSSL, fresh CRN': ('features', 'scratch', 'bassl'),
    'SimCLR instance': ('instance/features', 'scratch', 'instance'),
    'random init': ('random/features', 'scratch', 'bassl')}
TYPES = {f.name: f.type for f in dataclasses.fields(FinetuneConfig)}


def recipe(text):
    "'label=field:value,...' -> (label, {field: value}); 'label=preset' -> (label, {})."
    label, _, spec = text.partition('=')
    if spec.strip() == 'preset': return label, {}
    out = {}
    for kv in spec.split(','):
        k, _, v = kv.partition(':')
        if TYPES.get(k) not in ('int', 'float'): raise SystemExit(f"--recipes: {k!r} is not a numeric finetune field (expected one of "
                                                                  f"{[n for n, t in TYPES.items() if t in ('int', 'float')]})")
        out[k] = int(v) if TYPES[k] == 'int' else float(v)
    return label, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--demo', default='runs/demo', help="a finished `make demo`'s run folder (default: runs/demo)")
    ap.add_argument('--seeds', type=int, default=5, help='fine-tuning seeds per row and recipe (default: 5)')
    ap.add_argument('--out', default='runs/finetune-seeds', help='where the fine-tunings go (reused when run again)')
    ap.add_argument('--recipes', nargs='+', default=['one model, 15 epochs=members:1,epochs:15', 'cpu preset=preset'])
    ap.add_argument('--rows', nargs='+', default=list(ROWS), choices=list(ROWS))
    a = ap.parse_args()
    demo, out = Path(a.demo), Path(a.out)
    recipes = dict(recipe(r) for r in a.recipes)
    for label in a.rows:
        if not len(FeatureStore(demo/ROWS[label][0])): raise SystemExit(f"{demo/ROWS[label][0]}: no features: run `make demo` first")
    res = {'machine': machine(), 'seeds': list(range(a.seeds)), 'rows': {}}
    print(f"yardstick {res['machine']['yardstick_s']:.2f} s ({res['machine']['cpu']})", flush=True)
    for label in a.rows:
        store, crn, method = ROWS[label]
        for name, fields in recipes.items():
            scores, t0 = [], time.time()
            for s in range(a.seeds):
                cfg = preset(method, 'cpu', crn=crn, seed=s)
                cfg = dataclasses.replace(cfg, finetune=dataclasses.replace(cfg.finetune, **fields))
                slug = f"{label}-{name}".lower().replace(' ', '-').replace(',', '')
                scores.append(finetune(cfg, demo/store, out/slug/f'seed{s}', progress=False)['AP'])
            m = mean_interval(scores)
            res['rows'].setdefault(label, {})[name] = {**m, 'values': scores, 'fields': fields, 'seconds': time.time() - t0}
            print(f"{label:24s} {name:22s} AP {m['mean']:5.1f} ± {m['sd']:4.1f} (95 % CI {m['ci'][0]:5.1f} to {m['ci'][1]:5.1f})  "
                  f"[{', '.join(f'{v:.1f}' for v in scores)}]  {time.time() - t0:.0f} s", flush=True)
    write_json(out/'finetune_seeds.json', res, indent=1)
    print(f"figures: {out/'finetune_seeds.json'}")


if __name__ == '__main__':
    main()
