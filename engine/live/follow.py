"""Following the musician's chords live (``stream --follow-chords``): the chord held on
"Synesthete In" when a bar is composed is that bar's harmony.

Public names: ``held_chord``, ``ChordFollower``, ``Follow``.

Synesthete composes each bar ``LEAD_S`` (0.1 s) before it sounds (``engine.live.steering.Pacer``);
just then ``ChordFollower`` reads the keys held down on the input (``MidiIn.held_notes``) and, if
they make a chord, returns a ``BarAim`` whose ``chords`` hold it on every beat of that bar: the
sampler then keeps the bar in that chord (``engine.generation.harmony``). So a chord pressed before
a bar line and held across it is the harmony of the bar that starts there; one pressed on the
downbeat is heard from the next bar. With nothing held (or a single pitch class: a melody note,
not a chord) the bar is left alone: the plan's progression if there is one, else the model's own
harmony. It wraps whatever else steers the piece (CC steering, several pictures), so both work
at once.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from ..events import BEATS_PER_BAR, VA, BarAim, NoteEvent, Steer
from ..music.chords import Chord, recognise
from ..settings import GenerationSettings
from .steering import Pacer

MIN_CLASSES = 2  # one pitch class held is a note, not a chord: it names no third


def held_chord(pitches: Iterable[int]) -> Chord | None:
    """The chord a set of held keys makes, or None for fewer than ``MIN_CLASSES`` pitch classes.

    The same template matcher as ``engine.music.chords.recognise``, with every key weighing the
    same (as if all had sounded equally long) and the lowest key as the bass: ``{52, 60, 67}``
    (E3 C4 G4) is ``C/E``, ``{57, 60}`` (A C) is ``Am``."""
    keys = sorted({int(p) for p in pitches if 0 <= int(p) <= 127})
    if len({p % 12 for p in keys}) < MIN_CLASSES:
        return None
    return recognise([NoteEvent(p, 64, 0.0, 1.0) for p in keys], 0.0, 1.0)


@dataclass(frozen=True)
class Follow:
    """One bar composed in a held chord: which piece and bar, the chord, and when it was read."""

    piece: int
    bar: int
    chord: Chord
    at: float  # time.perf_counter()


class ChordFollower:
    """``steer(bar)`` for ``compose_notes``: paced like ``Steering``, and at each bar the chord of
    ``held()`` (the pitches held now) on all its beats. ``base`` is the piece's other steering (CC
    steering, a plan's pictures), asked first; its aim keeps its VA and gains the chords. ``follows``
    logs every bar composed in a held chord."""

    def __init__(self, held: Callable[[], Iterable[int]], pacer: Pacer | None = None) -> None:
        self.held, self.pacer = held, pacer or Pacer()
        self.follows: list[Follow] = []
        self.piece = 1
        self._settings: GenerationSettings | None = None
        self._target: VA | None = None
        self._base: Steer | None = None

    def for_piece(self, piece: int, settings: GenerationSettings, target: VA, base: Steer | None = None) -> "ChordFollower":
        """Start a new piece: its settings and target (for the VA of a bar nobody else steers) and
        its other steering."""
        self.piece, self._settings, self._target, self._base = piece, settings, target, base
        return self

    def __call__(self, bar: int) -> BarAim | None:
        aim = self._base(bar) if self._base is not None else None
        # After the base steering, which paces itself too: the keys are read as late as the bar allows.
        self.pacer.wait_for_bar(bar)
        chord = held_chord(self.held())
        if chord is None:
            return aim
        self.follows.append(Follow(self.piece, bar, chord, time.perf_counter()))
        if aim is None:  # nobody else steers this bar: its own VA (the arc's where there is one)
            aim = BarAim(self._settings.bar_aim(self._target, bar))
        return dataclasses.replace(aim, chords=(chord,) * BEATS_PER_BAR)
