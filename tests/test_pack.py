"""A training pack carries the pairs, maps and estimator to a machine without the data: a run
from it trains on exactly what a run from the data folder does."""
from __future__ import annotations

import json

import numpy as np
import pytest

from model_fixture import TINY

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def pack(tiny_run, tmp_path_factory):
    from engine.training.pack import build

    out = tmp_path_factory.mktemp("pack") / "p"
    build(out, tiny_run.data, corpus="", block_size=128, estimator=tiny_run.estimator)
    return out


def test_the_pack_gives_the_same_batches_as_the_data_folder(tiny_run, pack):
    from engine.training.feature_cache import load_features
    from engine.training.pack import SCALE, Pack
    from engine.training.train import PackPairData, PairData, TrainConfig, replace

    c = TrainConfig()
    c.model = replace(c.model, block_size=128)
    feats, index = load_features(c.model.backbone, tiny_run.data)
    ref = PairData.splits(tiny_run.data, c, feats, index)
    p = Pack(pack)
    for split in ("train", "val"):
        got = PackPairData(p, split, c)
        assert len(got) == len(ref[split]) and got.data_hash == ref[split].data_hash
        idx = np.arange(len(got))
        a, b = ref[split].batch(idx, np.random.default_rng(3), c), got.batch(idx, np.random.default_rng(3), c)
        assert a[0].shape == b[0].shape and float((a[0] - b[0]).abs().max()) <= SCALE / 2 + 1e-6  # uint8 maps
        for x, y in zip(a[1:], b[1:]):  # tokens, conditioning VA, reference VA, image VA: identical
            assert torch.equal(x, y)


def test_a_pack_of_other_pairs_is_refused(pack):
    from engine.errors import UsageError
    from engine.training.pack import Pack
    from engine.training.train import PackPairData, TrainConfig

    with pytest.raises(UsageError, match="block size"):
        PackPairData(Pack(pack), "train", TrainConfig())  # the pack was made for 128-token windows
    with pytest.raises(FileNotFoundError, match="not a training pack"):
        Pack(pack.parent)


def test_training_from_the_pack_keeps_the_best_validation_epoch(pack, tmp_path):
    from engine.training.train import load_state, main

    run = tmp_path / "run"
    assert main(["--pack", str(pack), "--out", str(run), "--epochs", "3", "--device", "auto", *TINY]) == 0
    val = [json.loads(ln)["val_ce"] for ln in (run / "metrics.jsonl").read_text().splitlines()]
    best = load_state(run / "best.pt")
    assert best["epoch"] == 1 + int(np.argmin(val)) and best["best_val"] == pytest.approx(min(val))
    assert (run / "DONE").exists()


def test_a_time_budget_stops_the_run_with_a_checkpoint(pack, tmp_path):
    from engine.training.train import load_state, main

    run = tmp_path / "run"
    assert main(["--pack", str(pack), "--out", str(run), "--epochs", "3", "--minutes", "0.0001", *TINY]) == 0
    assert load_state(run / "ckpt.pt")["global_step"] == 1 and not (run / "DONE").exists()


def test_an_unknown_device_is_a_usage_error(pack, tmp_path):
    from engine.errors import UsageError
    from engine.training.train import main

    with pytest.raises(UsageError, match="--device"):
        main(["--pack", str(pack), "--out", str(tmp_path / "r"), "--device", "tpu", *TINY])


def test_a_slim_checkpoint_restores_to_float16_rounded_weights_that_export(tiny_run, tmp_path):
    from engine.training.slim import restore, slim
    from engine.training.torch_backend import load_checkpoint
    from engine.training.train import load_state

    slim(tiny_run.ckpt, tmp_path / "s.pt")
    assert (tmp_path / "s.pt").stat().st_size < 0.6 * tiny_run.ckpt.stat().st_size  # no optimizer, half the bytes
    restore(tmp_path / "s.pt", tmp_path / "r" / "ckpt.pt")
    a, b = load_state(tiny_run.ckpt)["model"], load_state(tmp_path / "r" / "ckpt.pt")["model"]
    for k in a:
        assert b[k].dtype == a[k].dtype and torch.equal(b[k], a[k].half().to(a[k].dtype))
    model, state = load_checkpoint(tmp_path / "r" / "ckpt.pt")
    assert state["model_config"] == load_state(tiny_run.ckpt)["model_config"]
