"""Calibration: the image head's squeezed VA is spread to the labels' scale, in order, from the sidecar."""
import json
import shutil

import numpy as np
import pytest

from engine.picture import calibration as C
from engine.generation.runtime import ModelError, Runtime


def test_a_squeezed_prediction_is_spread_to_the_labels_quantiles_in_order():
    rng = np.random.default_rng(0)
    labels = rng.uniform(-0.9, 0.9, size=(400, 2))
    raw = 0.4 * labels + rng.normal(0, 0.02, size=labels.shape)  # the L1-trained head: right order, too narrow
    cal = C.fit(raw, labels)
    after = np.array([[v.valence, v.arousal] for v in (C.apply(cal, *r) for r in raw)])
    assert np.abs(after - labels).mean() < 0.5 * np.abs(raw - labels).mean()
    for i in range(2):
        assert np.percentile(after[:, i], 95) - np.percentile(after[:, i], 5) == pytest.approx(
            np.percentile(labels[:, i], 95) - np.percentile(labels[:, i], 5), rel=0.1)
        order = np.argsort(raw[:, i])
        assert np.all(np.diff(after[order, i]) >= -1e-12)  # monotone: rank correlations unchanged


def test_without_a_calibration_the_prediction_is_only_clipped():
    assert C.apply(None, 1.7, -0.2) == C.VA(1.0, -0.2)


def test_flat_predictions_and_too_few_pairs():
    cal = C.fit(np.zeros((20, 2)), np.linspace(-1, 1, 40).reshape(20, 2))
    C.check(cal)  # ties still give an increasing map
    with pytest.raises(ValueError, match="at least 10"):
        C.fit(np.zeros((3, 2)), np.zeros((3, 2)))


def test_the_runtime_applies_the_sidecars_calibration_and_refuses_a_broken_one(tiny_run, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_run.onnx, d)
    side = json.loads((d / "synesthete.json").read_text())
    raw = Runtime.load(d).encode(tiny_run.photo).raw_va
    # a map that sends every raw value to the middle of a narrow label band
    side["calibration"] = {"method": "quantile", "valence": {"raw": [-1, 1], "label": [0.5, 0.7]},
                           "arousal": {"raw": [-1, 1], "label": [-0.7, -0.5]}}
    (d / "synesthete.json").write_text(json.dumps(side))
    enc = Runtime.load(d).encode(tiny_run.photo)
    assert enc.raw_va == raw
    assert enc.va.valence == pytest.approx(0.6 + 0.1 * raw.valence) and enc.va.arousal == pytest.approx(-0.6 + 0.1 * raw.arousal)
    side["calibration"]["arousal"]["raw"] = [1, -1]  # not increasing
    (d / "synesthete.json").write_text(json.dumps(side))
    with pytest.raises(ModelError, match="malformed calibration"):
        Runtime.load(d)


def test_the_sidecars_va_head_reads_the_picture_and_a_broken_one_is_refused(tiny_run, tmp_path):
    from PIL import Image

    from engine.picture.image_stats import STAT_NAMES, colour_stats

    d = tmp_path / "m"
    shutil.copytree(tiny_run.onnx, d)
    side = json.loads((d / "synesthete.json").read_text())
    side.pop("calibration", None)
    n = 2 * side["model_config"]["d_model"] + len(STAT_NAMES)
    # a head that reads only brightness (the first colour statistic): valence = brightness - 0.5
    w = np.zeros((n, 2))
    w[n - len(STAT_NAMES), 0] = 1.0
    side["va_head"] = {"mean": [0.0] * n, "scale": [1.0] * n, "weights": w.tolist(), "bias": [-0.5, 0.0]}
    (d / "synesthete.json").write_text(json.dumps(side))
    rt = Runtime.load(d)
    for grey in (30, 220):
        img = Image.new("RGB", (64, 64), (grey, grey, grey))
        assert rt.encode(img).va.valence == pytest.approx(colour_stats(img)[0] - 0.5, abs=1e-5)
    assert rt.encode(Image.new("RGB", (64, 64), (220,) * 3)).va.valence > rt.encode(Image.new("RGB", (64, 64), (30,) * 3)).va.valence
    side["va_head"]["weights"] = w[:-1].tolist()  # one row short
    (d / "synesthete.json").write_text(json.dumps(side))
    with pytest.raises(ModelError, match="VA head"):
        Runtime.load(d)


def test_a_va_head_can_read_the_backbones_pooled_features_and_needs_them(tiny_run, tmp_path):
    from PIL import Image

    from engine.picture.image_stats import STAT_NAMES, VAHead
    from engine.picture.images import preprocess

    d = tmp_path / "m"
    shutil.copytree(tiny_run.onnx, d)
    side = json.loads((d / "synesthete.json").read_text())
    side.pop("calibration", None)
    c = side["model_config"]["feat_channels"]
    n = c + len(STAT_NAMES)
    # valence = the first backbone channel averaged over the grid; arousal = 0
    w = np.zeros((n, 2))
    w[0, 0] = 1.0
    side["va_head"] = {"inputs": ["backbone", "colour"], "mean": [0.0] * n, "scale": [1.0] * n, "weights": w.tolist(), "bias": [0.0, 0.0]}
    (d / "synesthete.json").write_text(json.dumps(side))
    rt = Runtime.load(d)
    img = Image.new("RGB", (64, 64), (200, 40, 90))
    (pooled,) = rt.encoder.run(["pooled"], {"image": preprocess(img, rt.size, rt.mean, rt.std)})
    assert pooled.shape == (1, c)
    assert rt.encode(img).va.valence == pytest.approx(float(pooled[0, 0]), abs=1e-5)
    head = VAHead(side["va_head"])
    with pytest.raises(ValueError, match="pooled"):  # an encoder graph without that output cannot feed it
        head({"memory": np.zeros((1, 49, side["model_config"]["d_model"]), np.float32)}, img)
    side["va_head"]["inputs"] = ["backbone", "texture"]
    (d / "synesthete.json").write_text(json.dumps(side))
    with pytest.raises(ModelError, match="VA head"):
        Runtime.load(d)


def test_a_va_head_can_read_each_backbone_stage_pooled_as_the_encoder_gives_it(tiny_run, tmp_path):
    import torch
    from PIL import Image

    from engine.picture.image_stats import VAHead
    from engine.picture.images import preprocess
    from engine.training.backbones import build_backbone

    d = tmp_path / "m"
    shutil.copytree(tiny_run.onnx, d)
    side = json.loads((d / "synesthete.json").read_text())
    side.pop("calibration", None)
    rt = Runtime.load(d)
    img = Image.new("RGB", (80, 64), (30, 140, 200))
    x = preprocess(img, rt.size, rt.mean, rt.std)
    (stages,) = rt.encoder.run(["stages"], {"image": x})
    with torch.no_grad():  # the graph's statistics are the backbone's own: each stage's last block, mean then sd
        expected = build_backbone(side["model_config"]["backbone"]).forward_with_stages(torch.from_numpy(x))[1]
    assert stages.shape == expected.shape == (1, 1568)
    assert stages == pytest.approx(expected.numpy(), rel=1e-4, abs=1e-4)
    n = stages.shape[1]
    w = np.zeros((n, 2))
    w[-1, 1] = 0.5  # arousal = half the last stage's last channel's sd (inside the plane)
    side["va_head"] = {"inputs": ["stages"], "mean": [0.0] * n, "scale": [1.0] * n, "weights": w.tolist(), "bias": [0.0, 0.0]}
    (d / "synesthete.json").write_text(json.dumps(side))
    rt = Runtime.load(d)
    assert rt.encode(img).va.arousal == pytest.approx(0.5 * float(stages[0, -1]), abs=1e-4)
    with pytest.raises(ValueError, match="stages"):  # an encoder graph without that output cannot feed it
        VAHead(side["va_head"])({"memory": np.zeros((1, 49, side["model_config"]["d_model"]), np.float32)}, img)


def test_colour_statistics_tell_bright_vivid_pictures_from_dark_dull_ones():
    from PIL import Image

    from engine.picture.image_stats import STAT_NAMES, colour_stats

    vivid = Image.new("RGB", (64, 64), (250, 120, 20))
    dull = Image.new("RGB", (64, 64), (30, 32, 35))
    a, b = dict(zip(STAT_NAMES, colour_stats(vivid))), dict(zip(STAT_NAMES, colour_stats(dull)))
    assert a["brightness"] > b["brightness"] and a["saturation"] > b["saturation"] and a["colourfulness"] > b["colourfulness"]
    assert a["warm_share"] == pytest.approx(1.0) and b["dark_share"] == pytest.approx(1.0)


def test_the_va_head_report_scores_each_source_of_pictures_on_its_own():
    from engine.training.va_head import per_source

    y = np.array([[0.1, 0.5], [0.2, -0.4], [0.3, 0.1], [-0.5, 0.3], [0.4, -0.2], [0.0, 0.6]])
    pred = y.copy()
    pred[3:, 1] = -y[3:, 1]  # the second source's arousal read backwards
    res = per_source(pred, y, ["oasis"] * 3 + ["emotion6"] * 3)
    assert list(res) == ["emotion6", "oasis"]
    assert res["oasis"]["n"] == 3 and res["oasis"]["rho_arousal"] == pytest.approx(1.0)
    assert res["emotion6"]["rho_arousal"] == pytest.approx(-1.0) and res["emotion6"]["rho_valence"] == pytest.approx(1.0)
