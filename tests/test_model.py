"""The model: shapes, learning, the VA loss's gradient, exact resume, DDP, and the paper's backbones."""
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from engine.training.model import ModelConfig, Synesthete, losses  # noqa: E402
from engine.generation.tokens import BAR, BOS, MODE0, VOCAB_SIZE  # noqa: E402
from engine.training.va_estimator import TokenVAEstimator  # noqa: E402
from model_fixture import TINY  # noqa: E402

SMALL = ModelConfig(feat_channels=16, feat_tokens=9, d_model=32, n_heads=4, d_ff=64, block_size=64, dropout=0.0)


def batch(b=3, t=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    toks = torch.randint(BAR, VOCAB_SIZE, (b, t), generator=g)
    toks[:, 0], toks[:, 1], toks[:, 2] = BOS, MODE0, BAR
    return torch.randn(b, 16, 3, 3, generator=g), toks, torch.rand(b, 2, generator=g) * 2 - 1


def test_shapes_of_logits_and_image_va():
    m = Synesthete(SMALL)
    fmap, toks, va = batch()
    logits, image_va = m(fmap, toks, va)
    assert logits.shape == (3, 20, VOCAB_SIZE) and image_va.shape == (3, 2)
    assert image_va.abs().max() <= 1
    assert len(m.decoder.layers) == 3  # the paper's three decoders


def test_kv_cache_steps_match_the_full_forward():
    torch.manual_seed(0)
    m = Synesthete(SMALL).eval()
    fmap, toks, va = batch(b=1)
    with torch.no_grad():
        memory, _ = m.encoder(fmap)
        full = m.decoder(toks, memory, va)
        k, v = m.decoder.empty_cache()
        fixed = m.decoder.prepare(memory, va)
        for i in range(toks.shape[1]):
            step, k, v = m.decoder.step(toks[:, i:i + 1], torch.tensor([i]), *fixed, k, v)
            assert torch.allclose(step, full[:, i], atol=1e-5)


@pytest.mark.parametrize("decoder", ["transformer", "lstm"])
def test_a_few_steps_on_one_batch_lower_the_loss(decoder):
    torch.manual_seed(0)
    m = Synesthete(ModelConfig(**{**SMALL.to_dict(), "decoder": decoder}))
    fmap, toks, va = batch()
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = None
    for _ in range(20):
        out = losses(m, fmap, toks, va, va, va)
        first = first if first is not None else out["total"].item()
        opt.zero_grad()
        out["total"].backward()
        opt.step()
    assert out["total"].item() < 0.8 * first


def test_va_loss_gradient_reaches_the_decoder_not_the_estimator():
    torch.manual_seed(0)
    m = Synesthete(SMALL)
    est = TokenVAEstimator()
    for p in est.parameters():
        p.requires_grad_(False)
    fmap, toks, va = batch()
    out = losses(m, fmap, toks, va, va, va, estimator=est, va_loss_weight=1.0)
    out["va"].backward()
    dec_grads = [p.grad for p in m.decoder.layers.parameters() if p.grad is not None]
    assert dec_grads and any(g.abs().sum() > 0 for g in dec_grads)
    assert all(p.grad is None for p in est.parameters())


def test_training_run_writes_metrics_and_a_self_describing_checkpoint(tiny_run):
    import json

    from engine.training.train import load_state

    lines = (tiny_run.run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[-1])["epoch"] == 2
    state = load_state(tiny_run.ckpt)
    assert state["model_config"]["d_model"] == 32 and state["epoch"] == 2
    assert (tiny_run.run / "DONE").exists()


def test_resume_after_a_stop_reaches_the_same_weights(tiny_run, tmp_path):
    from engine.training.train import load_state, main

    common = ["--data", str(tiny_run.data), "--epochs", "2", "--estimator", str(tiny_run.estimator), *TINY]
    assert main([*common, "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--max-steps", "2"]) == 0
    assert not (tmp_path / "b" / "DONE").exists()
    assert main(["--out", str(tmp_path / "b"), "--resume", "--data", str(tiny_run.data), "--estimator", str(tiny_run.estimator), "--threads", "1"]) == 0
    a, b = load_state(tmp_path / "a" / "ckpt.pt")["model"], load_state(tmp_path / "b" / "ckpt.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_two_process_ddp_step_on_gloo(tiny_run, tmp_path):
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = {**os.environ, "SYNESTHETE_CACHE": str(tiny_run.root / "cache"), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", "29517", "-m", "engine.training.train", "--data", str(tiny_run.data),
                        "--out", str(tmp_path / "ddp"), "--epochs", "1", "--estimator", str(tiny_run.estimator), *TINY],
                       capture_output=True, text=True, timeout=240, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "ddp" / "ckpt.pt").exists() and (tmp_path / "ddp" / "DONE").exists()


@pytest.mark.parametrize("name,channels,grid", [("vgg16", 512, 7), ("inception_v3", 2048, 8), ("efficientnet_lite0", 1280, 7)])
def test_backbones_load_offline_pretrained_weights(name, channels, grid):
    from engine.training.backbones import SPECS, build_backbone

    try:
        net = build_backbone(name)
    except FileNotFoundError as e:
        pytest.skip(str(e))
    spec = SPECS[name]
    with torch.no_grad():
        y = net(torch.zeros(1, 3, spec.size, spec.size))
    assert y.shape == (1, channels, grid, grid)
    assert not any(p.requires_grad for p in net.parameters())
    # pretrained, not random: a constant image gives a structured, non-trivial response
    assert float(y.std()) > 1e-3


def test_cached_features_are_reused_until_the_image_list_changes(tiny_run, monkeypatch):
    from engine.training.feature_cache import cache_paths, compute

    monkeypatch.setenv("SYNESTHETE_CACHE", str(tiny_run.root / "cache"))
    arr, idx = cache_paths("efficientnet_lite0")
    before = arr.stat().st_mtime_ns
    assert compute("efficientnet_lite0", tiny_run.data, threads=1) == arr
    assert arr.stat().st_mtime_ns == before  # a second call recomputes nothing
    saved = idx.read_text()
    try:
        idx.write_text('{"paths": ["another/images.csv"]}')
        compute("efficientnet_lite0", tiny_run.data, threads=1)
        assert arr.stat().st_mtime_ns != before and idx.read_text() == saved
    finally:
        idx.write_text(saved)
