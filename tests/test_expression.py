"""The expression bias: arousal reaches velocity always, density where the arousal moves."""
import numpy as np
import pytest

from engine.generation import expression as E
from engine.generation.tokens import BAR, N_POS, N_VEL, PITCH0, POS0, VEL0


def test_no_strength_and_neutral_arousal_add_nothing():
    assert E.arousal_bias(0.8, strength=0.0) is None
    assert E.arousal_bias(0.0) is None


def test_a_constant_high_arousal_only_plays_louder():
    anywhere, after_note = E.arousal_bias(0.8)
    vel = anywhere[VEL0:VEL0 + N_VEL]
    assert np.all(np.diff(vel) > 0)                                   # louder bins favoured
    assert anywhere[BAR] == 0 and not anywhere[POS0:POS0 + N_POS].any()  # the model's own density
    assert np.array_equal(after_note, anywhere)                        # and its own chords


def test_a_constant_low_arousal_plays_softer_with_the_models_own_density():
    anywhere, after_note = E.arousal_bias(-0.6)
    assert np.all(np.diff(anywhere[VEL0:VEL0 + N_VEL]) < 0)          # softer bins favoured
    assert anywhere[BAR] == 0 and not anywhere[POS0:POS0 + N_POS].any()
    assert np.array_equal(after_note, anywhere)


def test_an_arc_upward_adds_density_and_fuller_chords():
    anywhere, after_note = E.arousal_bias(0.8, opening=-0.8)
    assert anywhere[BAR] < 0 and np.all(np.diff(anywhere[POS0:POS0 + N_POS]) < 0)
    assert after_note[PITCH0] > anywhere[PITCH0]
