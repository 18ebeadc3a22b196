"InfoNCE across processes: 2 CPU processes (gloo) give the 1-process loss and gradients of the concatenated batch."
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from bassl.pretext.objectives import info_nce

HERE = Path(__file__).parent


def test_two_process_info_nce_equals_one_process(tmp_path):
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29517',
           str(HERE/'scripts'/'infonce_worker.py'), str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    parts = [torch.load(tmp_path/f'rank{k}.pt') for k in range(2)]

    torch.manual_seed(0)  # the same global batch, in one process
    a, b = F.normalize(torch.randn(8, 16), dim=-1), F.normalize(torch.randn(8, 16), dim=-1)
    a.requires_grad_(); b.requires_grad_()
    loss = info_nce(a, b)
    loss.backward()

    # the global loss is the mean of the per-process losses (equal shares of rows) ...
    torch.testing.assert_close((parts[0]['loss'] + parts[1]['loss']) / 2, loss.detach())
    # ... and each process holds the gradient of the sum of all processes' losses with respect to its own rows:
    # averaged over processes (what DDP does to parameter gradients) it is the 1-process gradient
    for k, p in enumerate(parts):
        rows = slice(4 * k, 4 * k + 4)
        torch.testing.assert_close(p['grad_a'] / 2, a.grad[rows])
        torch.testing.assert_close(p['grad_b'] / 2, b.grad[rows])
    # and the negatives really came from the other process: a 1-process loss on the local half differs
    assert not torch.isclose(parts[0]['loss'], info_nce(a[:4].detach(), b[:4].detach()))
