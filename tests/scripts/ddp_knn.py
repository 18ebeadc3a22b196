"kNN validation of a freshly initialised pre-training model with N CPU processes (Lightning DDP, gloo); writes the metrics."
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import torch

from bassl.config import CRNConfig, preset
from bassl.train.pretrain import PretrainTask, make_trainer

root, devices, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
cfg = preset('bassl', 'cpu', root=root, devices=devices)
cfg = replace(cfg, pretrain=replace(cfg.pretrain, image_size=32, global_batch=6, num_workers=0, crn=CRNConfig(hidden=32, layers=1, heads=2, ffn=64)))
torch.manual_seed(0)
task = PretrainTask(asdict(cfg))
trainer = make_trainer(cfg, out.parent/f'run{devices}', progress=False)
metrics = trainer.validate(task, verbose=False)[0]
if trainer.global_rank == 0: out.write_text(json.dumps({**{k: float(v) for k, v in metrics.items()}, "world_size": trainer.world_size}))
