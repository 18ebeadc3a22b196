"""Machine yardstick: seconds of one forward + backward pass of a seeded torchvision ResNet-18 on 64 images of 64x64 on the CPU.

The number a study records beside its wall seconds (`bassl.study.machine`, in study.json), so that two machines' studies
can be compared roughly: divide a study's seconds by its yardstick. The median of --reps repetitions after one warm-up.

    python bench/yardstick.py [--reps 5] [--threads N]

Prints the figure and the machine; it asserts nothing (timings on shared machines are noisy).
"""
import argparse

import torch

from bassl.study import machine


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--reps', type=int, default=5, help='timed repetitions after one warm-up (default: 5)')
    ap.add_argument('--threads', type=int, default=None, help="torch's CPU threads (default: torch's own choice)")
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    m = machine(a.reps)
    print(f"yardstick: {m['yardstick_s'] * 1000:.0f} ms per forward + backward (ResNet-18, 64 x 64x64 images, CPU, median of {a.reps})")
    print(f"machine: {m['cpu']}, {m['threads']} threads, torch {m['torch']}, python {m['python']}" + (f", GPU {m['gpu']}" if m['gpu'] else ''))


if __name__ == '__main__':
    main()
