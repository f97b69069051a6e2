"""Density and touch at inference: the VA → controls map and a piece's own departure from it.

A decoder trained with controls (``engine.training.controls``) hears, beside the VA, how busy
(density = log2(notes per bar / 12)) and how loud (touch = (mean velocity − 72) / 24) to play.
At inference both come from the VA through a linear map (``apply_control_map``) stored in the
model sidecar. Real music of one mood is not one density: calm pieces range from a few held
chords to running arpeggios, and EMOPIA's sad clips from pianissimo to forte. Played from the
map alone every piece of a mood came out alike (notes per bar across 108 pieces ±3.6 against
±7.4 in real music, MUSICALITY.md), so each piece also draws its own offset, seeded by its seed,
scaled by ``variety`` and by the spread the sidecar measured (``engine.training.control_fit``).

    ctl = Controls(side["controls"])
    ctl.offset(seed=7, variety=1.0)            # (k,): this piece's departure, the same for a seed
    ctl(va, offset)                            # (1, k) float32 for decoder_prep.onnx's input

A third control, range (how wide the pitches spread), is defined for decoders trained with
``--controls 3``; the shipped one hears density and touch.
"""
from __future__ import annotations

import numpy as np

NAMES = ("density", "touch", "range")  # a decoder hears the first 2 (shipped) or all 3
N_CONTROLS = 2  # the default count: density and touch
COUNTS = (2, 3)
DENSITY_REF = 12.0  # notes per bar at density 0
TOUCH_REF, TOUCH_SCALE = 72.0, 24.0
RANGE_REF, RANGE_SCALE = 30.0, 12.0  # range = (p95 − p5 of the pitches − 30 semitones) / an octave
CLIP = 2.0
# a piece's offset is a standard normal draw, cut at this many spreads so one seed in a thousand
# cannot ask for a bar of 100 notes
OFFSET_CUT = 2.0
_OFFSET_STREAM = 0xC7  # the offset's own random stream: the sampler's draws stay as they were


def apply_control_map(m: np.ndarray, va: np.ndarray) -> np.ndarray:
    """Controls for VA rows under the (3, k) map ``m``: ``m[0] + valence·m[1] + arousal·m[2]``,
    clipped to ±CLIP (the same as the decoder's own ``control_map``)."""
    va = np.asarray(va, np.float32).reshape(-1, 2)
    return np.clip(np.asarray(m, np.float32)[0] + va @ np.asarray(m, np.float32)[1:], -CLIP, CLIP)


class Controls:
    """The sidecar's ``controls``: ``map`` (3 × k, rows bias/valence/arousal, columns the first k
    of ``NAMES``) and ``spread`` (k,: how far a piece's offset may go per unit of variety)."""

    def __init__(self, spec: dict) -> None:
        try:
            self.map = np.asarray(spec["map"], np.float32)
            k = self.map.shape[-1] if self.map.ndim == 2 else 0
            self.spread = np.asarray(spec.get("spread", [0.0] * k), np.float32)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("the controls in the sidecar are malformed") from None
        if self.map.ndim != 2 or self.map.shape[0] != 3 or self.map.shape[1] not in COUNTS or self.spread.shape != (self.map.shape[1],):
            raise ValueError(f"the controls in the sidecar have the wrong shapes (map 3×k, spread k, k in {COUNTS})")
        if not (np.all(np.isfinite(self.map)) and np.all(np.isfinite(self.spread)) and np.all(self.spread >= 0)):
            raise ValueError("the controls in the sidecar hold non-finite or negative values")

    def offset(self, seed: int, variety: float) -> np.ndarray:
        """This piece's departure from the map: ``variety · spread · z``, z standard normal from
        ``seed`` (cut at ±OFFSET_CUT). Variety 0 plays the map exactly, and so does seed 0, the
        default: a piece made without choosing a seed is its mood's typical one, and the seeds
        after it (the app's variations, ``--seed``) explore around it."""
        if variety <= 0 or seed == 0:
            return np.zeros(self.count, np.float32)
        z = np.random.default_rng([int(seed), _OFFSET_STREAM]).standard_normal(self.count)
        return (float(variety) * self.spread * np.clip(z, -OFFSET_CUT, OFFSET_CUT)).astype(np.float32)

    @property
    def count(self) -> int:
        return int(self.map.shape[1])

    def __call__(self, va, offset: np.ndarray | None = None) -> np.ndarray:
        """(1, k) float32 controls for one VA, the offset added, clipped to ±CLIP."""
        ctl = apply_control_map(self.map, va)
        if offset is not None:
            ctl = ctl + np.asarray(offset, np.float32)
        return np.clip(ctl, -CLIP, CLIP).astype(np.float32).reshape(1, self.count)

    def to_dict(self) -> dict:
        return {"map": np.round(self.map.astype(float), 6).tolist(), "spread": np.round(self.spread.astype(float), 6).tolist()}
