"""Plain values that flow between stages: valence-arousal points and note events.

Times are in beats (quarter notes), never seconds: the tempo is a playback choice, so the
same events can go to a ``.mid`` file, a live port at any tempo, or a DAW's clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

QUADRANT_NAMES = {1: "excited", 2: "tense", 3: "sad", 4: "calm"}
BEATS_PER_BAR = 4              # every piece is in 4/4
PIANO_LOW, PIANO_HIGH = 21, 108  # A0..C8, the 88 keys the model writes
MIN_TEMPO, MAX_TEMPO = 20.0, 300.0  # BPM a piece may be written or played at


def quadrant(valence: float, arousal: float) -> int:
    """Russell quadrant 1..4 from the signs (0 counts as positive, as in the data README)."""
    if valence >= 0:
        return 1 if arousal >= 0 else 4
    return 2 if arousal >= 0 else 3


@dataclass(frozen=True)
class VA:
    valence: float
    arousal: float

    def __post_init__(self) -> None:
        for name in ("valence", "arousal"):
            v = getattr(self, name)
            if not (-1.0 <= float(v) <= 1.0):
                raise ValueError(f"{name} must be in [-1, 1] (received {v})")

    @property
    def quadrant(self) -> int:
        return quadrant(self.valence, self.arousal)

    @property
    def mood(self) -> str:
        return QUADRANT_NAMES[self.quadrant]

    def clipped(self) -> "VA":
        return VA(max(-1.0, min(1.0, float(self.valence))), max(-1.0, min(1.0, float(self.arousal))))

    def as_dict(self) -> dict:
        return {"valence": round(float(self.valence), 4), "arousal": round(float(self.arousal), 4)}


@dataclass(frozen=True)
class NoteEvent:
    """One note. ``start`` and ``duration`` in beats; ``velocity`` 1..127; ``pitch`` 0..127."""

    pitch: int
    velocity: int
    start: float
    duration: float
    channel: int = 0

    @property
    def end(self) -> float:
        return self.start + self.duration

    def transposed(self, semitones: int) -> "NoteEvent":
        return NoteEvent(self.pitch + semitones, self.velocity, self.start, self.duration, self.channel)


@dataclass(frozen=True)
class BarAim:
    """What one bar is composed for: an aimed VA and, when the picture changes, its memory; and
    ``chords``, the chord of each of its beats in the piece's key (``engine.music.chords.Chord``) when
    the musician gives the harmony live (None: the plan's chords, or the model's own)."""

    va: VA
    memory: object | None = None
    chords: tuple | None = None


Steer = Callable[[int], "BarAim | None"]  # bar of the new music (0-based) → its aim, or None: as before
