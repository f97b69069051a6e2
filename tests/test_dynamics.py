"""Dynamics: each velocity is placed inside the band its token names, following the line's
running loudness, so the notes keep their tokens and lose the bins' jumps."""
import numpy as np
import pytest

from engine.music.dynamics import BANDS, Contour, band, shape_dynamics
from engine.events import NoteEvent
from engine.generation.tokens import VELOCITY_BINS, encode, notes_to_grid


def line(velocities, chord=1):
    return [NoteEvent(60 + (k % 7), v, i * 0.5, 0.5) for i, v in enumerate(velocities) for k in range(chord)]


def test_the_bands_cover_every_velocity_once_and_each_holds_its_bin():
    covered = sorted(v for lo, hi in BANDS.values() for v in range(lo, hi + 1))
    assert covered == list(range(1, 128))
    for b in VELOCITY_BINS:
        lo, hi = band(b)
        assert lo <= b <= hi


@pytest.mark.parametrize("amount", [0.25, 0.5, 1.0])
def test_every_note_keeps_its_token(amount):
    rng = np.random.default_rng(3)
    notes = [NoteEvent(int(rng.integers(30, 90)), int(rng.choice(VELOCITY_BINS)), s / 4, 0.25)
             for s in sorted(rng.integers(0, 64, 80).tolist())]
    shaped = list(shape_dynamics(notes, amount))
    assert [n.velocity for n in shaped] != [n.velocity for n in notes]
    assert encode(notes_to_grid(shaped)) == encode(notes_to_grid(notes))
    assert [(n.pitch, n.start, n.duration) for n in shaped] == [(n.pitch, n.start, n.duration) for n in notes]


def test_a_line_wobbling_between_two_bins_evens_out_and_amount_zero_leaves_it():
    wobble = line([64, 80] * 8)
    assert list(shape_dynamics(wobble, 0.0)) == wobble
    raw = np.std([n.velocity for n in wobble])
    half = np.std([n.velocity for n in shape_dynamics(wobble, 0.5)])
    settled = [n.velocity for n in shape_dynamics(wobble, 1.0)]
    assert np.std(settled) < half < raw
    assert max(settled[-8:]) - min(settled[-8:]) <= 1   # at 1 both bins meet at their shared edge


def test_a_crescendo_survives():
    rising = line([32, 32, 48, 48, 64, 64, 80, 80, 96, 96, 112, 112])
    v = [n.velocity for n in shape_dynamics(rising, 1.0)]
    assert all(b >= a for a, b in zip(v, v[1:]))
    assert v[-1] - v[0] >= 60


def test_the_notes_of_one_chord_hear_the_same_contour():
    chords = line([48, 96, 96, 96], chord=3)
    out = list(shape_dynamics(chords, 1.0))
    for i in range(4):
        assert len({n.velocity for n in out[3 * i:3 * i + 3]}) == 1


def test_each_note_comes_out_as_soon_as_it_goes_in():
    def feed():
        yield NoteEvent(60, 80, 0.0, 1.0)
        raise AssertionError("read ahead of the first note")
    assert next(shape_dynamics(feed(), 1.0)).pitch == 60


def test_follow_and_amount_are_checked():
    for bad in ((-0.1, 1.0), (1.2, 1.0), (0.5, -0.1), (0.5, 1.5)):
        with pytest.raises(ValueError):
            Contour(*bad)


def test_the_shipped_model_plays_the_same_notes_with_its_loudness_placed_inside_the_bins():
    """The product's path: dynamics changes no pitch, time or token — only where in its bin each
    velocity sits — and at 0 every velocity is a bin's centre."""
    from pathlib import Path

    from engine.events import VA
    from engine.settings import DEFAULT_DYNAMICS, GenerationSettings
    from engine.generation.runtime import Runtime

    rt = Runtime.load()
    enc = rt.encode(Path(__file__).resolve().parent.parent / "examples" / "coffee.jpg")
    plain, shaped = (rt.compose(GenerationSettings(bars=4, seed=2, dynamics=d), enc, VA(-0.3, 0.4)).notes
                     for d in (0.0, DEFAULT_DYNAMICS))
    assert {n.velocity for n in plain} <= set(VELOCITY_BINS)
    assert [(n.pitch, n.start, n.duration) for n in shaped] == [(n.pitch, n.start, n.duration) for n in plain]
    assert [band(n.velocity) for n in shaped] == [band(n.velocity) for n in plain]
    assert any(a.velocity != b.velocity for a, b in zip(plain, shaped))
    assert np.std([n.velocity for n in shaped]) < np.std([n.velocity for n in plain])
