"""Play note events (in beats) on a port at the right wall-clock instants, on its own thread.

Public names: ``TempoMap``, ``Scheduler``, ``Sent``, ``Shift``.

* Time is ``time.perf_counter`` (monotonic). Beats become seconds through a piecewise tempo
  map, so tempo changes (or a DAW clock re-anchoring the grid) apply from a beat onward.
* Notes are fed from another thread while playback runs (``feed``/``finish``). Playback
  starts ``lookahead`` seconds after the first note arrives, so the first note sounds while
  generation goes on.
* When generation falls behind (a note arrives after its time), playback waits: the
  timeline shifts later by the delay plus ``lookahead`` (to rebuild a cushion) and the shift
  is recorded. With ``shift_quantum=4`` the shift is whole bars, keeping a DAW's grid.
* When the player itself was held up longer than ``STALL_S`` (a laptop asleep, SIGSTOP, a
  swapped-out process), overdue notes are never fired in a bunch: every sounding note gets
  its note-off and the rest of the piece moves later the same way, so it continues from now
  (free-running) or from the DAW's next bar that leaves the cushion (``shift_quantum=4``).
  Lateness under ``STALL_S`` is ordinary jitter: those notes play, a little late.
* Every way out — end, ``stop()``, an exception, a lost port — silences the port.
* ``sent`` records each note message with its scheduled and actual send time; ``played``
  holds exactly what sounded (timeline beats, durations as heard) for ``--also-write``.
"""
from __future__ import annotations

import bisect
import heapq
import itertools
import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import mido

from ..events import BEATS_PER_BAR, NoteEvent

SPIN_S = 0.0015        # the last stretch before a send is spun, as sleeps overshoot by ~0.1 ms+
CHECK_EVERY_S = 0.25   # port liveness poll; costs a server round trip, so only in gaps
RT_PRIORITY = 10      # below JACK's own (typically 70+), so we never delay the audio graph
SWITCH_INTERVAL_S = 0.0005  # a busy generation thread holds the GIL up to this long (default 5 ms)
STALL_S = 0.1          # above the worst wake-up delay measured on a loaded 2-CPU VM (~55 ms)


class TempoMap:
    """Piecewise-constant tempo: segments ``(beat, time, seconds_per_beat)`` sorted by beat."""

    def __init__(self, bpm: float, t0: float = 0.0) -> None:
        self._beats: list[float] = [0.0]
        self._segs: list[tuple[float, float, float]] = [(0.0, t0, 60.0 / _check_bpm(bpm))]

    @property
    def segments(self) -> list[tuple[float, float, float]]:
        return list(self._segs)

    def bpm_at(self, beat: float) -> float:
        return 60.0 / self._seg_for_beat(beat)[2]

    def time_at(self, beat: float) -> float:
        b0, t0, spb = self._seg_for_beat(beat)
        return t0 + (beat - b0) * spb

    def beat_at(self, t: float) -> float:
        seg = self._segs[0]
        for s in self._segs:
            if s[1] <= t:
                seg = s
            else:
                break
        return seg[0] + (t - seg[1]) / seg[2]

    def rebase(self, t0: float) -> None:
        """Slide the whole map in time so beat 0 falls at ``t0`` (tempo changes kept)."""
        d = t0 - self.time_at(0.0)
        self._segs = [(b, t + d, spb) for b, t, spb in self._segs]

    def set_tempo(self, bpm: float, at_beat: float) -> None:
        """Change tempo from ``at_beat`` on; times before it do not move."""
        self.anchor(at_beat, self.time_at(at_beat), bpm)

    def anchor(self, beat: float, t: float, bpm: float) -> None:
        """Beat ``beat`` falls at time ``t``, tempo ``bpm`` from there; later segments dropped."""
        spb = 60.0 / _check_bpm(bpm)
        i = bisect.bisect_left(self._beats, beat)
        del self._beats[i:], self._segs[i:]
        self._beats.append(beat)
        self._segs.append((beat, t, spb))

    def _seg_for_beat(self, beat: float) -> tuple[float, float, float]:
        i = bisect.bisect_right(self._beats, beat) - 1
        return self._segs[max(i, 0)]


def _try_realtime_priority() -> None:
    """Ask for SCHED_FIFO for this thread, as JACK clients do; audio users on Linux usually may
    (rtprio in limits.conf). On a loaded machine it is the difference between sending on time
    and waiting out another process's time slice. Refusal is normal and silent."""
    if not hasattr(os, "sched_setscheduler"):
        return
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
    except (OSError, ValueError):
        pass


def _check_bpm(bpm: float) -> float:
    if not (1.0 <= float(bpm) <= 1000.0):
        raise ValueError(f"tempo must be in 1..1000 BPM (received {bpm})")
    return float(bpm)


@dataclass(frozen=True)
class Sent:
    kind: str          # "on" or "off"
    pitch: int
    channel: int
    beat: float        # timeline beat (shifts included)
    scheduled: float   # perf_counter time the map asked for
    sent: float        # perf_counter time the message left

    @property
    def error_s(self) -> float:
        return self.sent - self.scheduled


@dataclass(frozen=True)
class Shift:
    at_beat: float     # timeline beat of the late note, before the shift
    beats: float
    seconds: float


class Scheduler:
    """One player thread for one port. ``feed`` notes, ``finish()``, then ``wait()``."""

    def __init__(self, port, *, tempo: float = 120.0, lookahead: float = 0.15,
                 channel: int | None = None, velocity_scale: float = 1.0,
                 program: int | None = None, auto_anchor: bool = True,
                 shift_quantum: float = 0.0, clock: Callable[[], float] = time.perf_counter,
                 on_note: Callable[[NoteEvent], None] | None = None) -> None:
        if channel is not None and not (0 <= channel <= 15):
            raise ValueError(f"channel must be in 0..15 (received {channel})")
        if program is not None and not (0 <= program <= 127):
            raise ValueError(f"program must be in 0..127 (received {program})")
        if velocity_scale <= 0:
            raise ValueError(f"velocity_scale must be > 0 (received {velocity_scale})")
        self.port = port
        self.lookahead = float(lookahead)
        self.channel = channel
        self.velocity_scale = float(velocity_scale)
        self.program = program
        self.shift_quantum = float(shift_quantum)
        self.clock = clock
        self.on_note = on_note
        self.map = TempoMap(tempo)
        self._tempo = float(tempo)
        self._anchored = False
        self._auto_anchor = auto_anchor
        self._cond = threading.Condition()
        self._pending: list[tuple[float, int, NoteEvent, float]] = []  # (start, seq, note, arrival)
        self._offs: list[tuple[float, int, int, int]] = []  # (timeline end beat, seq, channel, pitch)
        self._holder: dict[tuple[int, int], int] = {}  # (ch, pitch) -> seq of the note sounding
        self._open: dict[int, tuple[NoteEvent, float]] = {}  # seq -> (played note, start beat)
        self._seq = itertools.count()
        self._shift = 0.0
        self._finished = False
        self._stopping = False
        self._paused_at: float | None = None
        self._programmed: set[int] = set()
        self._thread: threading.Thread | None = None
        self.sent: list[Sent] = []
        self.played: list[NoteEvent] = []
        self.shifts: list[Shift] = []
        self.error: BaseException | None = None
        self.started_at: float | None = None

    # --- feeding (any thread) ---------------------------------------------------------------
    def feed(self, note: NoteEvent) -> None:
        with self._cond:
            heapq.heappush(self._pending, (note.start, next(self._seq), note, self.clock()))
            self._cond.notify()

    def feed_many(self, notes: Iterable[NoteEvent]) -> None:
        for n in notes:
            self.feed(n)

    def finish(self) -> None:
        """No more notes will come; the thread ends once everything has played."""
        with self._cond:
            self._finished = True
            self._cond.notify()

    # --- timeline control (any thread) ------------------------------------------------------
    def set_tempo(self, bpm: float, at_beat: float | None = None) -> None:
        """Tempo from ``at_beat`` (default: the playhead) on; already-played time stays put."""
        with self._cond:
            if at_beat is None:
                at_beat = self.map.beat_at(self.clock()) if self._anchored else 0.0
            self.map.set_tempo(bpm, at_beat)
            self._tempo = float(bpm)
            self._cond.notify()

    def anchor(self, beat: float, t: float, bpm: float) -> None:
        """Timeline ``beat`` plays at ``t`` (perf_counter), at ``bpm`` from there (clock sync)."""
        with self._cond:
            if not self._anchored:
                self.map = TempoMap(bpm, t - beat * 60.0 / bpm)
            self.map.anchor(beat, t, bpm)
            self._tempo = float(bpm)
            self._anchored = True
            self._paused_at = None
            self._cond.notify()

    def pause(self) -> float:
        """Silence now and hold the timeline until the next ``anchor``; returns the bar (beat)
        to re-anchor at so the music's bars stay on the DAW's bars: the bar of the next note,
        so silent bars ahead (a wait, a stall) are not played out after the DAW's Play."""
        with self._cond:
            if self._anchored:
                now_beat = self.map.beat_at(self.clock())
            else:  # a second Stop while stopped (DAWs send them) must not rewind to the start
                now_beat = self._paused_at if self._paused_at is not None else 0.0
            self._anchored = False
            self._paused_at = now_beat
            self._cut_sounding(now_beat)
            self.port.panic()
            self._cond.notify()
            ahead = self._pending[0][0] + self._shift if self._pending else now_beat
        return math.floor(max(now_beat, ahead, 0.0) / BEATS_PER_BAR) * BEATS_PER_BAR

    @property
    def anchored(self) -> bool:
        with self._cond:
            return self._anchored

    @property
    def auto_anchors(self) -> bool:
        """True when the timeline starts with the first note fed (free-running), False when a
        clock (the DAW's, Link) anchors it."""
        return self._auto_anchor

    def playhead(self) -> float | None:
        with self._cond:
            return self.map.beat_at(self.clock()) if self._anchored else None

    def music_beat(self) -> float | None:
        """Where the music is now, in the beats of the notes fed: the playhead less the shifts made
        for late notes and stalls (after a late note waited a bar, beat 8 sounds at timeline beat
        12). None before the timeline starts. What composing ahead must pace itself by."""
        with self._cond:
            return self.map.beat_at(self.clock()) - self._shift if self._anchored else None

    # --- running ----------------------------------------------------------------------------
    def start(self) -> "Scheduler":
        if self._thread is not None:
            raise RuntimeError("scheduler already started")
        self.started_at = self.clock()
        self._thread = threading.Thread(target=self._run, name="synesthete-player", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop now (any thread, any number of times); the thread silences the port on its way out."""
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the player thread has ended (all played, stopped, or failed)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        return self._stopping

    def onset_errors(self) -> list[float]:
        return [s.error_s for s in self.sent if s.kind == "on"]

    def _run(self) -> None:
        _try_realtime_priority()
        old_switch = sys.getswitchinterval()
        sys.setswitchinterval(min(old_switch, SWITCH_INTERVAL_S))
        clean = False
        try:
            self._loop()
            clean = not self._stopping
        except BaseException as err:  # recorded for the caller; the thread must still silence
            self.error = err
        finally:
            with self._cond:
                self._cut_sounding(self.map.beat_at(self.clock()) if self._anchored else None)
            # A normal end has already sent every note-off; CC123 is the belt and braces, and
            # CC120 is kept for abrupt ends so release tails of a clean ending ring out.
            self.port.panic(sound_off=not clean)
            sys.setswitchinterval(old_switch)

    def _loop(self) -> None:
        last_check = self.clock()
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    now = self.clock()
                    if not self._anchored and self._auto_anchor and self._pending and self._paused_at is None:
                        first_arrival = min(p[3] for p in self._pending)
                        self.map.rebase(max(now, first_arrival) + self.lookahead)
                        self._anchored = True
                    due = self._next_due() if self._anchored else None
                    if due is None:
                        if self._finished and not self._pending and not self._offs:
                            return
                        wait = CHECK_EVERY_S
                    else:
                        wait = due[0] - now - SPIN_S
                        if wait <= 0:
                            break
                    if now - last_check >= CHECK_EVERY_S and wait > 0.005:
                        break  # poll the port outside the lock
                    self._cond.wait(min(wait, CHECK_EVERY_S))
                if due is None or due[0] - now - SPIN_S > 0:
                    last_check = now
                    self.port.check()
                    continue
                t_due, kind = due
                if now - t_due > STALL_S:
                    self._after_stall(now)
                    continue
                if kind == "on":
                    start, seq, note, arrival = heapq.heappop(self._pending)
                    beat = start + self._shift
                    if arrival > t_due - 0.0005:
                        self._shift_for(beat, arrival)
                        heapq.heappush(self._pending, (start, seq, note, arrival))
                        continue
                    job = ("on", beat, seq, note)
                else:
                    job = ("off",) + heapq.heappop(self._offs)
            while self.clock() < t_due:
                pass  # spin: a sleep here would overshoot by a scheduler tick
            with self._cond:
                if self._stopping:
                    return
                if not self._anchored:  # paused while we spun: keep the note for the resume
                    if job[0] == "on":
                        heapq.heappush(self._pending, (job[3].start, job[2], job[3], 0.0))
                    continue
                played = self._do(job, t_due)
            if played is not None and self.on_note is not None:
                self.on_note(played)

    def _next_due(self) -> tuple[float, str] | None:
        cands = []
        if self._offs:
            cands.append((self.map.time_at(self._offs[0][0]), "off"))
        if self._pending:
            cands.append((self.map.time_at(self._pending[0][0] + self._shift), "on"))
        # Offs first at equal times, so a repeated note re-triggers instead of being cut.
        return min(cands, key=lambda c: (c[0], c[1] != "off")) if cands else None

    def _shift_for(self, beat: float, arrival: float) -> None:
        late = arrival + self.lookahead - self.map.time_at(beat)
        beats = late * self.map.bpm_at(beat) / 60.0
        if self.shift_quantum > 0:
            beats = math.ceil(beats / self.shift_quantum) * self.shift_quantum
        self._shift += beats
        self.shifts.append(Shift(beat, beats, self.map.time_at(beat + beats) - self.map.time_at(beat)))

    def _after_stall(self, now: float) -> None:
        self._cut_sounding(self.map.beat_at(now))
        self.port.panic(sound_off=False)
        if self._pending:  # (a stall seen on a note-off may have left the next note in time)
            beat = self._pending[0][0] + self._shift
            if self.map.time_at(beat) < now:
                self._shift_for(beat, now)

    def _do(self, job: tuple, t_due: float) -> NoteEvent | None:
        if job[0] == "off":
            _, beat, seq, ch, pitch = job
            if self._holder.get((ch, pitch)) != seq:
                return None  # re-triggered meanwhile: that newer note owns the key now
            self.port.send(mido.Message("note_off", channel=ch, note=pitch, velocity=0))
            sent = self.clock()
            del self._holder[(ch, pitch)]
            self._close_played(seq, beat)
            self.sent.append(Sent("off", pitch, ch, beat, t_due, sent))
            return None
        _, beat, seq, note = job
        ch = note.channel if self.channel is None else self.channel
        vel = max(1, min(127, int(round(note.velocity * self.velocity_scale))))
        if self.program is not None and ch not in self._programmed:
            self.port.send(mido.Message("program_change", channel=ch, program=self.program))
            self._programmed.add(ch)
        key = (ch, note.pitch)
        if key in self._holder:  # same key still down: end it so the new attack is heard
            old = self._holder.pop(key)
            self.port.send(mido.Message("note_off", channel=ch, note=note.pitch, velocity=0))
            self._close_played(old, beat)
        self.port.send(mido.Message("note_on", channel=ch, note=note.pitch, velocity=vel))
        sent = self.clock()
        self.sent.append(Sent("on", note.pitch, ch, beat, t_due, sent))
        played = NoteEvent(note.pitch, vel, beat, note.duration, ch)
        self._holder[key] = seq
        self._open[seq] = (played, beat)
        heapq.heappush(self._offs, (beat + max(note.duration, 1e-3), seq, ch, note.pitch))
        return played

    def _close_played(self, seq: int, end_beat: float) -> None:
        if seq in self._open:
            played, start = self._open.pop(seq)
            dur = max(min(played.duration, end_beat - start), 1e-3)
            self.played.append(NoteEvent(played.pitch, played.velocity, start, dur, played.channel))

    def _cut_sounding(self, now_beat: float | None) -> None:
        # Notes cut short by stop/pause/error are recorded as heard: up to the cut.
        for seq in list(self._open):
            played, start = self._open[seq]
            self._close_played(seq, now_beat if now_beat is not None else start + played.duration)
        self._offs.clear()
        self._holder.clear()
        self.played.sort(key=lambda n: (n.start, n.pitch))
