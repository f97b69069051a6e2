"""Calibration: the image head's squeezed VA is spread to the labels' scale, in order, from the sidecar."""
import json
import shutil

import numpy as np
import pytest

from engine import calibration as C
from engine.runtime import ModelError, Runtime


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
