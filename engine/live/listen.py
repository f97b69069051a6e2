"""Listen, then answer: record the phrase a musician plays into "Synesthete In" and start the
continuation on the next bar line (``stream --listen``).

Public names: ``PhraseRecorder``, ``StartAt``.

The phrase's bar grid starts at its first note (the musician's downbeat) at the take's tempo:
play to a click at that tempo (your DAW's metronome) for the bars to line up. The phrase ends
after ``bars`` bars, or at the bar line after an "answer now" CC (default CC 22 at 64 or more).
``LEAD_S`` before that line the phrase is closed (a note still held ends at the line), turned
into a ``Primer`` (``engine.music.primer``) and composed on; ``StartAt`` anchors the player's beat 0
at the line, so the answer comes in time.
"""
from __future__ import annotations

import math
import threading
import time

import mido

from ..events import BEATS_PER_BAR, NoteEvent
from ..music.primer import Primer, primer_from_notes

# The phrase closes this long before its last bar line, to compose the answer's first notes. With
# ft02 a 2-bar primer takes ~170 ms to compose through on 2 cores (ft01: 95 ms); at 0.25 s three of
# five answers missed the bar line and, in the clock's sync mode, waited a whole bar.
LEAD_S = 0.4
ANSWER_CC = 22
DRUM_CHANNEL = 9  # General MIDI's channel 10, counted from 0


class PhraseRecorder:
    """Collects note-ons/offs (``handle(msg, t)``, from ``MidiIn.on_message``) on a grid that starts
    at the first note. Thread-safe: the input thread writes, the caller waits and reads."""

    def __init__(self, tempo: float, bars: int, answer_cc: int = ANSWER_CC) -> None:
        self.tempo, self.bars, self.answer_cc = float(tempo), int(bars), answer_cc
        self.bar_s = BEATS_PER_BAR * 60.0 / self.tempo
        self._lock = threading.Lock()
        self._first = threading.Event()
        self._t0: float | None = None
        self._end: float | None = None           # the bar line where the phrase ends
        self._held: dict[int, tuple[float, int]] = {}
        self._notes: list[tuple[int, int, float, float]] = []  # pitch, velocity, on, off (seconds)

    def handle(self, msg: mido.Message, t: float) -> None:
        with self._lock:
            if msg.type == "control_change":
                if msg.control == self.answer_cc and msg.value >= 64 and self._t0 is not None:
                    self._end = self._bar_line_after(t)
                return
            if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
                return  # drum hits are not pitches: a --prime file's are dropped the same way
            on = msg.type == "note_on" and msg.velocity > 0
            if on:
                if self._t0 is None:
                    self._t0, self._end = t, t + self.bars * self.bar_s
                    self._first.set()
                self._held[msg.note] = (t, msg.velocity)
            elif msg.note in self._held:
                t_on, vel = self._held.pop(msg.note)
                self._notes.append((msg.note, vel, t_on, t))

    def _bar_line_after(self, t: float) -> float:
        return self._t0 + math.ceil((t - self._t0) / self.bar_s + 1e-9) * self.bar_s

    def wait_for_first_note(self, timeout: float | None = None) -> bool:
        return self._first.wait(timeout)

    @property
    def end(self) -> float | None:
        """perf_counter time of the bar line where the phrase ends (None before the first note)."""
        with self._lock:
            return self._end

    def wait_for_close(self, stop: threading.Event | None = None) -> float:
        """Block until ``LEAD_S`` before the phrase's last bar line; returns that line's time."""
        while True:
            end = self.end
            if end is not None and time.perf_counter() >= end - LEAD_S:
                return end
            if stop is not None and stop.is_set():
                return end if end is not None else time.perf_counter()
            time.sleep(0.005)

    def primer(self, name: str = "played phrase") -> Primer:
        """The phrase so far, in beats from its first note; a held note ends at the last bar line."""
        with self._lock:
            t0, end = self._t0, self._end
            notes = list(self._notes) + [(p, v, on, end) for p, (on, v) in self._held.items()]
        spb = 60.0 / self.tempo
        events = [NoteEvent(p, v, (on - t0) / spb, (min(off, end) - on) / spb) for p, v, on, off in notes if on < end]
        bars = max(1, round((end - t0) / self.bar_s))
        events = [n for n in events if n.start < bars * BEATS_PER_BAR]
        return primer_from_notes(events, self.tempo, name)


class StartAt:
    """A clock for ``LiveStream(clock=...)`` that starts the player's beat 0 at one instant."""

    def __init__(self, t: float, tempo: float) -> None:
        self.t, self.tempo = t, tempo
        self.on_failure = None
        self.failed = None

    def attach(self, scheduler) -> None:
        scheduler.anchor(0.0, self.t, self.tempo)

    def wait_for_start(self, timeout: float | None = None) -> bool:
        return True
