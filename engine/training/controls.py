"""Density and touch: two numbers the decoder is told beside the VA, read from the music it learns.

Asked through the VA alone, the decoder's answer to arousal stayed faint: sad and calm pictures
got 22 and 16 notes a bar where real music of that mood has 11.6 and 11.5, and at a fixed
tempo the notes per piece hardly followed arousal. Biasing the sampler towards sparser bars
made the averages right and the extremes wrong (MUSICALITY.md). So, as in attribute-controlled
generation (FIGARO's description features, MuseMorphose's rhythm and polyphony bins), the
model is *trained* with the density and touch of each window it learns — teacher values, read
from the window's own tokens — and learns to play what it is told. At inference the two values
come from the VA through a linear map fitted on the training pieces (``fit_control_map``), stored
in the decoder as its ``control_map`` buffer and exported into the model sidecar, where
``engine.training.control_fit`` refits it against what the model really plays and adds each
piece's own spread (``engine.generation.controls``, the runtime's side). The emotion now reaches the notes
through a channel the model cannot ignore.

    density = log2(notes per bar / 12)          (a bar of 12 notes → 0; 24 → +1; 6 → −1)
    touch   = (mean velocity − 72) / 24         (mf → 0; f (96) → +1; p (48) → −1)

both clipped to [−2, 2]. Notes per bar count every note (chords included) over the window's
bars. A decoder trained with ``--controls 3`` also hears

    range   = (p95 − p5 of the pitches − 30) / 12   (30 semitones → 0; an octave wider → +1)

since with density and touch told, a narrow range (30 against real music's 36 semitones) was
what still gave the music away (MUSICALITY.md).
"""
from __future__ import annotations

import numpy as np

from ..generation.controls import (CLIP, DENSITY_REF, N_CONTROLS, RANGE_REF, RANGE_SCALE, TOUCH_REF, TOUCH_SCALE,  # noqa: F401 - re-exported
                        apply_control_map)
from ..generation.tokens import BAR, N_VEL, PITCH0, PITCH_MAX, PITCH_MIN, VEL0, VELOCITY_BINS

_VEL_VALUE = np.zeros(VEL0 + N_VEL, np.float64)
_VEL_VALUE[VEL0:] = VELOCITY_BINS


def control_values(notes_per_bar: float, mean_velocity: float, pitch_span: float, n: int = N_CONTROLS) -> np.ndarray:
    """The first ``n`` of (density, touch, range) from a stretch of music's notes per bar, mean
    velocity and p5–p95 pitch span in semitones (the module's formulas), clipped, as float32."""
    density = np.log2(notes_per_bar / DENSITY_REF)
    touch = (mean_velocity - TOUCH_REF) / TOUCH_SCALE
    spread = (pitch_span - RANGE_REF) / RANGE_SCALE
    return np.clip(np.array([density, touch, spread][:n], np.float32), -CLIP, CLIP)


def window_controls(tokens: np.ndarray, n: int = N_CONTROLS) -> np.ndarray:
    """The first ``n`` of (density, touch, range) of one token sequence, as float32 (see the
    module's formulas). A window without notes counts as the sparsest, softest and narrowest."""
    t = np.asarray(tokens)
    pitches = t[(t >= PITCH0) & (t <= PITCH0 + PITCH_MAX - PITCH_MIN)]
    bars = max(1, int(np.count_nonzero(t == BAR)))
    vel = t[(t >= VEL0) & (t < VEL0 + N_VEL)]
    if pitches.size == 0 or vel.size == 0:
        return np.full(n, -CLIP, np.float32)
    lo, hi = np.percentile(pitches, [5, 95])  # token ids step by one semitone
    return control_values(pitches.size / bars, _VEL_VALUE[vel].mean(), hi - lo, n)


def batch_controls(windows: list[np.ndarray], n: int = N_CONTROLS) -> np.ndarray:
    """(B, n) controls of the windows of one batch."""
    return np.stack([window_controls(w, n) for w in windows]).astype(np.float32)


def fit_control_map(va: np.ndarray, controls: np.ndarray) -> np.ndarray:
    """The least-squares map from a piece's VA to its controls: a (3, k) matrix M with
    ``controls ≈ M[0] + valence·M[1] + arousal·M[2]``, fitted over pieces (one row each)."""
    va = np.asarray(va, np.float64).reshape(-1, 2)
    y = np.asarray(controls, np.float64).reshape(len(va), -1)
    if len(va) < 3:
        raise ValueError(f"fitting the control map needs at least 3 pieces (received {len(va)})")
    x = np.column_stack([np.ones(len(va)), va])
    m, *_ = np.linalg.lstsq(x, y, rcond=None)
    return m.astype(np.float32)
