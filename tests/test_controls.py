"""Density and touch controls: read from the music in training, mapped from the VA at inference."""
import numpy as np
import pytest

from engine.generation.tokens import BAR, BOS, MODE0, POS0, TOKEN_ID, encode, notes_to_grid
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


def test_range_is_the_pitch_spread_around_thirty_semitones_in_octaves():
    wide = [NoteEvent(36 + 6 * i, 80, i * 0.5, 0.5) for i in range(8)]  # C2 .. A#4 in tritones
    p = np.array([n.pitch for n in wide])
    expected = (np.percentile(p, 95) - np.percentile(p, 5) - 30) / 12
    assert window_controls(np.array(encode(notes_to_grid(wide))), 3)[2] == pytest.approx(expected, abs=1e-5)
    assert window_controls(piece(12, 80), 3)[:2] == pytest.approx(window_controls(piece(12, 80)))  # the first two as before


def test_a_window_without_notes_is_the_sparsest_and_softest_and_values_are_clipped():
    assert list(window_controls(np.array([BOS, MODE0, BAR, BAR]))) == [-CLIP, -CLIP]
    assert list(window_controls(np.array([BOS, MODE0, BAR, BAR]), 3)) == [-CLIP] * 3
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

    # a third control (range) is added the same way, and the exported decoder plays with all three
    assert main([*common, "--out", str(tmp_path / "ctl3"), "--init", str(tmp_path / "ctl" / "ckpt.pt"), "--controls", "3", "--max-steps", "1"]) == 0
    state3 = load_state(tmp_path / "ctl3" / "ckpt.pt")
    w3 = state3["model"]["decoder.va.0.weight"]
    assert state3["model_config"]["controls"] == 3 and state3["model"]["decoder.control_map"].shape == (3, 3)
    assert w3.shape == (w0.shape[0], 5) and w3[:, 4].abs().max() < 0.05 and torch.allclose(w3[:, :4], w, atol=0.05)
    from engine.events import VA
    from engine.request import GenerationSettings
    from engine.generation.runtime import Runtime
    from engine.training.evaluate import test_images
    from engine.training.export import export
    assert export(str(tmp_path / "ctl3" / "ckpt.pt"), str(tmp_path / "onnx3"), rollout=32)["ok"]
    rt = Runtime.load(tmp_path / "onnx3")
    assert rt.controls.count == 3 and rt.controls.offset(3, 1.0).shape == (3,)
    rt.compose(GenerationSettings(bars=1, seed=3), rt.blank(), VA(0.3, 0.3))
    # control_fit measures all three on validation pictures (what was asked, what was played)
    from engine.training.control_fit import probe
    pictures = len(test_images(tiny_run.data, 0, split="val"))
    asked, played = probe(rt, tiny_run.data, pictures, 1, log=lambda m: None)
    assert asked.shape == played.shape == (pictures, 3)


@needs_train_extra
def test_a_decoder_with_controls_exports_its_map_and_each_piece_is_played_its_own_controls(tiny_run, tmp_path):
    from engine.events import VA
    from engine.request import GenerationSettings
    from engine.generation.runtime import Runtime
    from engine.training.export import export, update_sidecar
    from engine.training.train import load_state, main

    common = ["--data", str(tiny_run.data), "--estimator", str(tiny_run.estimator), *TINY]
    assert main([*common, "--out", str(tmp_path / "ctl"), "--controls", "--max-steps", "2"]) == 0
    res = export(str(tmp_path / "ctl" / "ckpt.pt"), str(tmp_path / "onnx"), rollout=64)
    assert res["ok"], res  # parity: the graph given the map's controls plays what PyTorch plays from the VA alone
    trained = load_state(tmp_path / "ctl" / "ckpt.pt")["model"]["decoder.control_map"].numpy()
    update_sidecar(tmp_path / "onnx", controls={"map": trained.tolist(), "spread": [0.5, 0.25]})
    rt = Runtime.load(tmp_path / "onnx")
    assert rt.controls.map == pytest.approx(trained, abs=1e-6)

    fed = []

    class Recording:  # the real prep session; only what it is fed is kept
        def __init__(self, inner):
            self.inner = inner

        def get_inputs(self):
            return self.inner.get_inputs()

        def run(self, names, feed):
            fed.append(feed["controls"].copy())
            return self.inner.run(names, feed)

    rt.prep = Recording(rt.prep)
    target = VA(0.4, -0.6)
    for variety, seed in ((0.0, 3), (1.0, 3), (1.0, 3), (1.0, 4), (2.0, 3)):
        rt.compose(GenerationSettings(bars=1, seed=seed, intensity=1.0, variety=variety), rt.blank(), target)
    plain, one, again, other, double = (f[0] for f in fed)
    assert plain == pytest.approx(apply_control_map(trained, [0.4, -0.6])[0], abs=1e-5)
    assert one == pytest.approx(again) and not np.allclose(one, other)  # the seed decides the piece's own controls
    assert double - plain == pytest.approx(2 * (one - plain), abs=1e-5)
    assert np.all(np.abs(one - plain) <= np.array([0.5, 0.25]) * 2.0 + 1e-6)


def test_a_pieces_offset_is_seeded_scaled_by_variety_and_bounded():
    from engine.generation.controls import OFFSET_CUT, Controls

    ctl = Controls({"map": np.zeros((3, 2)), "spread": [0.6, 0.3]})
    assert np.all(ctl.offset(5, 0.0) == 0)
    assert np.all(ctl.offset(0, 2.0) == 0)  # the default seed plays its mood's typical density and touch
    draws = np.array([ctl.offset(seed, 1.0) for seed in range(1, 2001)])
    assert draws.std(axis=0) == pytest.approx([0.6, 0.3], rel=0.1)
    assert np.all(np.abs(draws) <= np.array([0.6, 0.3]) * OFFSET_CUT + 1e-6)
    assert abs(np.corrcoef(draws.T)[0, 1]) < 0.1  # density and touch depart independently
    assert ctl.offset(5, 0.5) == pytest.approx(ctl.offset(5, 1.0) / 2)
    assert ctl([0.0, 0.0], [9.0, -9.0])[0] == pytest.approx([CLIP, -CLIP])


@pytest.mark.parametrize("spec", [{"map": [[0, 0]] * 2}, {"map": np.zeros((3, 2)).tolist(), "spread": [-0.1, 0.2]},
                                  {"map": [[0, 0], [0, 0], [0, float("nan")]]}, {"spread": [0, 0]}, "map"])
def test_malformed_controls_are_refused_with_a_reason(spec):
    from engine.generation.controls import Controls

    with pytest.raises(ValueError, match="controls"):
        Controls(spec)


def test_the_control_fit_asks_what_makes_the_model_play_real_musics_map_and_spread():
    from engine.training.control_fit import response, solve

    rng = np.random.default_rng(0)
    asked = rng.normal(0.2, 0.6, (4000, 2))
    a, b, noise = np.array([-0.1, -0.2]), np.array([0.9, 1.2]), np.array([0.3, 0.4])
    played = a + b * asked + rng.normal(0, 1, asked.shape) * noise
    got_a, got_b, got_r = response(asked, played)
    assert got_a == pytest.approx(a, abs=0.03) and got_b == pytest.approx(b, abs=0.03) and got_r == pytest.approx(noise, abs=0.02)

    real = np.array([[0.3, -0.1], [-0.15, 0.0], [1.0, 1.05]])
    fitted = solve(real, np.array([0.7, 0.5]), a, b, noise)
    va = rng.uniform(-1, 1, (50, 2))
    asked_for_va = fitted.map[0] + va @ fitted.map[1:]
    assert a + b * asked_for_va == pytest.approx(real[0] + va @ real[1:], abs=1e-6)  # played on average as real music
    # the piece's own offset plus the model's own noise spread as real pieces do around their mood
    assert np.sqrt((b * fitted.spread) ** 2 + noise ** 2) == pytest.approx([0.7, 0.5], abs=1e-6)
    with pytest.raises(ValueError, match="hardly follows"):
        solve(real, np.array([0.7, 0.5]), a, np.array([0.05, 1.0]), noise)


def test_played_controls_read_density_and_touch_from_notes():
    from engine.training.control_fit import played_controls

    notes = [NoteEvent(60, 96, i * 0.5, 0.5) for i in range(24 * 2 // 2)]  # 24 notes over 2 bars, forte
    assert played_controls(notes, 2) == pytest.approx([np.log2(12 / 12), 1.0])
    assert played_controls([], 2) == pytest.approx([-CLIP, -CLIP])
