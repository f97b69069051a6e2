"""MIDI from the DAW into ``Synesthete In``: its clock, its transport, and two steering CCs.

Public names: ``MidiIn``, ``ClockTracker``, ``cc_to_unit``, ``split_messages``.

* Bytes: the driver hands over raw bytes, which ``split_messages`` reads by MIDI's byte-stream
  rules, so no byte sequence can raise: real-time bytes count wherever they appear, SysEx is
  skipped (never buffered) up to F7 or the next status byte, and anything broken is counted,
  skipped and reported at most once per ``WARN_EVERY_S``. Active Sensing and the rest of the
  system messages are read and dropped: only clock pulses reach the tempo fit.
* Clock: 24 pulses per quarter note. The tempo and the phase come from a least-squares line
  through the last ``WINDOW`` pulse times (about two beats), which smooths the per-cycle
  jitter a JACK or ALSA delivery adds without lagging a real tempo change by more than that.
  A rate outside ``CLOCK_BPM`` (20..999, what DAWs can send) is ignored, with one line when
  it starts. A gap in the pulses while the transport runs (our process stalled, so the
  driver dropped them) is bridged with the fitted tempo, so the bar count stays on the DAW's
  bars; a gap across Start/Continue is a clock that paused with the transport, and the fit
  starts afresh.
* Transport: after Start (or Continue, from the last Song Position), playback begins on the
  next bar line: 96 pulses per 4/4 bar. Starting at the *next* bar, not this one, leaves a
  bar to line up — the first pulse after Start is the downbeat itself, with no time to spare.
  Stop silences the scheduler; a later Start/Continue resumes on the next bar again. System
  Reset (FF) acts as Stop and rewinds the song position.
* CCs (default 20 → valence, 21 → arousal; 0..127 → [-1, 1]) set a thread-safe VA that
  steering reads at each bar (``engine.live.steering``). Notes and CCs also go to ``on_message``
  (``engine.live.listen`` records a phrase there).
* Held notes: note-ons and note-offs (a note-on at velocity 0 is a note-off) keep the set of keys
  held down on each channel, which ``held_notes()`` reads (``--follow-chords``,
  ``engine.live.follow``). A set of pitches per channel holds at most 128, whatever arrives. All
  Notes Off / All Sound Off (CC 123 / 120) release the channel, Stop and System Reset release
  everything (a DAW that stops may never send the note-offs), and so does ``close``. The notes are
  only read here: nothing played into the input reaches the output.
* Failure: should the input thread ever die, ``failed`` holds a ``PortError`` saying so and
  ``on_failure`` is called (``LiveStream`` stops playback with it: no deaf player).
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Callable, Sequence

import mido

from ..events import VA
from .ports import PortError

PPQN = 24
CLOCKS_PER_BAR = 4 * PPQN
WINDOW = 48
CLOCK_BPM = (20.0, 999.0)
BRIDGE_S = 0.15      # longer than a pulse at the slowest accepted tempo: pulses were lost
WARN_EVERY_S = 10.0

_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}  # by status nibble
_COMMON_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0}
_REALTIME = frozenset({0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF})  # F9 and FD are undefined: ignored


def cc_to_unit(value: int) -> float:
    """MIDI 0..127 → [-1, 1], with 0 → -1 and 127 → +1 (64 lands just above 0)."""
    return max(-1.0, min(1.0, -1.0 + 2.0 * int(value) / 127.0))


def split_messages(data: Sequence[int]) -> tuple[list[tuple[int, ...]], int]:
    """One delivery of raw bytes → its complete messages, and how many broken pieces were
    skipped (a message cut short, data bytes without a status, an undefined status, a SysEx
    broken off by another status byte). Running status holds within the delivery."""
    out: list[tuple[int, ...]] = []
    errors = 0
    status = None          # running status: channel messages only
    need = 0
    buf: list[int] = []
    sysex = orphan = False
    for b in data:
        b = int(b) & 0xFF
        if b >= 0xF8:      # real-time: valid anywhere, even inside another message
            if b in _REALTIME:
                out.append((b,))
            continue
        if b >= 0x80:
            errors += bool(buf) or (sysex and b != 0xF7)
            buf, sysex, orphan = [], False, False
            if b == 0xF0:
                sysex, status = True, None
            elif b == 0xF7:
                status = None  # end of SysEx; a lone one (e.g. the JACK guard's) means nothing
            elif b in _COMMON_BYTES:
                status, need = None, _COMMON_BYTES[b]
                if need:
                    buf = [b]
                else:
                    out.append((b,))
            elif b >= 0xF0:  # F4, F5: undefined, with however many data bytes
                status, orphan = None, True
                errors += 1
            else:
                status, need, buf = b, _DATA_BYTES[b >> 4], [b]
            continue
        if sysex:
            continue
        if not buf:
            if status is None:
                errors += not orphan
                orphan = True
                continue
            buf = [status]
        buf.append(b)
        if len(buf) == need + 1:
            out.append(tuple(buf))
            buf = []
    return out, errors + bool(buf) + sysex


class ClockTracker:
    """Pulse times → smoothed tempo and predicted pulse times. Not thread-safe on its own."""

    def __init__(self, window: int = WINDOW) -> None:
        self._times: deque[tuple[int, float]] = deque(maxlen=window)
        self._serial = 0  # a running index that never resets: the fit spans Start/Stop
        self._new_run = False  # a Start/Continue came since the last timed pulse
        self._untimed = 0  # pulses counted since then without a time of their own
        self.count = 0  # pulses since the last Start/Continue position

    def reset(self, position: int = 0) -> None:
        self.count = position
        self._new_run = True

    def tick(self, t: float | None) -> None:
        """One pulse at ``t``; ``None`` when the driver merged it with others (time unknown:
        counted, kept out of the fit)."""
        missed = 0
        if t is not None and self._times:
            f = self.fit()
            gap = t - self._times[-1][1]
            if f is not None and gap > max(BRIDGE_S, 3 * f[0]):
                if self._new_run:  # the clock paused with the transport: its old pulses mislead
                    self._times.clear()
                else:  # it ran on while we could not listen: count what we missed
                    missed = max(0, round(gap / f[0]) - 1 - self._untimed)
        self._serial += missed
        self.count += missed
        if t is None:
            self._untimed += 1
        else:
            self._times.append((self._serial, t))
            self._new_run, self._untimed = False, 0
        self._serial += 1
        self.count += 1

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
        return slope, mt + slope * (self._serial - 1 - mx)

    @property
    def bpm(self) -> float | None:
        f = self.fit()
        return None if f is None else 60.0 / (f[0] * PPQN)

    def predict(self, pulses_from_latest: float) -> float | None:
        f = self.fit()
        return None if f is None else f[1] + f[0] * pulses_from_latest


class MidiIn:
    """The ``Synesthete In`` port: clock following (``attach`` a scheduler) and CC steering.

    ``port`` is an ``engine.live.ports.InputPort`` or anything with ``close()``; pass
    ``open_port=False`` and call ``feed(bytes, t)`` or ``handle(msg, t)`` yourself to drive it
    without a driver.
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
        self._held: dict[int, set[int]] = {}  # channel -> pitches held down (a set: at most 128)
        self._playing = False
        self._scheduler = None
        self._anchor: tuple[int, float] | None = None  # (pulse count, timeline beat) of bar one
        self._resume_beat = 0.0
        self._started = threading.Event()
        self.on_stop: Callable[[], None] | None = None
        self.on_message: Callable[[mido.Message, float], None] | None = None  # notes and CCs, for --listen
        self.on_failure: Callable[[PortError], None] | None = None
        self.failed: PortError | None = None
        self.malformed = 0  # broken messages skipped since opening
        self._name = name
        self._warned: dict[str, float] = {}
        self._unreported = 0
        self._clock_refused = False
        self.port = None
        if open_port:
            from .ports import open_input
            self.port = open_input(self.feed, name, connect=connect, api=api, on_error=self._died)

    @property
    def name(self) -> str:
        """The port's real name (JACK renames a second ``Synesthete In`` to ``Synesthete In-01``)."""
        return self.port.name if self.port is not None else self._name

    def __enter__(self) -> "MidiIn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.port is not None:
            self.port.close()
        self.release_all()  # a closed input hears no note-offs: nothing may stay held

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

    def held_notes(self) -> frozenset[int]:
        """The pitches held down now, on any channel."""
        with self._lock:
            return frozenset(p for pitches in self._held.values() for p in pitches)

    def release_all(self) -> None:
        """Forget every held note (Stop, System Reset, close)."""
        with self._lock:
            self._held.clear()

    def wait_for_start(self, timeout: float | None = None) -> bool:
        return self._started.wait(timeout)

    def attach(self, scheduler) -> None:
        """Drive ``scheduler``'s timeline from the clock (it should have ``auto_anchor=False``)."""
        with self._lock:
            self._scheduler = scheduler

    # --- the message handler (the input port's thread) -------------------------------------
    def feed(self, data: Sequence[int], t: float, timed: bool = True) -> None:
        """One delivery of raw bytes that arrived at ``t``. ``timed`` is False when the driver
        merged several events into it, so ``t`` is not the time of each (see ports.InputPort)."""
        msgs, broken = split_messages(data)
        for raw in msgs:
            try:
                msg = mido.Message.from_bytes(list(raw))
            except (ValueError, TypeError, IndexError):  # split_messages should not let one by
                broken += 1
                continue
            self.handle(msg, t, timed)
        if broken:
            self._skipped(broken)

    def _skipped(self, n: int) -> None:
        self.malformed += n
        self._unreported += n
        if self._warn("malformed", f"skipped {self._unreported} malformed MIDI message(s) on {self.name!r}"):
            self._unreported = 0

    def _warn(self, kind: str, text: str) -> bool:
        """One stderr line per ``kind`` per ``WARN_EVERY_S``: a flood of junk is not a flood of lines."""
        now = time.monotonic()
        if now - self._warned.get(kind, float("-inf")) < WARN_EVERY_S:
            return False
        self._warned[kind] = now
        print(f"synesthete: {text}", file=sys.stderr)
        return True

    def _died(self, err: BaseException) -> None:
        self.failed = PortError(f"MIDI input {self.name!r} stopped working "
                                f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else '-'})")
        self._started.set()  # nobody should keep waiting for a Start that can no longer come
        if self.on_failure is not None:
            self.on_failure(self.failed)

    def handle(self, msg: mido.Message, t: float, timed: bool = True) -> None:
        kind = msg.type
        if kind in ("note_on", "note_off", "control_change") and self.on_message is not None:
            self.on_message(msg, t)
        if kind in ("note_on", "note_off"):
            self._hold(msg)
            return
        if kind == "control_change":
            with self._lock:
                if msg.control in (120, 123):  # All Sound Off / All Notes Off: that channel's keys are up
                    self._held.pop(msg.channel, None)
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
        if kind in ("stop", "reset"):
            with self._lock:
                if kind == "reset":
                    self._spp = 0
                self._playing = False
                self._held.clear()  # a stopping DAW need not send its note-offs
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
                self._clock.tick(t if timed else None)
                bpm = self._clock.bpm
                if bpm is None or not self._usable(bpm):
                    return
                if not self._playing or self._anchor is None or self._scheduler is None:
                    return
                target = self._next_beat_pulse()
                pulse_anchor, beat_anchor = self._anchor
                when = self._clock.predict(target - (self._clock.count - 1))
                sched = self._scheduler
                beat = beat_anchor + (target - pulse_anchor) / PPQN
            if when is not None:
                # Re-anchoring the next beat (never the current one) corrects tempo and phase
                # without moving anything already scheduled inside this beat.
                sched.anchor(beat, when, bpm)
        # Active Sensing, MTC, song select, tune request: nothing to do here.

    def _hold(self, msg: mido.Message) -> None:
        with self._lock:
            held = self._held.setdefault(msg.channel, set())
            if msg.type == "note_on" and msg.velocity > 0:
                held.add(msg.note)  # 0..127: the set can never grow past 128
            else:
                held.discard(msg.note)  # a note-off for a key never pressed is nothing

    def _usable(self, bpm: float) -> bool:
        lo, hi = CLOCK_BPM
        if lo <= bpm <= hi:
            self._clock_refused = False
            return True
        if not self._clock_refused:  # once per episode: a runaway clock must not flood stderr
            self._clock_refused = True
            self._warn("clock", f"ignoring the MIDI clock on {self.name!r}: {bpm:.3g} BPM is "
                                f"outside {lo:.0f}..{hi:.0f}")
        return False

    def _next_beat_pulse(self) -> int:
        pulse_anchor, _ = self._anchor
        latest = self._clock.count - 1  # index of the pulse just received
        if latest < pulse_anchor:
            return pulse_anchor
        return (latest // PPQN + 1) * PPQN
