"""One fine-tuning step of the demo's recipe (an ensemble of CRN + SBD heads on stored features), two ways, interleaved.

Fine-tuning is most of `make demo`'s time. This times a training step (forward, backward, Adam) of the CPU preset's CRN
at the demo's recipe (`bassl.study.DEMO_SIZE`: 10 members, standardised features) on random 512-d features (ResNet-18's),
each member its own batch as in training, two ways: every token through the last layer, then the pooling (`CRN.forward`),
and `CRN.pooled` (what `SceneBoundaryModel` runs: the last layer computes the centre token only, its query included).
The same seed gives both the same dropout masks; the gradients agree to rounding (checked first).

    python bench/finetune_step.py [--reps 20] [--quick]

Prints the median seconds per step of each, their ratio and the machine's yardstick; it asserts nothing but the check.
"""
import argparse
import statistics
import time
from dataclasses import asdict

import torch

from bassl.config import preset
from bassl.models.sbd import SceneBoundaryEnsemble
from bassl.study import DEMO_SIZE, machine
from bassl.train.finetune import balanced_cross_entropy


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--reps', type=int, default=20, help='timed steps of each way (default: 20)')
    ap.add_argument('--quick', action='store_true', help='2 members, 3 steps: check that it runs')
    a = ap.parse_args()
    cfg = preset('bassl', 'cpu')
    f = cfg.finetune
    members = 2 if a.quick else DEMO_SIZE['config']['finetune']['members']
    reps = 3 if a.quick else a.reps
    crn = {**asdict(f.crn), 'num_shots': 2 * f.neighbor_size + 1}
    torch.manual_seed(0)
    ens = SceneBoundaryEnsemble(512, crn, members, standardize=True).train()
    opt = torch.optim.Adam(ens.parameters(), lr=1e-4)
    B = cfg.per_device_batch('finetune')
    x, y = torch.randn(members, B, crn['num_shots'], 512), torch.randint(0, 2, (members, B))
    ways = {'all tokens, then pool': lambda m, b: m.head_sbd(m.crn(b)[1]), 'CRN.pooled': lambda m, b: m(b)}

    def step(way, update=True):
        opt.zero_grad()
        logits = [ways[way](m, b) for m, b in zip(ens.members, ens.standardize(x))]
        sum(balanced_cross_entropy(l, t) for l, t in zip(logits, y)).backward()
        if update: opt.step()

    grads = {}
    for way in ways:
        torch.manual_seed(1); step(way, update=False)
        grads[way] = [p.grad.clone() for p in ens.parameters() if p.grad is not None]
    err = max((g - h).abs().max().item() for g, h in zip(*grads.values()))
    assert err < 1e-5, f"the two ways' gradients differ by {err}"
    times = {w: [] for w in ways}
    for w in ways: step(w)                                               # warm-up
    for _ in range(reps):
        for w in ways:
            t = time.perf_counter(); step(w); times[w].append(time.perf_counter() - t)
    med = {w: statistics.median(t) for w, t in times.items()}
    print(f"{members} members, batch {B}, {crn['num_shots']} shots, CRN {crn['hidden']} wide, {crn['layers']} layer(s); "
          f"gradients agree to {err:.1e}")
    for w, s in med.items(): print(f"{w}: {s * 1000:.0f} ms per step (median of {reps})")
    a_, b_ = med.values()
    print(f"CRN.pooled / all tokens: {b_ / a_:.2f}")
    m = machine(3)
    print(f"yardstick: {m['yardstick_s'] * 1000:.0f} ms ({m['cpu']}, {m['threads']} threads)")


if __name__ == '__main__':
    main()
