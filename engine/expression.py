"""Arousal in the notes themselves: a bias on the model's next-token logits, per bar.

The decoder hears the VA, but trained on ~1,000 pieces its answer to arousal is faint: at a fixed
tempo, calm and excited pictures got nearly the same density and touch (ρ(arousal, notes) 0.10,
ρ(arousal, velocity) 0.05 on the test pictures). In a DAW the tempo is the project's, so arousal
must reach what a player controls — how loud, how many notes, how detached, how high. This
module adds, for a bar aimed at arousal ``a`` with strength ``k`` (0 = the model alone), to the
logit of

* each velocity bin ``i`` (of 8): ``k·VELOCITY·a·z_i`` with ``z`` from -1 (softest) to +1 (loudest);
* ``Bar`` (close this bar): ``-k·BAR·a`` — an excited bar goes on to more notes, a calm one ends;
* a pitch right after a note (another note of the same chord): ``k·CHORD·a`` — fuller chords;
* each position ``p`` (0..15): ``-k·POSITION·a·p/15`` — excited music takes the nearer onsets;
* each duration of ``d`` sixteenths: ``-k·DURATION·a·log2(d/4)/4`` — excited notes are shorter;
* each pitch: ``k·REGISTER·a·(pitch-64)/24`` — excited music sits a little higher.

A bias, not a rule: the model still picks among what it finds likely, and the grammar mask
still decides what is legal. Added before temperature and nucleus sampling, so it also moves
what falls inside the nucleus. The strengths were chosen by measurement (docs/RESULTS.md).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .tokens import BAR, DUR0, DURATION_STEPS, N_POS, N_VEL, PITCH0, PITCH_MAX, PITCH_MIN, POS0, VEL0, VOCAB_SIZE

VELOCITY, BAR_END, CHORD, POSITION, DURATION, REGISTER = 0.5, 1.0, 1.5, 2.0, 0.8, 0.5
DEFAULT_STRENGTH = 1.0


@lru_cache(maxsize=64)
def _unit() -> np.ndarray:
    """The bias for arousal +1 at strength 1 (it scales linearly in both)."""
    b = np.zeros(VOCAB_SIZE, np.float64)
    b[VEL0:VEL0 + N_VEL] = VELOCITY * np.linspace(-1.0, 1.0, N_VEL)
    b[BAR] = -BAR_END
    b[POS0:POS0 + N_POS] = -POSITION * np.arange(N_POS) / (N_POS - 1)
    b[DUR0:DUR0 + len(DURATION_STEPS)] = -DURATION * np.log2(np.array(DURATION_STEPS) / 4.0) / 4.0
    b[PITCH0:PITCH0 + PITCH_MAX - PITCH_MIN + 1] = REGISTER * (np.arange(PITCH_MIN, PITCH_MAX + 1) - 64) / 24.0
    b.setflags(write=False)
    return b


@lru_cache(maxsize=1)
def _chord() -> np.ndarray:
    """The extra bias, at arousal +1 and strength 1, on a pitch that would join the last note's chord."""
    b = np.zeros(VOCAB_SIZE, np.float64)
    b[PITCH0:PITCH0 + PITCH_MAX - PITCH_MIN + 1] = CHORD
    b.setflags(write=False)
    return b


def arousal_bias(arousal: float, strength: float = DEFAULT_STRENGTH) -> tuple[np.ndarray, np.ndarray] | None:
    """The logit biases for one bar — (anywhere, after a note's Duration) — or None when there is
    nothing to add."""
    k = float(strength) * float(arousal)
    if k == 0.0:
        return None
    anywhere = _unit() * k
    return anywhere, anywhere + _chord() * k
