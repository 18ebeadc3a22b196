"""BaSSL objective benchmark: forward + backward of the four pretext tasks on random encoder outputs.

Encoder outputs [B, 19, 2048] (2 sparse anchors + 17 dense shots), the paper's full-size CRN (768 wide, 2 layers, 8 heads,
FFN 3072) and heads, at B = 64 and 256 on the CPU. Reports milliseconds per step, and the time of what the objective
adds around the CRN and the heads' matrix products, each piece run alone on the same shapes:
the pretext logic (pseudo-boundary by DTW, scene pooling, group sampling, masking) and the loss arithmetic
(InfoNCE, cross-entropies, masked MSE, forward and backward).

    python bench/objective.py [--batch 64 256] [--reps 3]

Prints figures and ratios; asserts nothing.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from bassl.models.crn import CRN
from bassl.pretext.dtw import pseudo_boundary
from bassl.pretext.objectives import BaSSLObjective, cgm_pairs, info_nce, msm_mask, sample_where, scene_embeddings


def median_ms(fn, reps):
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return 1000 * float(np.median(ts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch', type=int, nargs='+', default=[64, 256])
    ap.add_argument('--reps', type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    crn, obj = CRN(), BaSSLObjective()
    params = [*crn.parameters(), *obj.parameters()]
    print(f"BaSSL objective (SSM + CGM + PP + MSM), full-size CRN, CPU, {torch.get_num_threads()} threads\n")
    print(f"{'B':>5s} {'step ms':>9s} {'pretext logic ms':>17s} {'share':>7s} {'loss arithmetic ms':>19s} {'share':>7s}")
    for B in a.batch:
        x = torch.randn(B, 19, 2048, requires_grad=True)

        def step():
            loss = sum(obj(x[:, :2], x[:, 2:], crn).values())
            torch.autograd.grad(loss, params + [x])

        with torch.no_grad(): zs, zd = obj.head_nce(x[:, :2]), obj.head_nce(x[:, 2:])
        def logic():  # DTW, scene pooling, sampling, masking
            b = pseudo_boundary(zs, zd)
            scene_embeddings(zd, b)
            cgm_pairs(b, 17)
            sample_where(torch.arange(17)[None] != b[:, None])
            msm_mask(B, 17)

        zs_, zd_ = zs.clone().requires_grad_(), zd.clone().requires_grad_()
        h = torch.randn(2 * B, 2, requires_grad=True)
        pred, target, mask = torch.randn(B, 17, 2048, requires_grad=True), torch.randn(B, 17, 2048), msm_mask(B, 17)
        b = pseudo_boundary(zs, zd)
        y = torch.cat([torch.ones(B, dtype=torch.long), torch.zeros(B, dtype=torch.long)])
        def arithmetic():  # the loss functions themselves, forward and backward
            scene = scene_embeddings(zd_, b)
            loss = (info_nce(zs_[:, 0], scene[:, 0]) + info_nce(zs_[:, 1], scene[:, 1])) / 2
            loss = loss + 2 * F.cross_entropy(h, y)
            loss = loss + ((pred - target).pow(2).mean(-1) * mask).sum() / mask.sum()
            torch.autograd.grad(loss, [zs_, zd_, h, pred])

        t_step, t_logic, t_arith = median_ms(step, a.reps), median_ms(logic, 20), median_ms(arithmetic, 20)
        print(f"{B:5d} {t_step:9.1f} {t_logic:17.2f} {100 * t_logic / t_step:6.2f}% {t_arith:19.2f} {100 * t_arith / t_step:6.2f}%")
    print("\nEverything else in a step is the CRN (two passes: plain and masked) and the heads' matrix products.")


if __name__ == '__main__':
    main()
