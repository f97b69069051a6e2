"""Keeping a song's hands where they began: its register, a bass in every bar, a pianist's texture.

Left alone over 32 bars, the model wanders: its window holds about nine bars, and each time it
slides it forgets where the piece began, so a bright piece climbs to C6–C7 and leaves the bass out
for bars on end, and a dark one piles held notes into a pad of seven or eight voices. A real song
keeps its register, its bass and its texture (docs/SONGS.md, "Register"). So once a piece has
played ``HOME_BARS`` bars, its home is the 10th to 90th percentile of its pitches so far, and from
then on the keeper leans on each draw (the model still chooses every note):

* every pitch p:  −strength · PULL · (max(0, p − (high + MARGIN)) + max(0, (low − MARGIN) − p));
* the lowest note of an onset (the first pitch after a Position), while the bar has not yet
  sounded a note at or below ``low + BASS_ZONE``:  + strength · BASS  for p in [low − MARGIN, low + BASS_ZONE];
* every pitch at an onset where v notes already sound:  −strength · VOICE · max(0, v − (MAX_VOICES − 1));
* a note's duration d (16th steps) where v notes sound:
  −strength · HOLD · max(0, v − (MAX_VOICES − 2)) · clip(log2(d / 4), 0, 3)  (held notes a beat or longer).

A turn of emotion (steering, an arc) lets the home go: it is learnt again from the bars after.
VOICE and HOLD were chosen on validation pictures (CHANGELOG.md); PULL, MARGIN and BASS were set
before any measurement.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .tokens import DURATION_STEPS, N_PITCH, PITCH_MIN

HOME_BARS = 4      # bars that set the home register
MIN_NOTES = 8      # and the notes they need to (fewer: wait for the next bar line)
MARGIN = 5         # semitones past the home range before the pull starts
PULL = 0.35        # logits per semitone past it
BASS_ZONE = 5      # semitones above the home's low that still count as the bar's bass
BASS = 2.0         # logits for an onset's lowest note in the bass zone while the bar has none
MAX_VOICES = 5     # a piano texture rarely holds more at once (real songs: 4.2–4.6 at an onset)
VOICE = 1.5        # logits off another note at an onset per voice past MAX_VOICES − 1
HOLD = 1.0         # logits off a held note per voice past MAX_VOICES − 2, per doubling past a beat
KEEP_NOTES = 64    # notes remembered for counting voices (a note longer than that many onsets is rare)

_PITCHES = np.arange(PITCH_MIN, PITCH_MIN + N_PITCH)
_LONG = np.clip(np.log2(np.asarray(DURATION_STEPS, dtype=np.float64) / 4.0), 0.0, 3.0)


@dataclass(frozen=True)
class Home:
    """A piece's home register: the 10th and 90th percentiles of its first phrase's pitches."""

    low: float
    high: float

    def has_bass(self, pitches) -> bool:
        return any(p <= self.low + BASS_ZONE for p in pitches)


def home_of(pitches) -> Home | None:
    """The home register of these pitches, or None while there are fewer than ``MIN_NOTES``."""
    if len(pitches) < MIN_NOTES:
        return None
    low, high = np.percentile(np.asarray(pitches, dtype=np.float64), [10, 90])
    return Home(float(low), float(high))


def pull(home: Home, strength: float) -> np.ndarray:
    """The bias over the pitch tokens that keeps a note near the home range (formula above)."""
    above = np.maximum(0.0, _PITCHES - (home.high + MARGIN))
    below = np.maximum(0.0, (home.low - MARGIN) - _PITCHES)
    return -strength * PULL * (above + below)


def bass(home: Home, strength: float) -> np.ndarray:
    """The lean of an onset's lowest note into the bass zone, for a bar that has no bass yet."""
    zone = (_PITCHES >= home.low - MARGIN) & (_PITCHES <= home.low + BASS_ZONE)
    return strength * BASS * zone


def crowding(voices: int, strength: float) -> float:
    """The lean off one more note at an onset where ``voices`` notes sound (formula above)."""
    return -strength * VOICE * max(0, voices - (MAX_VOICES - 1))


def holding(voices: int, strength: float) -> np.ndarray:
    """The bias over the duration tokens of a note begun where ``voices`` notes sound."""
    return -strength * HOLD * max(0, voices - (MAX_VOICES - 2)) * _LONG


class Keeper:
    """Follows the notes of a piece as they are decoded and gives the bias of the next draw."""

    def __init__(self, strength: float) -> None:
        self.strength = strength
        self.home: Home | None = None
        self._since = 0              # the bar the home is (to be) learnt from
        self._pitches: dict[int, list[int]] = {}  # bar -> pitches begun in it
        self._spans: deque[tuple[float, float]] = deque(maxlen=KEEP_NOTES)  # (start, end) in beats of the latest notes

    def heard(self, bar: int, pitch: int, start: float, end: float) -> None:
        """A note decoded: in ``bar`` (0-based), sounding over [start, end) beats."""
        self._pitches.setdefault(bar, []).append(pitch)
        self._spans.append((start, end))

    def voices(self, beat: float) -> int:
        """Notes sounding at ``beat``: begun at or before it, not yet ended."""
        return sum(1 for s, e in self._spans if s <= beat + 1e-9 < e)

    def bar_line(self, bar: int) -> None:
        """Bar ``bar`` (0-based) begins: the home is learnt once ``HOME_BARS`` bars were played."""
        if self.home is None and bar - self._since >= HOME_BARS:
            self.home = home_of([p for b in range(self._since, bar) for p in self._pitches.get(b, ())])

    def let_go(self, bar: int) -> None:
        """The emotion turned at ``bar``: the home is learnt again from there."""
        self.home, self._since = None, bar

    def pitch_bias(self, bar: int, beat: float, lowest: bool) -> np.ndarray | None:
        """The bias over pitch tokens for a note at ``beat`` in ``bar``; ``lowest``: an onset's first pitch."""
        if self.home is None:
            return None
        b = pull(self.home, self.strength) + crowding(self.voices(beat), self.strength)
        if lowest and not self.home.has_bass(self._pitches.get(bar, ())):
            b = b + bass(self.home, self.strength)
        return b

    def duration_bias(self, beat: float) -> np.ndarray | None:
        """The bias over duration tokens for a note begun at ``beat``."""
        if self.home is None:
            return None
        return holding(self.voices(beat), self.strength)
