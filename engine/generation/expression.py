"""Arousal in the notes themselves: a bias on the model's next-token logits, per bar.

The decoder hears the VA, but trained on ~1,000 pieces its answer to arousal is faint: at a fixed
tempo, calm and excited pictures got nearly the same density and touch (ρ(arousal, notes) 0.10,
ρ(arousal, velocity) 0.05 on the test pictures), and an arc from sad to excited did not get
denser bar by bar (ρ 0.01). In a DAW the tempo is the project's, so arousal must reach what a
player controls. For a bar aimed at arousal ``a`` with strength ``k`` (0 = the model alone),
this adds to the logit of

* each velocity bin ``i`` (of 8): ``k·VELOCITY·a·z_i`` with ``z`` from -1 (softest) to +1 (loudest);
* ``Bar`` (close this bar): ``-k·BAR_END·d`` — a bar more excited than the opening goes on to more notes;
* a pitch right after a note (another note of the same chord): ``k·CHORD·d`` — fuller chords;
* each position ``p`` (0..15): ``-k·POSITION·d·p/15`` — nearer onsets.

Velocity follows the bar's arousal ``a`` itself. Density follows ``d``, how far
the bar's arousal has moved from the piece's first bar (``CALM·`` that when it moved down):
given one VA from the start, the model already writes about real music's density for it (18
notes a bar at (0.8, 0.8), 10 at (−0.8, −0.8); real excited music has 18, calm 11.5), and
pushing it further put excited pieces in the top octaves with notes everywhere — a chord's
extra notes can only go above (pitches ascend within an onset). What the model does not do is
change its density when the VA changes mid-piece (its own context holds it back), and that is
what the density terms are for: arcs and live steering. There is no register term: in the real
test music register does not follow arousal. A bias, not a rule: the model still picks among
what it finds likely, and the grammar mask still decides what is legal. The strengths were
chosen on the example photo (arcs over 10 seeds; density and register at fixed VAs against the
real test music's per-quadrant means) and by looking at piano rolls, then measured on the test
pictures (docs/EXPRESSION.md). ``engine.generation.compose`` also lets the model forget all but the last
bar of its context where the emotion turns (``REFOCUS_AT``), which alone takes an arc's
density response from 0.0 to about 0.5.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .tokens import BAR, N_POS, N_VEL, PITCH0, PITCH_MAX, PITCH_MIN, POS0, VEL0, VOCAB_SIZE

VELOCITY, BAR_END, CHORD, POSITION = 0.3, 1.5, 0.7, 3.0
CALM = 0.3  # the density terms' share when the arousal moved down
DEFAULT_STRENGTH = 1.0


@lru_cache(maxsize=1)
def _touch() -> np.ndarray:
    """Velocity at arousal +1, strength 1 (linear in both, either sign)."""
    b = np.zeros(VOCAB_SIZE, np.float64)
    b[VEL0:VEL0 + N_VEL] = VELOCITY * np.linspace(-1.0, 1.0, N_VEL)
    b.setflags(write=False)
    return b


@lru_cache(maxsize=1)
def _density() -> np.ndarray:
    """Bar ends and onset positions at arousal +1, strength 1."""
    b = np.zeros(VOCAB_SIZE, np.float64)
    b[BAR] = -BAR_END
    b[POS0:POS0 + N_POS] = -POSITION * np.arange(N_POS) / (N_POS - 1)
    b.setflags(write=False)
    return b


@lru_cache(maxsize=1)
def _chord() -> np.ndarray:
    """The extra bias, at arousal +1 and strength 1, on a pitch that would join the last note's chord."""
    b = np.zeros(VOCAB_SIZE, np.float64)
    b[PITCH0:PITCH0 + PITCH_MAX - PITCH_MIN + 1] = CHORD
    b.setflags(write=False)
    return b


def arousal_bias(arousal: float, strength: float = DEFAULT_STRENGTH, opening: float | None = None
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """The logit biases for one bar aimed at ``arousal`` in a piece that opened at ``opening``
    (default: the same) — (anywhere, after a note's Duration) — or None when there is nothing to add."""
    k = float(strength) * float(arousal)
    moved = float(strength) * (float(arousal) - float(arousal if opening is None else opening))
    if k == 0.0 and moved == 0.0:
        return None
    kd = moved if moved > 0 else CALM * moved
    anywhere = _touch() * k + _density() * kd
    return anywhere, anywhere + _chord() * kd
