"""Ableton Link: play on the shared beat grid of a Link session (``synesthete stream --link``).

Public names: ``LinkSync``, ``LinkUnavailable``.

Link peers on a local network share a tempo and the phase of a bar (the *quantum*, 4 beats
here); any peer may change the tempo, and peers with *start/stop sync* share Play and Stop.
``LinkSync`` joins the session and drives a ``Scheduler`` the way ``MidiIn`` does with a DAW's
MIDI clock (``attach``; the scheduler wants ``auto_anchor=False``):

* Start: the piece's beat 0 goes on the next bar line of the shared timeline that is at least
  ``LEAD_S`` away (so the first note is not late already); with ``wait_for_play`` and peers in
  the session, only once the session plays.
* Tempo and phase: a thread samples the timeline every ``POLL_S`` and re-anchors the scheduler
  at the playhead when the tempo changed or the timeline is more than ``DRIFT_S`` from where
  the last anchor puts it (a peer joined or forced a beat, or the two clocks drifted). A tempo
  change is followed within one poll of reaching us; notes already sent stay where they were.
  Anchoring only then (not every beat) keeps the scheduler's tempo map short.
* Stop: once the session has been seen playing (so some peer uses start/stop sync), its Stop
  stops the scheduler, which sends note-offs for everything sounding. Link cannot tell whether
  a stopped session has start/stop-sync peers at all (Live's option is off by default), so by
  default we do not wait for Play: we play on the grid and follow Stop when it comes — also
  the Stop of a session that was already playing when we joined (Link tells a joining peer
  nothing of the state before its next change; see ``__init__``).
* Clock: Link's clock is its own (on Linux ``CLOCK_MONOTONIC_RAW``; ``time.perf_counter`` is
  ``CLOCK_MONOTONIC``: here 0.25 s apart, and NTP may slew their rates apart by up to
  500 ppm). aalink only gives the beat *now*, so each sample brackets the beat read with two
  ``perf_counter`` reads and keeps the tightest of ``SAMPLE_TRIES`` (about 1 µs wide): a
  direct beat→perf_counter pair, taken afresh every poll, so no offset or rate is assumed.
* aalink is asyncio-based: ``Link`` must be created inside a running event loop (and calls
  back through it), so a private loop runs on a daemon thread; nothing else uses it.
"""
from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Callable

from ..errors import UsageError
from ..events import BEATS_PER_BAR

POLL_S = 0.005     # timeline sampling period: a tempo change or Stop is seen within this
LEAD_S = 0.1       # the first bar line must be at least this far off, or we take the next
DRIFT_S = 0.0003   # re-anchor when the timeline moved by more than this (phase jump, rate drift)
ALONE_S = 1.0      # no peer found this long after joining: nobody to wait for (discovery: ~0.1 s)
SAMPLE_TRIES = 3


class LinkUnavailable(UsageError):
    """The aalink binding of Ableton Link is not installed (or does not load)."""


def _aalink():
    try:
        import aalink
    except ImportError as err:
        raise LinkUnavailable(f"--link needs the optional aalink package (pip install 'synesthete[link]'; "
                              f"it is GPL-3.0): {err}") from None
    return aalink


class LinkSync:
    """One Link peer; ``attach`` a scheduler to play on the session's grid. Close when done."""

    def __init__(self, tempo: float = 120.0, *, quantum: float = BEATS_PER_BAR,
                 start_stop_sync: bool = True, wait_for_play: bool = False) -> None:
        aalink = _aalink()
        self.quantum = float(quantum)
        self.start_stop_sync = start_stop_sync
        self.wait_for_play = wait_for_play and start_stop_sync
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="synesthete-link-loop",
                                             daemon=True)
        self._loop_thread.start()

        async def make():  # aalink takes the running loop; passing one is deprecated
            return aalink.Link(float(tempo))

        try:
            self._link = asyncio.run_coroutine_threadsafe(make(), self._loop).result(5)
        except BaseException:
            self._stop_loop()
            raise
        self._link.quantum = self.quantum
        if start_stop_sync and not self.wait_for_play:
            # Link passes Play and Stop on as *changes* of a peer's state, so a peer that joins a
            # playing session reads "stopped" and would never see its Stop (no change for it).
            # Marked playing while sync is still off — which no peer hears, so a stopped session
            # is not started — every later Stop of the session is a change here.
            self._link.playing = True
        self._link.start_stop_sync_enabled = start_stop_sync
        self._link.enabled = True
        self._joined = time.monotonic()
        self._lock = threading.Lock()
        self._scheduler = None
        self._origin: float | None = None   # session beat of the piece's beat 0
        self._last: tuple[float, float, float] | None = None  # last anchor (beat, time, bpm)
        self._seen_playing = False
        self._go = threading.Event()         # the session lets us start
        self._closing = threading.Event()
        self.stopped_by_session = False
        self.failed: BaseException | None = None
        self.on_failure: Callable[[BaseException], None] | None = None
        self._thread = threading.Thread(target=self._run, name="synesthete-link", daemon=True)
        self._thread.start()

    # --- state readers (any thread) -----------------------------------------------------------
    @property
    def tempo(self) -> float:
        return self._link.tempo

    @property
    def peers(self) -> int:
        return self._link.num_peers

    @property
    def playing(self) -> bool:
        return self._link.playing

    @property
    def origin(self) -> float | None:
        """The session beat (a bar line) where the piece's beat 0 plays; None before the start."""
        with self._lock:
            return self._origin

    def wait_for_peers(self, timeout: float) -> int:
        """Give discovery up to ``timeout`` s to find a first peer; returns the peer count."""
        deadline = time.monotonic() + timeout
        while self.peers == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.peers

    def wait_for_start(self, timeout: float | None = None) -> bool:
        """True once playback may begin: at once unless ``wait_for_play`` and the session has
        peers and is stopped; then when a peer presses Play (alone: after ``ALONE_S``)."""
        return self._go.wait(timeout)

    def attach(self, scheduler) -> None:
        """Drive ``scheduler``'s timeline from the session (it should have ``auto_anchor=False``).
        Each attach is a new take: its own start, and only a Stop seen after a Play ends it."""
        with self._lock:
            self._scheduler = scheduler
            self._origin = self._last = None
            self._seen_playing = False
            self._go.clear()

    # --- lifetime -------------------------------------------------------------------------------
    def __enter__(self) -> "LinkSync":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Leave the session (idempotent). The scheduler is not stopped: its owner does that."""
        if self._closing.is_set():
            return
        self._closing.set()
        if self._thread is not threading.current_thread():
            self._thread.join(2)
        self._link.enabled = False
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(2)
        if not self._loop.is_running():
            self._loop.close()

    # --- the sampling thread ---------------------------------------------------------------------
    def _sample(self) -> tuple[float, float, float, bool]:
        """``(session beat, perf_counter time of it, bpm, playing)`` from the tightest bracket."""
        link, clock = self._link, time.perf_counter
        while True:
            bpm = link.tempo
            best = None
            for _ in range(SAMPLE_TRIES):
                t0 = clock()
                beat = link.beat
                t1 = clock()
                if best is None or t1 - t0 < best[0]:
                    best = (t1 - t0, beat, 0.5 * (t0 + t1))
            if link.tempo == bpm:  # else the tempo changed between reads: sample again
                return best[1], best[2], bpm, link.playing

    def _alone(self) -> bool:
        return self.peers == 0 and time.monotonic() - self._joined > ALONE_S

    def _run(self) -> None:
        try:
            while not self._closing.wait(POLL_S):
                self._step(*self._sample())
        except BaseException as err:  # a sampler that died must not leave a player off the grid
            self.failed = err
            with self._lock:
                sched = self._scheduler
            if sched is not None:
                sched.stop()
            if self.on_failure is not None:
                self.on_failure(err)

    def _step(self, beat: float, t: float, bpm: float, playing: bool) -> None:
        alone = self._alone()
        with self._lock:
            if self.start_stop_sync and playing:
                self._seen_playing = True
            if not self._go.is_set() and (playing or not self.wait_for_play or alone):
                self._go.set()
            sched = self._scheduler
            if sched is None or not self._go.is_set():
                return
            if self._seen_playing and not playing:  # a peer pressed Stop: the take ends
                self.stopped_by_session = True
                self._scheduler = None
            else:
                if self._origin is None:
                    lead = LEAD_S * bpm / 60.0
                    self._origin = math.floor((beat + lead) / self.quantum + 1.0) * self.quantum
                    self._last = None
                piece = beat - self._origin
                last = self._last
                if last is not None and last[2] == bpm:
                    if abs(last[1] + (piece - last[0]) * 60.0 / bpm - t) <= DRIFT_S:
                        return  # the scheduler's timeline is still the session's
                at = max(piece, 0.0)  # before the start: place beat 0 on the bar line
                anchor = self._last = (at, t + (at - piece) * 60.0 / bpm, bpm)
        if self.stopped_by_session:
            sched.stop()
        else:
            sched.anchor(*anchor)
