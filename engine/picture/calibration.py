"""Calibrating the image head's VA to the labels' scale: a per-axis quantile mapping.

The image head is trained with an L1 loss, which pulls uncertain predictions towards the
middle: on the test pictures its arousal spans about half the labels' range, so calm and
exciting pictures get nearly the same music. A monotone mapping fitted on validation pictures
(raw prediction quantiles → label quantiles, linear in between) spreads predictions as the
labels spread, keeps their order (rank correlations are unchanged) and is stored in the model
sidecar, so the runtime applies it with numpy alone.

    calibration = {"method": "quantile", "fitted_on": "val", "n": 260,
                   "valence": {"raw": [...], "label": [...]}, "arousal": {...}}
"""
from __future__ import annotations

import numpy as np

from ..events import VA

AXES = ("valence", "arousal")
QUANTILES = np.linspace(0.0, 1.0, 21)  # every 5th percentile


def fit(raw: np.ndarray, labels: np.ndarray, fitted_on: str = "val") -> dict:
    """The mapping from raw predictions (N, 2) to labels (N, 2), quantile to quantile."""
    raw, labels = np.asarray(raw, float), np.asarray(labels, float)
    if raw.shape != labels.shape or raw.ndim != 2 or raw.shape[1] != 2 or len(raw) < 10:
        raise ValueError(f"calibration needs at least 10 (raw, label) VA pairs (received shapes {raw.shape}, {labels.shape})")
    out: dict = {"method": "quantile", "fitted_on": fitted_on, "n": int(len(raw))}
    for i, axis in enumerate(AXES):
        r = np.quantile(raw[:, i], QUANTILES)
        # np.interp needs increasing x: ties (a flat stretch of predictions) get a hair of slope
        r = np.maximum.accumulate(r + np.arange(len(r)) * 1e-9)
        out[axis] = {"raw": [round(float(x), 6) for x in r], "label": [round(float(x), 6) for x in np.quantile(labels[:, i], QUANTILES)]}
    return out


def apply(calibration: dict | None, valence: float, arousal: float) -> VA:
    """A raw prediction on the labels' scale, clipped to the plane (unchanged without a calibration)."""
    v, a = float(valence), float(arousal)
    if calibration:
        v = float(np.interp(v, calibration["valence"]["raw"], calibration["valence"]["label"]))
        a = float(np.interp(a, calibration["arousal"]["raw"], calibration["arousal"]["label"]))
    return VA(float(np.clip(v, -1, 1)), float(np.clip(a, -1, 1)))


def check(calibration) -> None:
    """ValueError unless ``calibration`` is a well-formed mapping (the runtime's load check)."""
    try:
        for axis in AXES:
            raw, lab = np.asarray(calibration[axis]["raw"], float), np.asarray(calibration[axis]["label"], float)
            if raw.shape != lab.shape or raw.ndim != 1 or len(raw) < 2 or np.any(np.diff(raw) < 0) or not np.isfinite(raw).all() or not np.isfinite(lab).all():
                raise ValueError(axis)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"malformed calibration ({e})") from None
