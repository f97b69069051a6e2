"""What the image-emotion literature reads beside CNN features: global colour and texture
statistics, and a linear VA head over them and the encoder's memory.

Public names: ``colour_stats``, ``STAT_NAMES``, ``feature_groups``, ``VAHead``, ``ENCODER_OUTPUTS``.

Brightness, saturation and colourfulness move arousal and valence in study after study
(Valdez & Mehrabian 1994; Machajdik & Hanbury 2010; Hasler & Süsstrunk 2003 for
colourfulness); contrast and edge density stand for visual busyness. They are cheap (numpy on a
128-pixel thumbnail) and complement what a pooled CNN feature keeps. ``VAHead`` is a ridge
regression fitted offline (``engine.training.va_head``) and shipped in the model sidecar: some of
the backbone's feature map averaged over its grid, the encoder's memory pooled (mean and standard
deviation over its tokens) and these statistics, standardized, times weights.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

STAT_NAMES = ("brightness", "saturation", "saturation_sd", "colourfulness", "contrast", "edge_density",
              "warm_share", "dark_share", "bright_share", "hue_spread")
THUMB = 128


def colour_stats(img: Image.Image) -> np.ndarray:
    """The ``STAT_NAMES`` statistics of an RGB picture of any size (1x1 up), each roughly in 0..1."""
    small = img.convert("RGB").copy()
    small.thumbnail((THUMB, THUMB))
    rgb = np.asarray(small, np.float32) / 255.0
    hsv = np.asarray(small.convert("HSV"), np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    # np.gradient needs two samples along an axis: a 1-pixel-high strip has no vertical edges
    # (and a 1x1 swatch none at all), rather than no statistics.
    gy = np.gradient(luma, axis=0) if luma.shape[0] > 1 else np.zeros_like(luma)
    gx = np.gradient(luma, axis=1) if luma.shape[1] > 1 else np.zeros_like(luma)
    edges = np.hypot(gx, gy)
    hue, sat = hsv[..., 0], hsv[..., 1]
    vivid = sat > 0.2
    warm = vivid & ((hue < 0.17) | (hue > 0.92))  # reds, oranges, yellows
    angles = 2 * np.pi * hue[vivid]
    spread = 1.0 - float(np.hypot(np.cos(angles).mean(), np.sin(angles).mean())) if angles.size else 0.0
    return np.array([luma.mean(), sat.mean(), sat.std(), colourful, luma.std(), (edges > 0.1).mean(),
                     warm.mean(), (luma < 0.2).mean(), (luma > 0.8).mean(), spread], np.float32)


def pooled(memory: np.ndarray) -> np.ndarray:
    """The encoder's memory (1, tokens, d) → mean and standard deviation over tokens (2d,)."""
    m = np.asarray(memory, np.float32)[0]
    return np.concatenate([m.mean(axis=0), m.std(axis=0)])


INPUTS = ("backbone", "memory", "colour", "stages")  # feature groups a head may read, in this order
OLD_INPUTS = ("memory", "colour")  # heads written before the encoder had a pooled output
# the groups read from the image encoder's outputs of these names (the others are computed here)
ENCODER_OUTPUTS = {"backbone": "pooled", "stages": "stages"}


def feature_groups(outputs: dict[str, np.ndarray], img: Image.Image) -> dict[str, np.ndarray]:
    """Each group a head can read, from the image encoder's ``outputs`` by name and the picture:
    the encoder's memory pooled, the colour statistics, and each group of ``ENCODER_OUTPUTS`` the
    graph gives — the backbone's feature map averaged over its grid (``pooled``) and each backbone
    stage's output pooled by mean and standard deviation (``stages``)."""
    g = {"memory": pooled(outputs["memory"]), "colour": colour_stats(img)}
    for group, name in ENCODER_OUTPUTS.items():
        if outputs.get(name) is not None:
            g[group] = np.asarray(outputs[name], np.float32).reshape(-1)
    return g


class VAHead:
    """``va = (features - mean) / scale @ weights + bias`` over the groups named by ``inputs``."""

    def __init__(self, spec: dict) -> None:
        try:
            self.mean = np.asarray(spec["mean"], np.float32)
            self.scale = np.asarray(spec["scale"], np.float32)
            self.weights = np.asarray(spec["weights"], np.float32)   # (features, 2)
            self.bias = np.asarray(spec["bias"], np.float32)          # (2,)
            self.inputs = tuple(spec.get("inputs", OLD_INPUTS))
        except (KeyError, TypeError, ValueError):
            raise ValueError("the VA head in the sidecar is malformed") from None
        if not self.inputs or any(i not in INPUTS for i in self.inputs):
            raise ValueError(f"the VA head in the sidecar reads unknown inputs {self.inputs}")
        n = self.mean.shape[0]
        if self.scale.shape != (n,) or self.weights.shape != (n, 2) or self.bias.shape != (2,) or not np.all(self.scale > 0):
            raise ValueError("the VA head in the sidecar has inconsistent shapes")

    @property
    def encoder_outputs(self) -> list[str]:
        """The image encoder outputs this head reads besides the memory."""
        return [ENCODER_OUTPUTS[i] for i in self.inputs if i in ENCODER_OUTPUTS]

    def __call__(self, outputs: dict[str, np.ndarray], img: Image.Image) -> tuple[float, float]:
        """VA from the image encoder's ``outputs`` (by name) and the picture."""
        for name in self.encoder_outputs:
            if outputs.get(name) is None:
                raise ValueError(f"this VA head reads the encoder's {name!r} output, which this image encoder does not give")
        g = feature_groups(outputs, img)
        x = np.concatenate([g[i] for i in self.inputs])
        if x.shape != self.mean.shape:
            raise ValueError(f"the VA head expects {self.mean.shape[0]} features, the encoder gives {x.shape[0]}")
        v, a = (x - self.mean) / self.scale @ self.weights + self.bias
        return float(v), float(a)
