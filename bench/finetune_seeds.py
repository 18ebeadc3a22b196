"""Fine-tuning's seed spread: the same stored features fine-tuned with several seeds, under two recipes, side by side.

Fine-tuning on stored features is where a comparison of pre-trainings is decided, and a seed (the CRN's and the head's
initialisation, the batch order) can move one run's AP by tens of points on the demo's data. This script fine-tunes each
feature store of a finished `make demo` (BaSSL with its transferred and with a fresh CRN, SimCLR instance, a random
encoder) with --seeds seeds under each recipe, with bassl's own `finetune` (the runs are kept under --out and reused when
run again), and prints per row and recipe: the AP of every seed, mean, standard deviation and 95 % interval (Student t).
Each recipe's figures are also written as a study record (`bassl.study`'s study.json: the rows, every cell's scores,
the pre-training's budget, the machine and its yardstick), which `bassl.study.summarize` and `study_table` read: README
and the docs' results page render the committed ones in results/.

    python bench/finetune_seeds.py [--demo runs/demo] [--seeds 5] [--out runs/finetune-seeds] [--results DIR] [--split val]
                                   [--recipes "one model, 15 epochs=members:1,epochs:15,standardize:false" "cpu preset=preset"]
                                   [--jobs 1]

A recipe is `label=field:value,...` over `finetune` fields of the CPU preset (`preset` alone: the preset as it is,
which fine-tunes a fresh and a transferred CRN with different recipes: `bassl.config.FINETUNE_RECIPE`); a
number or a boolean (`"standardised=standardize:true"`: features standardised with the training shots' statistics). The
records go to --results (default: --out) as finetune-seeds-<recipe>.json. `--split val` scores every run on the validation
movies instead (into its val/ folder; records finetune-seeds-<recipe>-val.json): choose a recipe there, then report test.
`--jobs N` runs N fine-tunings at once (0: one per core), each in a long-lived worker process with its share of the
threads: on 2 cores two one-thread fine-tunings give about 1.6 times the throughput of one with two threads (see
`bassl.study`); a run scores the same in a worker as in this process with as many threads. A run reused from --out
keeps the seconds it took when it ran (its bench-seconds.json; a run finished before there was one: the reuse's).
"""
import argparse
import concurrent.futures
import dataclasses
import json
import multiprocessing
import re
import time
from pathlib import Path

import torch

from bassl.config import FinetuneConfig, load_config, preset
from bassl.core import write_json
from bassl.experiments import boundary_rate, pretrain_budget
from bassl.features import FeatureStore
from bassl.runs import read_done, read_scores
from bassl.study import NO_BUDGET, Row, Study, jobs_at_once, machine, mean_interval, summarize, study_table
from bassl.train.finetune import evaluate, finetune

ROWS = {  # label: (feature store under the demo's run folder, crn_init, method whose preset it is, its pre-training folder)
    'BaSSL, transferred CRN': ('features', 'pretrain', 'bassl', 'pretrain'),
    'BaSSL, fresh CRN': ('features', 'scratch', 'bassl', 'pretrain'),
    'SimCLR instance': ('instance/features', 'scratch', 'instance', 'instance/pretrain'),
    'random init': ('random/features', 'scratch', 'bassl', None)}
STUDY_ROWS = {'BaSSL, transferred CRN': Row('BaSSL, transferred CRN', crn='pretrain'), 'BaSSL, fresh CRN': Row('BaSSL, fresh CRN', crn='scratch'),
              'SimCLR instance': Row('SimCLR instance', 'instance'), 'random init': Row('random init', encoder='random', crn='scratch')}
TYPES = {f.name: f.type for f in dataclasses.fields(FinetuneConfig)}
TIMED = 'bench-seconds.json'  # in each run folder: the seconds its fine-tuning and test took, read when the run is reused


def _bool(text:str) -> bool:
    "'true'/'false' (any case; also 1/0, yes/no) -> bool."
    t = text.lower()
    if t in ('true', '1', 'yes'): return True
    if t in ('false', '0', 'no'): return False
    raise ValueError(text)


VALUES = {'int': int, 'float': float, 'bool': _bool}  # a field's annotation -> how a recipe's value of it is read


def recipe(text):
    "'label=field:value,...' -> (label, {field: value}); 'label=preset' -> (label, {})."
    label, _, spec = text.partition('=')
    if spec.strip() == 'preset': return label, {}
    out = {}
    for kv in spec.split(','):
        k, _, v = (s.strip() for s in kv.partition(':'))
        if TYPES.get(k) not in VALUES: raise SystemExit(f"--recipes: {k!r} is not a numeric or boolean finetune field (expected one of "
                                                        f"{[n for n, t in TYPES.items() if t in VALUES]})")
        try: out[k] = VALUES[TYPES[k]](v)
        except ValueError: raise SystemExit(f"--recipes: {k}:{v!r} is not a{'n' * (TYPES[k] == 'int')} {TYPES[k]}") from None
    return label, out


def slug(text:str) -> str:
    "A file-name form of a label: 'one model, 15 epochs' -> 'one-model-15-epochs'."
    return re.sub(r'[^a-z0-9+]+', '-', text.lower()).strip('-')


def _finetune(fields:dict, crn:str='scratch'):
    "The fine-tuning settings of a recipe for a CRN that starts at `crn`: the CPU preset's (`FINETUNE_RECIPE`), with its changes."
    return dataclasses.replace(preset('bassl', 'cpu', crn=crn).finetune, **fields)


def _settings(fields:dict) -> str:
    "What a recipe fine-tunes with, read from the CPU preset it changes: members, epochs, batch."
    say = lambda f: f"{f.members} member{'s' * (f.members > 1)}, {f.epochs} epochs of batch {f.global_batch}{', standardised features' * f.standardize}"
    fresh, moved = say(_finetune(fields)), say(_finetune(fields, 'pretrain'))
    return fresh if fresh == moved else f"a fresh CRN: {fresh}; a transferred CRN: {moved}"


def fine_tune(demo:Path, out:Path, label:str, name:str, fields:dict, seed:int, split:str='test') -> tuple[str, dict, float]:
    "One cell: row `label`'s features fine-tuned under recipe `name` with `seed` (reused when done): (its run, scores, seconds)."
    store, crn, method, _ = ROWS[label]
    cfg = preset(method, 'cpu', crn=crn, seed=seed)
    cfg = dataclasses.replace(cfg, finetune=dataclasses.replace(cfg.finetune, **fields))
    run, t = out/slug(f"{label}-{name}")/f'seed{seed}', time.time()
    timed, done = run/TIMED, (run/'scores.json').is_file()
    sc = finetune(cfg, demo/store, run, progress=False)
    if done and timed.is_file(): seconds = json.loads(timed.read_text())['seconds']  # reused: the time it took when it ran
    else:
        seconds = time.time() - t
        if not done: write_json(timed, {'seconds': seconds})  # (a run finished without one: its reuse timed, not stored)
    if split == 'val':  # scored once: a rerun reads its val/scores.json
        val = run/'val'
        sc = read_scores(val) if (val/'scores.json').is_file() else evaluate(run/'checkpoints'/'last.ckpt', split='val', progress=False)
    return str(run), sc, seconds


def declaration(name:str, title:str, fields:dict, out:Path, rows:list[str], seeds:list[int], pretrain_epochs:int, split:str='test') -> dict:
    "The study a recipe's record declares: its rows and seeds, and the settings its runs had (the demo's pre-training, the recipe's fine-tuning)."
    return Study(name=f"finetune-seeds-{slug(name)}{'-val' * (split == 'val')}", title=title, runs=str(out), rows=[STUDY_ROWS[l] for l in rows], finetune_seeds=seeds,
                 baseline='SimCLR instance' if 'SimCLR instance' in rows else '', epochs=pretrain_epochs, max_steps=-1,
                 finetune_epochs=_finetune(fields).epochs, config={'finetune': fields} if fields else {}).declaration()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--demo', default='runs/demo', help="a finished `make demo`'s run folder (default: runs/demo)")
    ap.add_argument('--seeds', type=int, default=5, help='fine-tuning seeds per row and recipe (default: 5)')
    ap.add_argument('--out', default='runs/finetune-seeds', help='where the fine-tunings go (reused when run again)')
    ap.add_argument('--recipes', nargs='+', default=['one model, 15 epochs=members:1,epochs:15,standardize:false', 'cpu preset=preset'])
    ap.add_argument('--rows', nargs='+', default=list(ROWS), choices=list(ROWS))
    ap.add_argument('--results', default=None, help='folder of the study records, one per recipe (default: --out)')
    ap.add_argument('--split', default='test', choices=['test', 'val'], help="the movies scored: 'test', or 'val' to choose a recipe")
    ap.add_argument('--jobs', type=int, default=1, help='fine-tunings at once, each a worker process (0: one per core; default: 1)')
    a = ap.parse_args()
    if a.jobs < 0: raise SystemExit(f"--jobs: expected an integer >= 0 (0: one per core), got {a.jobs}")
    demo, out = Path(a.demo), Path(a.out)
    recipes = dict(recipe(r) for r in a.recipes)
    for label in a.rows:
        if not len(FeatureStore(demo/ROWS[label][0])): raise SystemExit(f"{demo/ROWS[label][0]}: no features: run `make demo` first")
    mach, seeds = machine(), list(range(a.seeds))
    print(f"yardstick {mach['yardstick_s']:.2f} s ({mach['cpu']})", flush=True)
    pre_cfg = load_config(demo/'pretrain'/'config.json').pretrain
    pre_epochs, pre_steps = pre_cfg.epochs, pretrain_budget(demo/'pretrain')['steps']
    title = lambda name, fields: (f"Features of a {pre_steps}-step pre-training at {pre_cfg.image_size} px ({demo}) fine-tuned with "
                                  f"{a.seeds} seeds: {name} ({_settings(fields)}){', scored on the validation movies' * (a.split == 'val')}")
    records = {name: {'study': declaration(name, title(name, fields), fields, out, a.rows, seeds, pre_epochs, a.split),
                      'machine': mach, 'chance': boundary_rate(preset().root, a.split), 'cells_total': len(a.rows) * len(seeds),
                      'recipe': fields, 'cells': []} for name, fields in recipes.items()}
    cells = [(label, name, s) for label in a.rows for name in recipes for s in seeds]  # in the records' order
    jobs = min(jobs_at_once(a.jobs), len(cells))
    if jobs == 1: results = {c: (lambda c=c: fine_tune(demo, out, *c[:2], recipes[c[1]], c[2], a.split)) for c in cells}
    else:   # long-lived workers (spawned: no forked torch threads), the cores' threads shared among them
        threads = max(1, torch.get_num_threads() // jobs)
        print(f"{len(cells)} fine-tunings, {jobs} at a time ({threads} thread(s) each)", flush=True)
        pool = concurrent.futures.ProcessPoolExecutor(jobs, multiprocessing.get_context('spawn'), torch.set_num_threads, (threads,))
        results = {c: pool.submit(fine_tune, demo, out, *c[:2], recipes[c[1]], c[2], a.split).result for c in cells}
    try:
        for label in a.rows:
            store, crn, method, pre = ROWS[label]
            budget = dict(NO_BUDGET) if pre is None else {**pretrain_budget(demo/pre), 'seconds': read_done(demo/pre)['seconds']}
            for name in recipes:
                scores, took = [], 0.
                for s in seeds:
                    run, sc, seconds = results[label, name, s]()
                    scores.append(sc['AP']); took += seconds
                    records[name]['cells'].append({'row': label, 'pretrain_seed': 0, 'finetune_seed': s, 'pretrain_run': str(demo/(pre or store)),
                                                   'finetune_run': run, 'scores': sc, 'budget': budget,
                                                   'seconds': {'extract': None, 'finetune': seconds}})
                m = mean_interval(scores)
                spread = (f"± {m['sd']:4.1f} (95 % CI {m['ci'][0]:5.1f} to {m['ci'][1]:5.1f})" if m['sd'] is not None
                          else '(one seed: no interval)')
                print(f"{label:24s} {name:22s} AP {m['mean']:5.1f} {spread}  [{', '.join(f'{v:.1f}' for v in scores)}]  "
                      f"{took:.0f} s of fine-tuning", flush=True)
    finally:  # an error or an interrupt: no new fine-tuning starts (the finished ones are kept in --out and reused)
        if jobs > 1: pool.shutdown(cancel_futures=True)
    for name, rec in records.items():
        path = Path(a.results or out)/f"{rec['study']['name']}.json"
        write_json(path, rec, indent=1)
        print(f"\n{name} ({path}):\n{study_table(summarize(rec))}")


if __name__ == '__main__':
    main()
