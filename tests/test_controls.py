"""Density and touch controls: read from the music in training, mapped from the VA at inference."""
import numpy as np
import pytest

from engine.tokens import BAR, BOS, MODE0, POS0, TOKEN_ID, encode, notes_to_grid
from engine.events import NoteEvent
from engine.training.controls import (CLIP, apply_control_map, batch_controls, fit_control_map,
                                      window_controls)

torch = pytest.importorskip("torch")

from engine.training.model import ModelConfig, Synesthete  # noqa: E402
from fixtures import needs_train_extra  # noqa: E402
from model_fixture import TINY  # noqa: E402

SMALL = ModelConfig(feat_channels=16, feat_tokens=9, d_model=32, n_heads=4, d_ff=64, block_size=64,
                    dropout=0.0, controls=2)


def piece(notes_per_bar: int, velocity: int, bars: int = 4) -> np.ndarray:
    notes = [NoteEvent(60 + i % 5 * 2, velocity, bar * 4 + i * 4 / notes_per_bar, 0.25)
             for bar in range(bars) for i in range(notes_per_bar)]
    return np.array(encode(notes_to_grid(notes)))


def test_density_is_log2_of_notes_per_bar_over_twelve_and_touch_the_velocity_around_mf():
    # velocities sit on the token bins (16, 32, ..., 112, 127)
    assert window_controls(piece(12, 80)) == pytest.approx([0.0, 1 / 3], abs=1e-6)
    assert window_controls(piece(6, 96)) == pytest.approx([-1.0, 1.0], abs=1e-6)
    assert window_controls(piece(16, 48)) == pytest.approx([np.log2(16 / 12), -1.0], abs=1e-6)


def test_a_window_without_notes_is_the_sparsest_and_softest_and_values_are_clipped():
    assert list(window_controls(np.array([BOS, MODE0, BAR, BAR]))) == [-CLIP, -CLIP]
    crowded = np.array([BOS, MODE0, BAR, POS0] + [TOKEN_ID[f"Pitch_{p}"] for p in range(40, 100)]
                       + [TOKEN_ID["Velocity_127"]])
    assert window_controls(crowded)[0] == CLIP  # 60 notes in one bar: log2(5) > 2


def test_the_control_map_recovers_a_linear_relation_to_the_va_and_is_applied_the_same_way():
    rng = np.random.default_rng(0)
    va = rng.uniform(-1, 1, (50, 2))
    truth = np.array([[0.3, -0.1], [-0.2, 0.0], [1.0, 1.1]])
    ctl = truth[0] + va @ truth[1:]
    m = fit_control_map(va, ctl)
    assert m == pytest.approx(truth, abs=1e-5)
    assert apply_control_map(m, va[:3]) == pytest.approx(ctl[:3], abs=1e-5)
    with pytest.raises(ValueError):
        fit_control_map(va[:2], ctl[:2])


def test_given_only_the_va_the_decoder_plays_the_controls_its_map_gives():
    torch.manual_seed(0)
    m = Synesthete(SMALL).eval()
    m.decoder.control_map.copy_(torch.tensor([[0.3, -0.1], [-0.2, 0.0], [1.0, 1.1]]))
    fmap, toks = torch.randn(2, 16, 3, 3), torch.tensor([[BOS, MODE0, BAR, POS0]] * 2)
    va = torch.tensor([[0.5, -0.6], [-0.2, 0.8]])
    ctl = torch.from_numpy(apply_control_map(m.decoder.control_map.numpy(), va.numpy()))
    with torch.no_grad():
        mapped, _ = m(fmap, toks, va)
        told, _ = m(fmap, toks, torch.cat([va, ctl], dim=1))
        other, _ = m(fmap, toks, torch.cat([va, ctl + 1.0], dim=1))
    assert torch.allclose(mapped, told, atol=1e-5)
    assert not torch.allclose(mapped, other, atol=1e-3)  # the controls do reach the logits


def test_training_batches_carry_each_windows_own_density_and_touch(tiny_run):
    from engine.training.train import PairData, build_config
    from engine.training.args import add_arguments
    from engine.training.feature_cache import load_features
    import argparse

    ap = argparse.ArgumentParser()
    add_arguments(ap)
    c = build_config(ap.parse_args(["--data", str(tiny_run.data), "--out", "unused", "--controls", *TINY]))
    assert c.model.controls == 2
    features, index = load_features(c.model.backbone, tiny_run.data)
    data = PairData.splits(tiny_run.data, c, features, index)["train"]
    fmap, toks, va_cond, va_ref, _ = data.batch(np.arange(4), np.random.default_rng(0), c)
    assert va_cond.shape == (4, 4) and va_ref.shape == (4, 2)
    windows = [t[t != 0].numpy() for t in toks]  # PAD is 0: the windows as drawn
    assert va_cond[:, 2:].numpy() == pytest.approx(batch_controls(windows), abs=1e-6)


@needs_train_extra
def test_fine_tuning_with_controls_from_a_decoder_pretrained_without_them(tiny_run, tmp_path):
    from engine.training.train import load_state, main

    common = ["--data", str(tiny_run.data), "--estimator", str(tiny_run.estimator), *TINY]
    assert main([*common, "--out", str(tmp_path / "ctl"), "--init", str(tiny_run.ckpt), "--controls", "--max-steps", "1"]) == 0
    state = load_state(tmp_path / "ctl" / "ckpt.pt")
    assert state["model_config"]["controls"] == 2
    cmap = state["model"]["decoder.control_map"]
    assert cmap.shape == (3, 2) and cmap.abs().sum() > 0  # fitted on the fixture's pieces
    # the pretrained first layer is kept; the controls' new columns start near zero
    w0, w = load_state(tiny_run.ckpt)["model"]["decoder.va.0.weight"], state["model"]["decoder.va.0.weight"]
    assert w.shape == (w0.shape[0], 4)
    assert (w[:, 2:].abs().max() < 0.05) and torch.allclose(w[:, :2], w0, atol=0.05)
    # and the other way round is refused: a decoder with controls cannot lose them
    from engine.errors import UsageError
    with pytest.raises(UsageError):
        main([*common, "--out", str(tmp_path / "back"), "--init", str(tmp_path / "ctl" / "ckpt.pt"), "--max-steps", "1"])


@needs_train_extra
def test_a_decoder_with_controls_exports_to_onnx_that_takes_the_va_alone(tiny_run, tmp_path):
    from engine.training.export import export
    from engine.training.train import main
    import onnxruntime as ort

    common = ["--data", str(tiny_run.data), "--estimator", str(tiny_run.estimator), *TINY]
    assert main([*common, "--out", str(tmp_path / "ctl"), "--controls", "--max-steps", "2"]) == 0
    res = export(str(tmp_path / "ctl" / "ckpt.pt"), str(tmp_path / "onnx"), rollout=64)
    assert res["ok"], res
    prep = ort.InferenceSession(str(tmp_path / "onnx" / "decoder_prep.onnx"))
    assert [i.shape[-1] for i in prep.get_inputs() if i.name == "va"] == [2]
