"""Fine-tuning input benchmark: 17-shot feature windows per second from bassl's feature store (one memory-mapped array
per movie) against the public release's layout (one .npy file per shot), measured in the same run; then a training
batch of an ensemble (each member its own windows, `MemberSamples`) as the DataLoader fetches it from the store: window
by window (`MemberSamples[i]`) against all at once (`__getitems__`, one indexing per movie), collated alike.

    python bench/features.py [--movies 20] [--shots 600] [--dim 2048] [--windows 2000] [--batch 64] [--members 10]

`--dim 512 --members 10` is the demo's fine-tuning (ResNet-18 features, `bassl.study.DEMO_SIZE`'s ensemble).

Prints figures and the ratios; asserts nothing but that both batches are equal.
"""
import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate

from bassl.data.datasets import FinetuneDataset, MemberSamples, ShotTable
from bassl.data.sampling import sbd_window
from bassl.features import FeatureStore


class PerShotFiles:
    "The release layout: <vid>/shot_<NNNN>.npy, one [D] array per shot; a window loads 17 files."
    def __init__(self, folder, table):
        self.folder, self.table = Path(folder), table

    def __getitem__(self, idx):
        vid, c, n = self.table.record(idx)
        x = np.stack([np.load(self.folder/vid/f'shot_{s:04d}.npy') for s in sbd_window(c, n)])
        return {'features': torch.from_numpy(x), 'label': int(abs(self.table.label[idx]))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--movies', type=int, default=20)
    ap.add_argument('--shots', type=int, default=600)
    ap.add_argument('--dim', type=int, default=2048)
    ap.add_argument('--windows', type=int, default=2000)
    ap.add_argument('--batch', type=int, default=64, help='samples per DataLoader batch (the CPU preset fine-tunes with 64)')
    ap.add_argument('--members', type=int, default=10, help="an ensemble's members, each its own windows (the demo's: 10)")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        store = FeatureStore(d/'store')
        vids = [f'tt{9000000 + i:07d}' for i in range(a.movies)]
        lines = []
        for v in vids:
            f = rng.standard_normal((a.shots, a.dim), dtype=np.float32)
            store.write(v, f)
            (d/'per_shot'/v).mkdir(parents=True)
            for s in range(a.shots): np.save(d/'per_shot'/v/f'shot_{s:04d}.npy', f[s])
            lines += [f'{{"video_id": "{v}", "shot_id": "{s:04d}", "num_shot": {a.shots}, "boundary_label": 0}}\n' for s in range(a.shots - 1)]
        (d/'anno.ndjson').write_text(''.join(lines))
        table = ShotTable.read(d/'anno.ndjson')
        ours, theirs = FinetuneDataset(store, table), PerShotFiles(d/'per_shot', table)
        idx = random.Random(0).sample(range(len(table)), a.windows)
        times = {'store': [], 'per-shot': []}
        for i in idx:  # interleaved, so machine noise hits both alike
            for name, ds in (('store', ours), ('per-shot', theirs)):
                t0 = time.perf_counter(); ds[i]; times[name].append(time.perf_counter() - t0)
        print(f"{a.movies} movies x {a.shots} shots, D = {a.dim}, {a.windows} random 17-shot windows, files in the page cache\n")
        for name, t in times.items(): print(f"{name:9s} {1e6 * np.median(t):8.1f} us/window {1 / np.median(t):10.0f} windows/s")
        print(f"\nspeed-up: {np.median(times['per-shot']) / np.median(times['store']):.1f}x")
        batches = [idx[k:k + a.batch] for k in range(0, len(idx) - a.batch + 1, a.batch)]
        ms = MemberSamples(ours, a.members)
        ways = {'window by window': lambda b: default_collate([ms[i] for i in b]),
                'a batch at once': lambda b: default_collate(ms.__getitems__(b))}
        one, many = (f(batches[0]) for f in ways.values())
        assert all(torch.equal(one[k], many[k]) if torch.is_tensor(one[k]) else one[k] == many[k] for k in one)
        times = {name: [] for name in ways}
        for b in batches * 3:  # interleaved
            for name, f in ways.items():
                t0 = time.perf_counter(); f(b); times[name].append(time.perf_counter() - t0)
        print(f"\na training batch of {a.batch} samples x {a.members} members from the store, collated "
              f"({len(batches) * 3} batches):")
        for name, t in times.items():
            print(f"{name:17s} {1e3 * np.median(t):7.2f} ms/batch {a.batch * a.members / np.median(t):10.0f} windows/s")
        print(f"\nspeed-up: {np.median(times['window by window']) / np.median(times['a batch at once']):.1f}x")


if __name__ == '__main__':
    main()
