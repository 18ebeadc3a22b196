"Evaluate one fine-tuning checkpoint with N CPU processes (Lightning DDP, gloo); writes the scores."
import json
import sys
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_only

from bassl.train.finetune import evaluate

ckpt, devices, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
scores = evaluate(ckpt, out.parent/f'eval{devices}', progress=False, devices=devices)
if rank_zero_only.rank == 0: out.write_text(json.dumps(scores))
