"""MIDI from the DAW into ``Synesthete In``: its clock, its transport, and two steering CCs.

Public names: ``MidiIn``, ``ClockTracker``, ``cc_to_unit``.

* Clock: 24 pulses per quarter note. The tempo and the phase come from a least-squares line
  through the last ``WINDOW`` pulse times (about two beats), which smooths the per-cycle
  jitter a JACK or ALSA delivery adds without lagging a real tempo change by more than that.
* Transport: after Start (or Continue, from the last Song Position), playback begins on the
  next bar line: 96 pulses per 4/4 bar. Starting at the *next* bar, not this one, leaves a
  bar to line up — the first pulse after Start is the downbeat itself, with no time to spare.
  Stop silences the scheduler; a later Start/Continue resumes on the next bar again.
* CCs (default 20 → valence, 21 → arousal; 0..127 → [-1, 1]) set a thread-safe "next VA" that
  the loop reads before each new piece.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable

import mido

from .events import VA

PPQN = 24
CLOCKS_PER_BAR = 4 * PPQN
WINDOW = 48


def cc_to_unit(value: int) -> float:
    """MIDI 0..127 → [-1, 1], with 0 → -1 and 127 → +1 (64 lands just above 0)."""
    return max(-1.0, min(1.0, -1.0 + 2.0 * int(value) / 127.0))


class ClockTracker:
    """Pulse times → smoothed tempo and predicted pulse times. Not thread-safe on its own."""

    def __init__(self, window: int = WINDOW) -> None:
        self._times: deque[tuple[int, float]] = deque(maxlen=window)
        self.count = 0  # pulses since the last Start/Continue position

    def reset(self, position: int = 0) -> None:
        self.count = position

    def tick(self, t: float) -> None:
        self._times.append((self._serial(), t))
        self.count += 1

    def _serial(self) -> int:
        # A running index that never resets, so the fit spans Start/Stop without a seam.
        return (self._times[-1][0] + 1) if self._times else 0

    def fit(self) -> tuple[float, float] | None:
        """``(seconds per pulse, time of the latest pulse)`` from the regression, or None."""
        n = len(self._times)
        if n < 3:
            return None
        xs = [x for x, _ in self._times]
        ts = [t for _, t in self._times]
        mx, mt = sum(xs) / n, sum(ts) / n
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (t - mt) for x, t in zip(xs, ts)) / sxx
        if slope <= 0:
            return None
        return slope, mt + slope * (xs[-1] - mx)

    @property
    def bpm(self) -> float | None:
        f = self.fit()
        return None if f is None else 60.0 / (f[0] * PPQN)

    def predict(self, pulses_from_latest: float) -> float | None:
        f = self.fit()
        return None if f is None else f[1] + f[0] * pulses_from_latest


class MidiIn:
    """The ``Synesthete In`` port: clock following (``attach`` a scheduler) and CC steering.

    ``port`` is an ``engine.ports.InputPort`` or anything with ``close()``; pass
    ``open_port=False`` and call ``handle(msg, t)`` yourself to drive it without a driver.
    """

    def __init__(self, name: str = "Synesthete In", *, cc_valence: int = 20, cc_arousal: int = 21,
                 connect: str | None = None, api: str = "auto", open_port: bool = True,
                 initial_va: VA | None = None) -> None:
        for cc in (cc_valence, cc_arousal):
            if not (0 <= cc <= 127):
                raise ValueError(f"CC numbers must be in 0..127 (received {cc})")
        if cc_valence == cc_arousal:
            raise ValueError(f"valence and arousal need different CCs (both {cc_valence})")
        self.cc_valence = cc_valence
        self.cc_arousal = cc_arousal
        self._lock = threading.Lock()
        self._clock = ClockTracker()
        self._valence = None if initial_va is None else initial_va.valence
        self._arousal = None if initial_va is None else initial_va.arousal
        self._spp = 0
        self._playing = False
        self._scheduler = None
        self._anchor: tuple[int, float] | None = None  # (pulse count, timeline beat) of bar one
        self._resume_beat = 0.0
        self._started = threading.Event()
        self.on_stop: Callable[[], None] | None = None
        self.port = None
        if open_port:
            from .ports import open_input
            self.port = open_input(self.handle, name, connect=connect, api=api)

    def __enter__(self) -> "MidiIn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.port is not None:
            self.port.close()

    # --- state readers (any thread) -----------------------------------------------------------
    @property
    def tempo(self) -> float | None:
        with self._lock:
            return self._clock.bpm

    @property
    def playing(self) -> bool:
        with self._lock:
            return self._playing

    def next_va(self, default: VA) -> VA:
        """The VA the CCs ask for; each axis falls back to ``default`` until its CC arrives."""
        with self._lock:
            v = default.valence if self._valence is None else self._valence
            a = default.arousal if self._arousal is None else self._arousal
        return VA(v, a)

    def wait_for_start(self, timeout: float | None = None) -> bool:
        return self._started.wait(timeout)

    def attach(self, scheduler) -> None:
        """Drive ``scheduler``'s timeline from the clock (it should have ``auto_anchor=False``)."""
        with self._lock:
            self._scheduler = scheduler

    # --- the message handler (rtmidi's thread) ----------------------------------------------
    def handle(self, msg: mido.Message, t: float) -> None:
        kind = msg.type
        if kind == "control_change":
            with self._lock:
                if msg.control == self.cc_valence:
                    self._valence = cc_to_unit(msg.value)
                elif msg.control == self.cc_arousal:
                    self._arousal = cc_to_unit(msg.value)
            return
        if kind == "songpos":
            with self._lock:
                self._spp = msg.pos * 6  # Song Position counts 16ths: 6 pulses each
            return
        if kind in ("start", "continue"):
            with self._lock:
                pos = 0 if kind == "start" else self._spp
                self._clock.reset(pos)
                self._playing = True
                self._anchor = ((pos // CLOCKS_PER_BAR + 1) * CLOCKS_PER_BAR, self._resume_beat)
            self._started.set()
            return
        if kind == "stop":
            with self._lock:
                self._playing = False
                self._anchor = None
                sched = self._scheduler
            if sched is not None:
                resume = sched.pause()
                with self._lock:
                    self._resume_beat = resume
            if self.on_stop is not None:
                self.on_stop()
            return
        if kind == "clock":
            with self._lock:
                self._clock.tick(t)
                if not self._playing or self._anchor is None or self._scheduler is None:
                    return
                target = self._next_beat_pulse()
                pulse_anchor, beat_anchor = self._anchor
                when = self._clock.predict(target - (self._clock.count - 1))
                bpm = self._clock.bpm
                sched = self._scheduler
                beat = beat_anchor + (target - pulse_anchor) / PPQN
            if when is not None and bpm is not None:
                # Re-anchoring the next beat (never the current one) corrects tempo and phase
                # without moving anything already scheduled inside this beat.
                sched.anchor(beat, when, bpm)

    def _next_beat_pulse(self) -> int:
        pulse_anchor, _ = self._anchor
        latest = self._clock.count - 1  # index of the pulse just received
        if latest < pulse_anchor:
            return pulse_anchor
        return (latest // PPQN + 1) * PPQN
