"""A tiny trained run, made once per test session: fixture data → cached features → VA
estimator → a few training steps → ONNX export. Real code paths, miniature sizes."""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from fixtures import make_data_dir, make_photo

TINY = ["--d-model", "32", "--block-size", "128", "--batch-size", "4", "--threads", "1"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("tiny")
    old = os.environ.get("SYNESTHETE_CACHE")
    os.environ["SYNESTHETE_CACHE"] = str(root / "cache")
    try:
        from engine.training import va_estimator
        from engine.training.feature_cache import compute
        from engine.training.train import main as train_main

        data = make_data_dir(root / "data")
        compute("efficientnet_lite0", data, threads=1)
        est = root / "est.pt"
        va_estimator.main(["--data", str(data), "--out", str(est)])
        run = root / "run"
        assert train_main(["--data", str(data), "--out", str(run), "--epochs", "2", "--estimator", str(est), *TINY]) == 0
        from engine.training.export import export

        onnx_dir = root / "onnx"
        res = export(str(run / "ckpt.pt"), str(onnx_dir), rollout=128)
        assert res["ok"], res
        photo = make_photo(root / "photo.jpg")
        yield SimpleNamespace(root=root, data=data, estimator=est, run=run, ckpt=run / "ckpt.pt", onnx=onnx_dir, photo=photo, export=res)
    finally:
        if old is None:
            os.environ.pop("SYNESTHETE_CACHE", None)
        else:
            os.environ["SYNESTHETE_CACHE"] = old
