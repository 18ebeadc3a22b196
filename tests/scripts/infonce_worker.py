"One process of the 2-process InfoNCE check (run under torchrun by tests/test_distributed.py)."
import os
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F

from bassl.pretext.objectives import info_nce

dist.init_process_group('gloo')
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
a_all, b_all = F.normalize(torch.randn(8, 16), dim=-1), F.normalize(torch.randn(8, 16), dim=-1)  # the global batch
rows = slice(rank * 4, rank * 4 + 4)
a, b = a_all[rows].clone().requires_grad_(), b_all[rows].clone().requires_grad_()
loss = info_nce(a, b)
loss.backward()
torch.save({'loss': loss.detach(), 'grad_a': a.grad, 'grad_b': b.grad}, os.path.join(sys.argv[1], f'rank{rank}.pt'))
dist.destroy_process_group()
