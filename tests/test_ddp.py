"Lightning DDP on CPU (2 processes, gloo): distributed evaluation gives the 1-process numbers."
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bassl.fixtures import tiny_root

from bassl.test_utils import tiny_experiment

HERE = Path(__file__).parent


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp('ddp')/'movienet'
    # 7 test-split shots per process would leave padding: an odd shot count exercises the deduplication
    return tiny_root(d, movies=5, shots=23, seed=1)


def run(script, *args, timeout=600):
    r = subprocess.run([sys.executable, str(HERE/'scripts'/script), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]


def test_knn_precision_two_processes_equals_one(root, tmp_path):
    for n in (1, 2): run('ddp_knn.py', root, n, tmp_path/f'knn{n}.json')
    one, two = (json.loads((tmp_path/f'knn{n}.json').read_text()) for n in (1, 2))
    assert (one.pop('world_size'), two.pop('world_size')) == (1, 2)
    assert set(one) == {f'knn/P@{k}' for k in (1, 5, 10, 15, 20)}
    assert one['knn/P@1'] > 0
    for k in one: assert two[k] == pytest.approx(one[k], abs=1e-4), k


@pytest.fixture(scope='module')
def finetuned(root, tmp_path_factory):
    "A fine-tuning checkpoint on random-encoder features of the test data (1 process)."
    from dataclasses import replace
    from bassl.train.finetune import extract, finetune
    d = tmp_path_factory.mktemp('ft')
    cfg = tiny_experiment('bassl', root, crn='scratch')  # a random encoder: no pre-trained CRN to transfer
    cfg = replace(cfg, finetune=replace(cfg.finetune, epochs=2, global_batch=16))
    store = extract(cfg, None, d/'features', progress=False)
    finetune(cfg, store.folder, d/'run', progress=False)
    return d/'run'/'checkpoints'/'last.ckpt'


def test_finetune_metrics_two_processes_equal_one(finetuned, tmp_path):
    for n in (1, 2): run('ddp_finetune.py', finetuned, n, tmp_path/f'scores{n}.json')
    one, two = (json.loads((tmp_path/f'scores{n}.json').read_text()) for n in (1, 2))
    assert set(one) == {'AP', 'mAP', 'AUC', 'F1', 'acc_boundary', 'acc_no_boundary', 'Recall', 'Recall@3s', 'mIoU'}
    for k in one: assert two[k] == pytest.approx(one[k], abs=1e-3), k
    rows = [(tmp_path/f'eval{n}'/'predictions.csv').read_text().splitlines() for n in (1, 2)]
    assert rows[0][0] == 'movie,shot,probability,label' and len(rows[0]) == len(rows[1]) > 1


def test_extraction_shards_cover_every_shot_once(root, tmp_path):
    from bassl.core import read_ndjson
    from bassl.data.movienet import MovieNetRoot
    from bassl.features import FeatureStore
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29518',
                        str(HERE/'scripts'/'ddp_extract.py'), str(root), str(tmp_path/'store')], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    per_rank = {f'rank {k}': v.split() for k, v in re.findall(r'rank (\d): ([^\n]*)', r.stdout)}  # wherever a line starts
    assert set(per_rank) == {'rank 0', 'rank 1'} and not set(per_rank['rank 0']) & set(per_rank['rank 1']), (r.stdout, r.stderr[-3000:])
    recs = read_ndjson(MovieNetRoot(root).anno_file('trainvaltest'))
    store = FeatureStore(tmp_path/'store')
    assert sorted(per_rank['rank 0'] + per_rank['rank 1']) == sorted(store) == sorted({x['video_id'] for x in recs})
    assert sum(store[v].shape[0] for v in store) == len(recs)  # every shot, once
