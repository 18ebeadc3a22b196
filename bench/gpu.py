"""GPU readiness: pre-training images/s of the full-size BaSSL model on one GPU, from the encoder alone to the whole step fed by the real loader.

On a GPU (ResNet-50, 224 px, batch 32 per device, 19 images per sample: 17 dense + 2 sparse; mixed precision fp16 with a
GradScaler, channels-last, cudnn.benchmark), after a few warm-up steps, with torch.cuda.synchronize() around each timing:

  (i)   the encoder: `model.shot_encoder` forward + backward on [B*19, 3, 224, 224] (the sum of its output as the loss),
        LARS step over the encoder's parameters included: the most a step can do with this encoder;
  (ii)  the whole pre-training step: PretrainModel('bassl') forward (the loss terms), backward, LARS step, on synthetic
        batches (already-normalised float tensors on the device);
  (iii) the whole step fed by the real loader: a StatefulDataLoader over PretrainDataset (collate_fn=PretrainDataset.collate,
        worker_init_fn=worker_init, pin_memory, --workers processes, default all CPU cores), every tensor of the batch moved with
        .to(device, non_blocking=True), then the augmentation's device half `train_transform(224).batch(batch)`; once with
        CPU decode (device_half='augment') and once with GPU decode (device_half='decode', nvJPEG);

and prints steps/s, images/s and peak memory of each, and the ratio (iii)/(i) for both decode modes: the share of the
encoder's speed that training keeps once the data has to be read, decoded and augmented (the goal: >= 0.9). Then one
fine-tuning epoch on synthetic features (windows/s). A few minutes in all.

The data of (iii) is a synthetic MovieNet-like root of 240P-sized keyframes (--size, default 426x240 like MovieNet's), made
once in bench/out/movienet (shared with bench/loading.py, reused while its settings match), or the root given with --root
(a real MovieNet-SSeg root too), as it is; samples are drawn at random with replacement, so the root's size does not bound
the number of steps. The small generated root is in the page cache after its first read, as a machine with enough memory
keeps a real one: this measures decoding and augmenting, not the disk.

    python bench/gpu.py                    # on a GPU machine: the full-size figures above
    python bench/gpu.py --workers 8        # (iii) with 8 loader processes
    python bench/gpu.py --root /data/movienet   # (iii) on a real root
    python bench/gpu.py --dry-run          # anywhere: the same code path, CPU-sized (ResNet-18, a small CRN, 64 px, batch 4,
                                           # 3 steps, a tiny root in a temporary folder, 1 worker; GPU decode's path decodes on the CPU), to check it runs

Prints figures and ratios; it asserts nothing about speed.
"""
import argparse
import os
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from torch.utils.data import RandomSampler
from torchdata.stateful_dataloader import StatefulDataLoader

from bassl.data.datasets import PretrainDataset, worker_init
from bassl.data.synthetic import SynthConfig, builtin_complete, synthesize
from bassl.data.transforms import train_transform
from bassl.models.sbd import SceneBoundaryModel
from bassl.pretext.objectives import PretrainModel
from bassl.train.finetune import balanced_cross_entropy
from bassl.train.optim import LARS, lars_param_groups

IMAGES = 17 + 2                 # per sample: the dense window and the two sparse anchors


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


class Step:
    "One training step of `loss_fn(batch)`: autocast (fp16 on CUDA), zero_grad, scaled backward, LARS step over `module`'s parameters."
    def __init__(self, module, loss_fn, device, B):
        self.loss_fn, self.device = loss_fn, device
        self.opt = LARS(lars_param_groups(module), lr=0.3 * B / 256)
        self.scaler = torch.amp.GradScaler(enabled=device.type == 'cuda')

    def __call__(self, batch):
        cuda = self.device.type == 'cuda'
        with torch.autocast('cuda', dtype=torch.float16) if cuda else nullcontext():
            loss = self.loss_fn(batch)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt); self.scaler.update()


def measure(name, step, batches, warmup, steps, B, device) -> float:
    "Run `warmup` then `steps` steps on `next(batches)` (fetching and preparing a batch is part of the step); print and return images/s."
    for _ in range(warmup): step(next(batches))
    sync(device)
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps): step(next(batches))
    sync(device); dt = time.perf_counter() - t0
    mem = f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if device.type == 'cuda' else 'n/a (cpu)'
    ips = steps * B * IMAGES / dt
    print(f"{name}: {steps / dt:.2f} steps/s, {ips:,.0f} images/s, peak memory {mem}", flush=True)
    return ips


def forever(x):
    while True: yield x


def loader_batches(root, half, aug, B, workers, n, device):
    "`n` batches of the real loader, each moved to `device` and through the augmentation's device half."
    ds = PretrainDataset(root, 'bassl', transform=aug, device_half=half)
    sampler = RandomSampler(ds, replacement=True, num_samples=B * n, generator=torch.Generator().manual_seed(0))
    dl = StatefulDataLoader(ds, batch_size=B, sampler=sampler, drop_last=True, num_workers=workers, worker_init_fn=worker_init,
                            collate_fn=PretrainDataset.collate, pin_memory=device.type == 'cuda')
    for batch in dl: yield aug.batch(move_data_to_device(batch, device))  # as Lightning moves it: `JpegClips` stay on the host


def data_root(root: Path, cfg: SynthConfig) -> Path:
    "`root`, generated unless it already holds a finished synthetic root of `cfg` (bench/loading.py's default root too)."
    if not builtin_complete(root, cfg):
        print(f"generating {root} ({cfg.movies} movies of ~{cfg.shots} shots, {cfg.width}x{cfg.height} keyframes)", flush=True)
        synthesize(root, cfg, progress=False)
    return root


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dry-run', action='store_true', help='CPU-sized run of the same code (also without CUDA)')
    ap.add_argument('--batch', type=int, default=32, help='samples per step (the paper: 32 per GPU)')
    ap.add_argument('--steps', type=int, default=30, help='timed steps of each measurement')
    ap.add_argument('--warmup', type=int, default=5, help='untimed steps first (the loader: at least 2 per worker, its prefetch)')
    ap.add_argument('--workers', type=int, default=None, help='loader processes of (iii) (default: all CPU cores; dry run: 1)')
    ap.add_argument('--size', default='426x240', help="keyframe size of the generated root (MovieNet's 240P: ~426x240)")
    ap.add_argument('--root', type=Path, default=None, help='dataset root of (iii), used as it is (default: a synthetic one, '
                    'generated in bench/out/movienet unless there already)')
    a = ap.parse_args()
    dry = a.dry_run or not torch.cuda.is_available()
    device = torch.device('cpu' if dry else 'cuda')
    size, B, steps, warmup = (64, 4, 3, 1) if dry else (224, a.batch, a.steps, a.warmup)
    enc, crn = ('resnet18', dict(hidden=64, layers=1, heads=2, ffn=128)) if dry else ('resnet50', None)
    workers = a.workers if a.workers is not None else 1 if dry else len(os.sched_getaffinity(0))
    print(f"device: {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu (dry run)'}; {enc}, {size}px, batch {B}, "
          f"{IMAGES} images/sample ({B * IMAGES} per step), {steps} timed steps after {warmup}+ warm-up"
          f"{', fp16 autocast, channels-last' if device.type == 'cuda' else ''}", flush=True)
    if device.type == 'cuda': torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)

    def fresh_model():
        if device.type == 'cuda': torch.cuda.empty_cache()
        return PretrainModel('bassl', enc, crn).to(device).to(memory_format=torch.channels_last)

    # (i) the encoder alone
    model = fresh_model()
    D = model.shot_encoder.dim                       # feature size, for the fine-tuning epoch
    x = torch.randn(B * IMAGES, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    step = Step(model.shot_encoder, lambda x: model.shot_encoder(x).float().sum(), device, B)
    r_enc = measure("(i)   encoder fwd+bwd+LARS step, random frames", step, forever(x), warmup, steps, B, device)
    del model, step, x

    # (ii) the whole step on synthetic batches
    model = fresh_model()
    batch = {'sparse': torch.randn(B, 2, 3, size, size, device=device), 'dense': torch.randn(B, 17, 3, size, size, device=device)}
    step = Step(model, lambda b: sum(model(b).values()), device, B)
    r_syn = measure("(ii)  whole step (loss terms, backward, LARS), synthetic batches", step, forever(batch), warmup, steps, B, device)
    del model, step, batch

    # (iii) the whole step fed by the real loader (a fresh model each time: peak memory is that of one training run)
    aug = train_transform(size)
    lw = max(warmup, 2 * workers + 1)                # past the workers' first prefetch: the timed steps see the loader's steady rate
    ratios = {}
    with tempfile.TemporaryDirectory(prefix='bassl-gpu-bench-') if dry else nullcontext() as tmp:
        if dry: root = data_root(Path(tmp)/'movienet', SynthConfig(movies=3, shots=12, seed=0, width=96, height=64))
        else:
            w, h = (int(v) for v in a.size.split('x'))
            root = a.root or data_root(Path(__file__).resolve().parent/'out'/'movienet',
                                       SynthConfig(movies=3, shots=80, seed=0, width=w, height=h))
        for half, what in (('augment', 'CPU decode'), ('decode', 'GPU decode')):
            name = f"(iii) whole step, real loader ({workers} worker{'s' * (workers != 1)}, {what})"
            if half == 'decode' and device.type != 'cuda':   # the same path, decoding in the training process on the CPU
                what = 'decode in the step'
                name = f"(iii) whole step, real loader ({workers} worker{'s' * (workers != 1)}, {what}: the GPU-decode path on the CPU)"
            model = fresh_model()
            step = Step(model, lambda b: sum(model(b).values()), device, B)
            ratios[what] = measure(name, step, loader_batches(root, half, aug, B, workers, lw + steps, device), lw, steps, B, device) / r_enc
            del model, step
    print(f"ratio (ii)/(i), the whole step over the encoder: {r_syn / r_enc:.2f}")
    for what, r in ratios.items(): print(f"ratio (iii)/(i), {what}: {r:.2f} (goal >= 0.9)")

    # one fine-tuning epoch on synthetic features: 200 movies x 100 windows, batch 1024
    ft = SceneBoundaryModel(D, crn).to(device)
    opt = torch.optim.Adam(ft.parameters(), lr=2.5e-6 * 4)
    n, fb = (2_000, 256) if dry else (20_000, 1024)
    feats, labels = torch.randn(n, 17, D, device=device), (torch.rand(n, device=device) < 0.1).long()
    sync(device); t0 = time.perf_counter()
    for i in range(0, n, fb):
        loss = balanced_cross_entropy(ft(feats[i:i + fb]), labels[i:i + fb])
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    sync(device); dt = time.perf_counter() - t0
    print(f"fine-tuning epoch: {n:,} windows in {dt:.2f} s ({n / dt:,.0f} windows/s)")


if __name__ == '__main__':
    main()
