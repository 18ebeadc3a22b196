"""BaSSL objective benchmark: forward + backward of the four pretext tasks on random encoder outputs, and where the time goes.

Encoder outputs [B, 19, 2048] (2 sparse anchors + 17 dense shots), the paper's full-size CRN (768 wide, 2 layers, 8 heads,
FFN 3072) and heads, on the CPU, at B = 64 and 256. Four ways to compute the same losses, timed in one process with their
repetitions interleaved (so that the load of the machine weighs on all of them alike):

- `original`: the public implementation's structure: two full CRN passes, the MSM head on the masked shots only
  (boolean indexing: a host sync on an accelerator);
- `composition`: this package before issue 16: two full CRN passes, the MSM head on all 17 shots, mask-weighted;
- `eager`: `BaSSLObjective` as it is: the CRN's last layer only at the tokens the losses read;
- `compiled`: the same under `torch.compile(fullgraph=True)` (fixed shapes: MSM on all 17 shots).

Then the profiler's share of the step that is matrix products (`aten::mm`, `addmm`, `bmm`, ...), for `composition` and
`eager`, and what else takes the most time, summed over `--reps` steps (a single step moves by a point or two on a
shared machine).

    python bench/objective.py [--batch 64 256] [--reps 3] [--backend inductor] [--quick]

`--quick` (CI's dry run) takes one small batch, one repetition and the `aot_eager` backend. Prints figures and ratios;
asserts nothing.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from bassl.models.crn import CRN
from bassl.pretext.dtw import pseudo_boundary
from bassl.pretext.objectives import (BaSSLObjective, contextual_group_matching, masked_shot_modelling, msm_mask,
                                      pseudo_boundary_prediction, shot_scene_matching)

MATMUL_OPS = {'aten::mm', 'aten::addmm', 'aten::bmm', 'aten::baddbmm', 'aten::matmul', 'aten::linear',
              'aten::_scaled_dot_product_flash_attention_for_cpu'}


def stock_tokens(crn, x, mask=None):
    "All shot tokens `[B, n, H]` the textbook way: embedding in input space, `nn.TransformerEncoder`'s own forward."
    return crn.reference_tokens(x, mask)[:, 1:]


def composition(obj, sparse, dense, crn, masked_only=False):
    "The four tasks one after the other on full CRN passes; `masked_only`: the MSM head on the masked shots (host sync)."
    B, n, _ = dense.shape
    zs, zd = obj.head_nce(sparse), obj.head_nce(dense)
    b = pseudo_boundary(zs, zd)
    h = stock_tokens(crn, dense)
    out = {'ssm': shot_scene_matching(zs, zd, b), 'cgm': contextual_group_matching(h, b, obj.head_cgm),
           'pp': pseudo_boundary_prediction(h, b, obj.head_pp)}
    mask = msm_mask(B, n)
    h = stock_tokens(crn, dense, mask)
    if masked_only: out['msm'] = (obj.head_msm(h[mask]) - dense[mask].detach()).pow(2).mean()
    else: out['msm'] = masked_shot_modelling(obj.head_msm(h), dense, mask)
    return out


def median_ms(fns, reps):
    "Median milliseconds of each function, repetitions interleaved, after one warm-up call each."
    for fn in fns.values(): fn()
    ts = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0 = time.perf_counter(); fn(); ts[k].append(time.perf_counter() - t0)
    return {k: 1000 * float(np.median(v)) for k, v in ts.items()}


def profile_step(fn, reps=1):
    "Share of the step's CPU time in matrix products, and the largest other operators as (name, share), summed over `reps` steps."
    with profile(activities=[ProfilerActivity.CPU]) as p:
        for _ in range(reps): fn()
    ev = [e for e in p.key_averages() if e.key.startswith('aten::')]
    total = sum(e.self_cpu_time_total for e in ev)
    mm = sum(e.self_cpu_time_total for e in ev if e.key in MATMUL_OPS)
    rest = sorted((e for e in ev if e.key not in MATMUL_OPS), key=lambda e: -e.self_cpu_time_total)[:6]
    return mm / total, [(e.key[6:], e.self_cpu_time_total / total) for e in rest]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch', type=int, nargs='+', default=[64, 256])
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--backend', default='inductor', help="torch.compile backend of the compiled step")
    ap.add_argument('--quick', action='store_true', help="CI's dry run: B = 4, one repetition, the aot_eager backend")
    a = ap.parse_args()
    if a.quick: a.batch, a.reps, a.backend = [4], 1, 'aot_eager'
    torch.manual_seed(0)
    crn, obj = CRN(), BaSSLObjective()
    params = [*crn.parameters(), *obj.parameters()]
    total = lambda o, s, d, c: sum(o(s, d, c).values())
    compiled = torch.compile(total, fullgraph=True, backend=a.backend)
    print(f"BaSSL objective (SSM + CGM + PP + MSM), full-size CRN, forward + backward, CPU, {torch.get_num_threads()} "
          f"thread(s), compiled with {a.backend}\n")
    print(f"{'B':>5s} {'original':>10s} {'composition':>12s} {'eager':>9s} {'compiled':>9s}   "
          f"{'eager/original':>14s} {'eager/composition':>17s} {'compiled/eager':>14s}   ms per step")
    shares = {}
    for B in a.batch:
        x = torch.randn(B, 19, 2048, requires_grad=True)
        s, d = x[:, :2], x[:, 2:]
        losses = {'original': lambda: sum(composition(obj, s, d, crn, masked_only=True).values()),
                  'composition': lambda: sum(composition(obj, s, d, crn).values()),
                  'eager': lambda: total(obj, s, d, crn),
                  'compiled': lambda: compiled(obj, s, d, crn)}
        fns = {k: (lambda f=f: torch.autograd.grad(f(), params + [x])) for k, f in losses.items()}
        t = median_ms(fns, a.reps)
        print(f"{B:5d} {t['original']:10.1f} {t['composition']:12.1f} {t['eager']:9.1f} {t['compiled']:9.1f}   "
              f"{t['eager'] / t['original']:14.3f} {t['eager'] / t['composition']:17.3f} {t['compiled'] / t['eager']:14.3f}")
        shares[B] = {k: profile_step(fns[k], a.reps) for k in ('composition', 'eager')}
    print(f"\nShare of the step in matrix products (torch.profiler, self CPU time of aten operators over {a.reps} steps), "
          "and the largest others:")
    for B, s in shares.items():
        for k, (mm, rest) in s.items():
            print(f"{B:5d} {k:12s} {100 * mm:6.2f}%   " + ", ".join(f"{n} {100 * f:.2f}%" for n, f in rest))


if __name__ == '__main__':
    main()
