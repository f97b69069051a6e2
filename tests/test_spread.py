"""Octave spread: the sampler may draw each note's octave more evenly than the model does, while
which pitch class comes next (the key, the chord) stays the model's choice."""
import numpy as np
import pytest

from engine.generation import tokens as T
from engine.generation.sampling import SamplingSettings, TokenStream, octave_spread

PITCHES = np.arange(T.N_PITCH) + T.PITCH_MIN


def probs(logits, mask):
    z = np.where(mask, logits, -np.inf)
    p = np.exp(z - z[mask].max())
    return p / p.sum()


def class_mass(p):
    return np.bincount(PITCHES % 12, p[T.PITCH0:T.PITCH0 + T.N_PITCH], minlength=12)


def octave_entropy(p, pc):
    q = p[T.PITCH0:T.PITCH0 + T.N_PITCH][PITCHES % 12 == pc]
    q = q[q > 0] / q.sum()
    return float(-(q * np.log(q)).sum())


def masks():
    rng = np.random.default_rng(0)
    every = np.zeros(T.VOCAB_SIZE, bool)
    every[T.PITCH0:T.PITCH0 + T.N_PITCH] = True
    every[T.BAR] = every[T.POS0 + 3] = True            # a note or a move on, as inside a bar
    above = np.zeros(T.VOCAB_SIZE, bool)
    above[T.PITCH0 + 40:T.PITCH0 + T.N_PITCH] = True   # a chord's next note: only higher pitches
    above[T.POS0 + 5] = True
    sparse = np.zeros(T.VOCAB_SIZE, bool)
    sparse[T.PITCH0 + rng.choice(T.N_PITCH, 9, replace=False)] = True
    return [every, above, sparse]


@pytest.mark.parametrize("spread", [0.5, 1.3, 2.0])
@pytest.mark.parametrize("m", range(3))
def test_each_pitch_class_and_every_other_token_keeps_its_probability(spread, m):
    mask = masks()[m]
    logits = np.random.default_rng(m).normal(0, 3, T.VOCAB_SIZE)
    before, after = probs(logits, mask), probs(octave_spread(logits, mask, spread), mask)
    assert np.allclose(class_mass(after), class_mass(before), atol=1e-9)
    other = np.ones(T.VOCAB_SIZE, bool)
    other[T.PITCH0:T.PITCH0 + T.N_PITCH] = False
    assert np.allclose(after[other], before[other], atol=1e-9)


def test_above_one_the_octaves_even_out_below_one_they_narrow_and_one_changes_nothing():
    mask = masks()[0]
    logits = np.full(T.VOCAB_SIZE, -5.0)
    logits[T.PITCH0:T.PITCH0 + T.N_PITCH] = -((PITCHES - 60) / 6.0) ** 2  # a model that keeps to the middle
    base = probs(logits, mask)
    wide, narrow = probs(octave_spread(logits, mask, 1.6), mask), probs(octave_spread(logits, mask, 0.6), mask)
    for pc in (0, 4, 7):
        assert octave_entropy(narrow, pc) < octave_entropy(base, pc) < octave_entropy(wide, pc)
    assert octave_spread(logits, mask, 1.0) is logits
    untouched = logits.copy()
    octave_spread(logits, mask, 1.6)
    assert np.array_equal(logits, untouched)  # the caller's logits are not changed in place


def test_a_pitch_the_model_all_but_rules_out_stays_finite_or_unplayable_never_nan():
    mask = masks()[0]
    logits = np.zeros(T.VOCAB_SIZE)
    logits[T.PITCH0] = -1e4
    out = octave_spread(logits, mask, 2.0)
    assert not np.isnan(out[mask]).any() and np.isfinite(out[mask]).sum() >= mask.sum() - 1


class MiddleStepper:
    """A model that keeps its notes near middle C and favours the C major triad's pitch classes."""

    block_size = 512

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def reset(self):
        pass

    def step(self, token, pos):
        logits = self.rng.normal(0, 1, T.VOCAB_SIZE)
        logits[T.PITCH0:T.PITCH0 + T.N_PITCH] += -((PITCHES - 62) / 5.0) ** 2 / 2 + 2.0 * np.isin(PITCHES % 12, [0, 4, 7])
        return logits


def sampled(spread, seeds=range(30)):
    notes = []
    for seed in seeds:
        s = SamplingSettings(bars=4, temperature=1.0, top_p=0.95, seed=seed, mode="major", spread=spread)
        notes += T.decode([t for t, _ in TokenStream(MiddleStepper(seed), s)])
    return np.array([n.pitch for n in notes])


def test_sampled_pieces_spread_wider_over_the_keyboard_with_the_same_pitch_classes():
    plain, wide = sampled(1.0), sampled(1.6)
    span = lambda p: np.percentile(p, 95) - np.percentile(p, 5)
    outside = lambda p: (np.abs(p - 62) > 6).mean()  # beyond the octave the model keeps to
    assert span(wide) >= span(plain) + 2 and outside(wide) > outside(plain) + 0.03
    # each step keeps the classes' odds; over a piece they drift a little, since a chord's next
    # note may only go higher and so depends on where the last one landed
    triad = lambda p: np.isin(p % 12, [0, 4, 7]).mean()
    assert abs(triad(wide) - triad(plain)) < 0.1
