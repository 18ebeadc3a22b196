"""GPU readiness: a few pre-training steps of the full-size BaSSL model on one GPU (mixed precision, channels-last),
then one fine-tuning epoch on synthetic features. Prints images/s, steps/s and peak memory. A few minutes in all.

    python bench/gpu.py                    # on a GPU machine: ResNet-50, 224 px, batch 32 per GPU (the paper's)
    python bench/gpu.py --dry-run          # anywhere: the same code path, CPU-sized, to check it runs

Random inputs stand in for decoded keyframes, so this measures the model, not the loader (see bench/loading.py).
"""
import argparse
import time

import torch

from bassl.models.sbd import SceneBoundaryModel
from bassl.pretext.objectives import PretrainModel
from bassl.train.finetune import balanced_cross_entropy
from bassl.train.optim import LARS, lars_param_groups


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dry-run', action='store_true', help='CPU-sized run of the same code')
    ap.add_argument('--batch', type=int, default=32, help='samples per step (the paper: 32 per GPU)')
    ap.add_argument('--steps', type=int, default=20)
    a = ap.parse_args()
    dry = a.dry_run or not torch.cuda.is_available()
    device = torch.device('cpu' if dry else 'cuda')
    size, B, steps = (64, 4, 3) if dry else (224, a.batch, a.steps)
    enc, crn = ('resnet18', dict(hidden=64, layers=1, heads=2, ffn=128)) if dry else ('resnet50', None)
    print(f"device: {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu (dry run)'}")
    if device.type == 'cuda': torch.backends.cudnn.benchmark = True

    model = PretrainModel('bassl', enc, crn).to(device).to(memory_format=torch.channels_last)
    opt = LARS(lars_param_groups(model), lr=0.3 * B / 256)
    scaler = torch.amp.GradScaler(enabled=device.type == 'cuda')
    batch = {'sparse': torch.randn(B, 2, 3, size, size, device=device), 'dense': torch.randn(B, 17, 3, size, size, device=device)}

    def step():
        with torch.autocast(device.type, dtype=torch.float16 if device.type == 'cuda' else torch.bfloat16, enabled=device.type == 'cuda'):
            loss = sum(model(batch).values())
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward(); scaler.step(opt); scaler.update()

    for _ in range(2): step()  # warm-up (cudnn autotuning)
    sync(device)
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps): step()
    sync(device); dt = time.perf_counter() - t0
    mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == 'cuda' else float('nan')
    print(f"pre-training ({enc}, {size}px, batch {B}, 19 images/sample): {steps / dt:.2f} steps/s, "
          f"{steps * B * 19 / dt:,.0f} images/s, peak memory {mem:.1f} GiB")

    # one fine-tuning epoch on synthetic features: 200 movies x 100 windows, batch 1024
    D = model.shot_encoder.dim
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
