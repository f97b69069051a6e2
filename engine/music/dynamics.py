"""Dynamics: the exact velocity of each note, inside the loudness band its token names.

The model writes loudness as one of eight bins (``engine.generation.tokens.VELOCITY_BINS``, 16 apart).
Played back as the bins' centres, two neighbouring notes a bin apart jump 16 steps, and a
line wobbles between bins as no pianist's hand does: measured on the test pieces, binning
alone lifts real music's within-piece velocity sd from 10.4 to 11.2, and the sampled
pieces sat at 12.5.

A token only says which band a note's velocity lies in; where in the band is free. This
module chooses it the way a hand moves: each onset is played as close as its band allows to
a running *contour* of the loudness so far, and the contour follows what was played

    v = clip(c, lo(bin), hi(bin)),    c ← c + follow · (mean v of the onset − c)

so notes in one band sound level, a step to the next band moves only as far as its edge,
and a real change of dynamics (several notes in a louder band) carries the contour along.
``amount`` (0..1) blends from the bin's centre (0, the raw token) to that placement (1).
Every note stays in its token's band, so the notes still encode to the same tokens. Causal,
the contour moving once per onset, it runs as notes stream in and holds nothing back.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from ..events import NoteEvent
from ..generation.tokens import VELOCITY_BINS, velocity_bin

FOLLOW = 0.5     # the contour moves halfway to each onset: about the last two onsets (0.25 and 1 measured alike, MUSICALITY.md)
EPS = 1e-6


def _bands() -> dict[int, tuple[int, int]]:
    """Each bin's representative velocity → the velocities (lo, hi) that encode to it."""
    out: dict[int, list[int]] = {}
    for v in range(1, 128):
        out.setdefault(VELOCITY_BINS[velocity_bin(v)], []).append(v)
    return {b: (min(vs), max(vs)) for b, vs in out.items()}


BANDS = _bands()


def band(velocity: int) -> tuple[int, int]:
    """The velocities that share ``velocity``'s token (its bin's band), inclusive."""
    return BANDS[VELOCITY_BINS[velocity_bin(velocity)]]


class Contour:
    """The running loudness of one piece. ``place`` gives a note its velocity the moment it
    arrives: the contour moves only when a new onset begins, by the previous onset's mean, so
    the notes of one chord all hear the same contour and nothing waits for the chord to end."""

    def __init__(self, follow: float = FOLLOW, amount: float = 1.0) -> None:
        if not (0.0 <= follow <= 1.0 and 0.0 <= amount <= 1.0):
            raise ValueError(f"follow and amount must be in 0..1, not {follow}, {amount}")
        self.follow, self.amount = follow, amount
        self.value: float | None = None
        self._onset: float | None = None
        self._played: list[int] = []

    def place(self, note: NoteEvent) -> NoteEvent:
        if self._onset is None or abs(note.start - self._onset) > EPS:
            if self._played:
                self.value += self.follow * (sum(self._played) / len(self._played) - self.value)
            self._onset, self._played = note.start, []
        if self.value is None:
            self.value = float(note.velocity)
        lo, hi = band(note.velocity)
        v = int(round(note.velocity + self.amount * (min(max(self.value, lo), hi) - note.velocity)))
        self._played.append(v)
        return NoteEvent(note.pitch, v, note.start, note.duration, note.channel)


def shape_dynamics(notes: Iterable[NoteEvent], amount: float = 1.0, follow: float = FOLLOW) -> Iterator[NoteEvent]:
    """``notes`` (in start order) with each velocity moved inside its band toward the contour;
    ``amount`` 0 gives them back unchanged (the bins' centres)."""
    if amount <= 0:
        yield from notes
        return
    contour = Contour(follow, amount)
    for n in notes:
        yield contour.place(n)
