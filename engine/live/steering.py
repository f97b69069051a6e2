"""Steering a piece while it plays: a VA change takes effect from the next bar line.

Public names: ``Pacer``, ``Steering``, ``Turn``, ``LEAD_S``.

A model that wrote the whole piece at once (it can: 8 bars take well under a second) could not
hear a fader ridden halfway through. So while steering, the composer is held back: each bar
is composed only when playback is ``LEAD_S`` from that bar's line (``Pacer``), and just then
``Steering`` reads the VA the musician asks for now — CC 20/21 on "Synesthete In", the app's
plane, any engine call — and re-aims the model for that bar if it changed. A change is
therefore heard from the first bar line more than ``LEAD_S`` after it: within one bar plus
``LEAD_S``. ``LEAD_S`` is the cushion a bar's first notes need to be composed and handed to
the player before they are due (the first onset takes a few to a few tens of milliseconds
on two CPU cores).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from ..events import BEATS_PER_BAR, VA, BarAim
from ..settings import GenerationSettings

LEAD_S = 0.1
POLL_S = 0.004


class Pacer:
    """Holds composition back until playback nears each bar. ``LiveStream`` binds it to its
    scheduler and to where the current piece starts on the timeline."""

    def __init__(self, lead_s: float = LEAD_S) -> None:
        self.lead_s = lead_s
        self._scheduler = None
        self._offset = 0.0
        self._stop: threading.Event | None = None

    def bind(self, scheduler, offset_beats: float, stop: threading.Event) -> None:
        self._scheduler, self._offset, self._stop = scheduler, float(offset_beats), stop

    def wait_for_bar(self, bar: int) -> None:
        """Return when bar ``bar`` of the current piece is within ``lead_s`` of sounding (never past
        a stop). Free-running, the take's first bar is composed at once: its first note starts
        playback. On a clock (the DAW's, Link, a phrase's bar line) it waits like any bar, so the
        CCs and chords held when the take begins count for it."""
        s = self._scheduler
        if s is None or (bar <= 0 and self._offset <= 0 and s.auto_anchors):
            return
        due = self._offset + bar * BEATS_PER_BAR
        while not (self._stop is not None and self._stop.is_set()):
            # the music's beat, not the timeline's: after a late note waited, a bar sounds later
            # than its place, and is composed LEAD_S before it sounds all the same
            head = s.music_beat()
            if head is None and s.auto_anchors:
                return  # free-running and nothing fed yet (silent bars so far): the clock starts with a note
            if head is not None:
                lead_beats = self.lead_s * s.map.bpm_at(head) / 60.0
                if head >= due - lead_beats:
                    return
            time.sleep(POLL_S)


@dataclass(frozen=True)
class Turn:
    """One change of course: the bar (of its piece) composed for a new VA, and when."""

    piece: int
    bar: int
    va: VA
    at: float  # time.perf_counter() when that bar began to be composed


class Steering:
    """``steer(bar)`` for ``compose_notes``: paced, reading ``source()`` (the VA asked for now, or
    None for "as before") at each bar. Until the first change it returns None (the piece's own
    VA or arc goes on); from then on the musician's VA holds. ``turns`` logs every change."""

    def __init__(self, settings: GenerationSettings, source: Callable[[], VA | None], pacer: Pacer | None = None) -> None:
        self.settings, self.source, self.pacer = settings, source, pacer or Pacer()
        self.turns: list[Turn] = []
        self.piece = 1
        self._last: VA | None = None
        self._taken = False

    def for_piece(self, piece: int, first: VA) -> "Steering":
        """Start a new piece composed for ``first`` (its first bar's VA, before aiming)."""
        self.piece, self._last, self._taken = piece, first, False
        return self

    def __call__(self, bar: int) -> BarAim | None:
        self.pacer.wait_for_bar(bar)
        va = self.source()
        if va is not None and va != self._last:
            self._last, self._taken = va, True
            self.turns.append(Turn(self.piece, bar, va, time.perf_counter()))
        return BarAim(self.settings.aim(self._last)) if self._taken else None
