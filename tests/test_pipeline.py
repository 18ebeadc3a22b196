"Each of the five pre-training methods through the whole chain on CPU: pre-train, extract, fine-tune, evaluate."
import json
from dataclasses import replace

import pytest

from bassl.config import CRNConfig, load_config, preset
from bassl.core import read_ndjson
from bassl.methods import METHODS
from bassl.data.movienet import MovieNetRoot
from bassl.data.synthetic import SynthConfig, synthesize
from bassl.train.finetune import extract, finetune
from bassl.train.pretrain import pretrain


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp('pipeline')/'movienet'
    synthesize(d, SynthConfig(movies=4, shots=24, seed=3, width=64, height=48), workers=1, progress=False)
    return d


@pytest.mark.parametrize('method', METHODS)
def test_method_end_to_end(method, root, tmp_path):
    small = CRNConfig(hidden=32, layers=1, heads=2, ffn=64)
    cfg = preset(method, 'cpu', root=str(root))
    cfg = replace(cfg, pretrain=replace(cfg.pretrain, image_size=32, global_batch=8, epochs=1, num_workers=0, crn=small),
                  finetune=replace(cfg.finetune, crn=small, epochs=2, global_batch=16))
    ckpt = pretrain(cfg, tmp_path/'pretrain', progress=False)
    assert ckpt.exists() and load_config(ckpt) == cfg
    store = extract(cfg, ckpt, tmp_path/'features', progress=False)
    labelled = read_ndjson(MovieNetRoot(root).anno_file('trainvaltest'))
    assert sum(store[v].shape[0] for v in store) == len(labelled)
    scores = finetune(cfg, store.folder, tmp_path/'finetune', progress=False)
    assert json.loads((tmp_path/'finetune'/'scores.json').read_text()) == scores
    assert set(scores) >= {'AP', 'mAP', 'AUC', 'F1', 'Recall', 'Recall@3s', 'mIoU'}
    assert all(0 <= v <= 100 for v in scores.values())
    rows = (tmp_path/'finetune'/'predictions.csv').read_text().splitlines()
    assert len(rows) - 1 == len(read_ndjson(MovieNetRoot(root).anno_file('test')))
