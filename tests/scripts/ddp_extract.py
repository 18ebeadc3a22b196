"Feature extraction with N processes (torchrun, gloo): each process writes its own movies into one store."
import sys

import torch
import torch.distributed as dist

from bassl.features import extract_features
from bassl.models.encoder import ShotEncoder

dist.init_process_group('gloo')
torch.manual_seed(0)
written = extract_features(ShotEncoder('resnet18'), sys.argv[1], sys.argv[2], image_size=32, progress=False)
print(f"rank {dist.get_rank()}: {' '.join(written)}", flush=True)  # before the group goes: each rank's line whole
dist.destroy_process_group()
