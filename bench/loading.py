"""Loading benchmark: images per second per worker for a BaSSL pre-training sample, and delivered to the step.

A sample is 17 dense frames + 2 sparse anchors (19 images of 224x224) from 17 decoded keyframes. Per worker (one thread),
in one run, calls interleaved:
  (a) a straightforward pipeline: PIL decode and per-frame PIL transforms with the parameters shared per clip, as most
      implementations (including the public BaSSL code) do;
  (b) bassl's clip-level pipeline in one call per clip (`ClipAugment.compose`: one batched libjpeg-turbo decode, one
      torchvision.transforms.v2 call per step for the whole clip), what the workers did before the split;
  (c) the worker half of the split (`device_half='augment'`: decode, draw, crop + resize, flip, all uint8), and with
      decoding left to the GPU (`device_half='decode'`: read the files and their headers);
  (d) the device half on the CPU (`ClipAugment.batch`: jitter, blur, normalisation) on a collated batch.
Then images/s delivered to the training step end to end by a DataLoader with 1 and 2 workers on the CPU: (b) in the
workers, against the split with its device half in the training process.

    python bench/loading.py [--samples 30] [--size 426x240] [--root bench/out/movienet]

Prints figures and ratios; it asserts nothing (timings on shared machines are noisy).
"""
import argparse
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from torchvision import transforms as T
from torchvision.transforms import functional as TF
from torchvision.transforms.v2 import functional as F

from torch.utils.data import DataLoader

from bassl.data.datasets import PretrainDataset, worker_init
from bassl.data.movienet import NUM_KEYFRAMES
from bassl.data.sampling import dense_window, sparse_anchors
from bassl.data.synthetic import SynthConfig, builtin_complete, synthesize
from bassl.data.transforms import (IMAGENET_MEAN, IMAGENET_STD, ClipAugment, adjust_hue, blur_frames, decode_clip, decode_frames,
                                   reuse_freed_memory, train_transform)


class StraightforwardBaSSL:
    "The usual pipeline: PIL decode, then per-frame PIL transforms with one set of parameters per clip."
    def __init__(self, ds: PretrainDataset, size=224):
        self.ds, self.size = ds, size
        self.jitter = T.ColorJitter(0.2, 0.2, 0.2, 0.05)

    def augment(self, imgs):
        i, j, h, w = T.RandomResizedCrop.get_params(imgs[0], (0.14, 1.0), (3 / 4, 4 / 3))
        imgs = [TF.resized_crop(im, i, j, h, w, [self.size, self.size], T.InterpolationMode.BICUBIC) for im in imgs]
        if random.random() < 0.5: imgs = [TF.hflip(im) for im in imgs]
        if random.random() < 0.8:
            order, b, c, s, hue = T.ColorJitter.get_params(self.jitter.brightness, self.jitter.contrast,
                                                           self.jitter.saturation, self.jitter.hue)
            fns = {0: lambda im: TF.adjust_brightness(im, b), 1: lambda im: TF.adjust_contrast(im, c),
                   2: lambda im: TF.adjust_saturation(im, s), 3: lambda im: TF.adjust_hue(im, hue)}
            for f in order.tolist(): imgs = [fns[f](im) for im in imgs]
        if random.random() < 0.5:
            imgs = [im.filter(ImageFilter.GaussianBlur(radius=random.uniform(0.1, 2.0))) for im in imgs]
        return torch.stack([TF.normalize(TF.to_tensor(im), IMAGENET_MEAN, IMAGENET_STD) for im in imgs])

    def __getitem__(self, idx):
        vid, c, n = self.ds.table.record(idx)
        dense_idx = dense_window(c, n)
        cache = {}
        for s in dense_idx.tolist():
            if s not in cache:
                cache[s] = Image.open(self.ds.root.keyframe(vid, s, random.randrange(NUM_KEYFRAMES))).convert('RGB')
        imgs = [cache[s] for s in dense_idx.tolist()]
        dense = self.augment(imgs)
        sparse = self.augment([imgs[k] for k in sparse_anchors('edge')])
        return {'dense': dense, 'sparse': sparse}


def timeit(fn, n, repeat=3):
    "Best of `repeat` runs of n calls, in seconds per call."
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for i in range(n): fn(i)
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def interleaved(fns, n, rounds=3):
    "Median seconds per call of each of `fns`, calls alternating so that machine noise hits all alike."
    times = [[] for _ in fns]
    for _ in range(rounds):
        for i in range(n):
            for f, t in zip(fns, times):
                t0 = time.perf_counter(); f(i); t.append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--samples', type=int, default=30)
    ap.add_argument('--size', default='426x240', help='keyframe size of the generated data (MovieNet 240P: ~426x240)')
    ap.add_argument('--root', type=Path, default=Path('bench/out/movienet'))
    ap.add_argument('--batch', type=int, default=16, help='batch of the device half and of the end-to-end loaders')
    ap.add_argument('--batches', type=int, default=8, help='timed batches per end-to-end loader')
    ap.add_argument('--no-reuse', action='store_true', help="leave glibc's allocator as it is")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split('x'))
    cfg = SynthConfig(movies=3, shots=80, seed=0, width=w, height=h)
    if not builtin_complete(a.root, cfg):
        print(f"generating {a.root} ({cfg.movies} movies of {w}x{h} keyframes)")
        synthesize(a.root, cfg, progress=False)
    torch.set_num_threads(1)  # one DataLoader worker = one core
    if not a.no_reuse: reuse_freed_memory()  # what bassl's DataLoader workers do; applies to both pipelines
    torch.manual_seed(0); random.seed(0)
    aug = train_transform(224)
    whole = PretrainDataset(a.root, 'bassl', transform=aug.compose())              # (b) one call per clip, in the worker
    split = PretrainDataset(a.root, 'bassl', transform=aug, device_half='augment')  # (c) the worker half
    enc = PretrainDataset(a.root, 'bassl', transform=aug, device_half='decode')     # (c) the worker half when the GPU decodes
    base = StraightforwardBaSSL(whole)                                              # (a)
    idx = np.random.default_rng(0).choice(len(whole), a.samples, replace=False).tolist()
    n_img = 17 + 2
    print(f"BaSSL pre-training sample: 17 keyframes ({w}x{h}), {n_img} augmented 224x224 outputs; 1 thread; "
          f"freed memory {'returned to the OS' if a.no_reuse else 'reused'}\n")

    def decode_only(i):                                                             # the ceiling: a worker that only decodes
        vid, c, n = whole.table.record(idx[i])
        decode_frames([whole.root.keyframe(vid, s, random.randrange(NUM_KEYFRAMES)) for s in dense_window(c, n).tolist()])
    t_base, t_whole, t_split, t_enc, t_dec = interleaved(
        [lambda i: base[idx[i]], lambda i: whole[idx[i]], lambda i: split[idx[i]], lambda i: enc[idx[i]], decode_only], a.samples)
    rows = [('(a) per-frame PIL pipeline', t_base, n_img), ('(b) clip-level, one call per clip', t_whole, n_img),
            ('(c) worker half (uint8 clips)', t_split, n_img), ('(c) worker half, GPU decodes (bytes)', t_enc, n_img),
            ('decode only (the ceiling)', t_dec, n_img)]
    B = a.batch
    batch = PretrainDataset.collate([split[idx[i % len(idx)]] for i in range(B)])
    fresh = lambda: dict(batch, augment=dict(batch['augment']))                     # `batch` pops the plans
    rows.append((f'(d) device half on CPU, B={B}, by clip', timeit(lambda i: aug.batch(fresh()), 3), B * n_img))
    rows.append((f'(d) device half on CPU, B={B}, at once', timeit(lambda i: ClipAugment.device(batch['dense'], batch['augment']['dense'], by_clip=False), 2), B * 17))
    print(f"{'per worker':40s} {'ms/call':>9s} {'images/s':>9s} {'vs (a)':>7s}")
    for name, t, m in rows: print(f"{name:40s} {1000 * t:9.1f} {m / t:9.0f} {t_base / n_img * m / t:6.2f}x")
    print(f"\nworker half against the per-frame PIL pipeline: {t_base / t_split:.2f}x (goal 4x; decoding alone: {t_base / t_dec:.2f}x)")
    print(f"worker half against one call per clip:          {t_whole / t_split:.2f}x")

    # end to end: images per second reaching the training step, on this machine's CPU
    print(f"\nend to end on the CPU (batch {B}, {a.batches} batches after 2 of warm-up): images/s delivered to the step")
    print(f"{'':40s} {'1 worker':>9s} {'2 workers':>9s}")
    for name, ds, after in (('(b) floats made in the workers', whole, lambda b: b),
                            ('split: device half in the main process', split, aug.batch)):
        rates = []
        for workers in (1, 2):
            dl = DataLoader(ds, batch_size=B, shuffle=True, num_workers=workers, worker_init_fn=worker_init, drop_last=True,
                            collate_fn=PretrainDataset.collate, persistent_workers=False, prefetch_factor=2,
                            generator=torch.Generator().manual_seed(0))
            it = iter(dl)
            for _ in range(2): after(next(it))
            t0 = time.perf_counter()
            for _ in range(a.batches): after(next(it))
            rates.append(a.batches * B * n_img / (time.perf_counter() - t0))
            del it, dl
        print(f"{name:40s} {rates[0]:9.0f} {rates[1]:9.0f}")

    # components, on one 17-frame clip
    vid, c, n = whole.table.record(idx[0])
    paths = [whole.root.keyframe(vid, s, 1) for s in dense_window(c, n).tolist()]
    clip = decode_clip(paths)
    pil = [Image.open(p).convert('RGB') for p in paths]
    rows = []
    rows.append(('decode 17: PIL', timeit(lambda i: [Image.open(p).convert('RGB') for p in paths], 20), 17))
    rows.append(('decode 17: decode_jpeg batch', timeit(lambda i: decode_frames(paths), 20), 17))
    rows.append(('crop+resize 17: PIL bicubic', timeit(lambda i: [TF.resized_crop(im, 10, 20, 200, 300, [224, 224], T.InterpolationMode.BICUBIC) for im in pil], 20), 17))
    frames = decode_frames(paths)
    rows.append(('crop+resize 17: uint8, then stack', timeit(lambda i: torch.stack([F.resized_crop(f, 10, 20, 200, 300, [224, 224], T.InterpolationMode.BICUBIC, antialias=True) for f in frames]), 20), 17))
    x = F.to_dtype(F.resized_crop(clip, 10, 20, 200, 300, [224, 224], antialias=True), torch.float32, scale=True)
    rows.append(('hue 17: torchvision F.adjust_hue', timeit(lambda i: F.adjust_hue(x, 0.03), 10), 17))
    rows.append(('hue 17: bassl adjust_hue', timeit(lambda i: adjust_hue(x, 0.03), 10), 17))
    k = 2 * math.ceil(3 * 2.0) + 1
    rows.append(('blur 17: F.gaussian_blur per frame', timeit(lambda i: [F.gaussian_blur(f, [k, k], [s, s]) for f, s in zip(x, np.linspace(.1, 2, 17))], 5), 17))
    rows.append(('blur 17: bassl blur_frames', timeit(lambda i: blur_frames(x, torch.linspace(.1, 2, 17)), 5), 17))
    print(f"\n{'components':40s} {'ms/call':>9s} {'images/s':>9s}")
    for name, t, m in rows: print(f"{name:40s} {1000 * t:9.1f} {m / t:9.0f}")
    r = dict((name, t) for name, t, _ in rows)
    print(f"\nspeed-up, decode:         {r['decode 17: PIL'] / r['decode 17: decode_jpeg batch']:.2f}x")
    print(f"speed-up, crop+resize:    {r['crop+resize 17: PIL bicubic'] / r['crop+resize 17: uint8, then stack']:.2f}x")
    print(f"speed-up, hue:            {r['hue 17: torchvision F.adjust_hue'] / r['hue 17: bassl adjust_hue']:.2f}x")
    print(f"speed-up, per-frame blur: {r['blur 17: F.gaussian_blur per frame'] / r['blur 17: bassl blur_frames']:.2f}x")

if __name__ == '__main__':
    main()
