"""Generate and play at once: a producer thread pulls notes from the model into the scheduler
while the scheduler plays them. Used by ``synesthete stream`` and the desktop app.

Public names: ``LiveStream``, ``StreamResult``, ``stream``.

``LiveStream`` is the non-blocking form (``start()``, ``stop()`` from any thread, ``wait()``,
``result()``); ``stream()`` runs one to the end and, with ``handle_signals=True`` (the CLI),
turns SIGINT/SIGTERM into a clean stop. Either way the port ends silent: note-offs for
every sounding note plus All Notes Off on each used channel.

``next_piece(va) -> Iterable[NoteEvent]`` makes ``--loop``: after each piece the next one
is generated for the VA that the DAW's CCs ask for (``midi_in.next_va``), and placed right
after the previous piece on the same timeline, so the loop plays without a seam. Returning
``None`` from ``next_piece`` ends the loop.

``pacer`` (``engine.live.steering.Pacer``) is told where each piece starts on the timeline, so a
steered piece is composed bar by bar just ahead of playback and a CC is heard within a bar.

Should ``midi_in``'s input thread die, playback stops (note-offs as always) and the result's
``error`` is its ``PortError``: better a clear stop than a player deaf to the DAW's Stop.

``clock`` puts another timeline source in the place ``midi_in`` takes with ``sync=True``:
anything with ``attach(scheduler)`` and ``wait_for_start(timeout)``, e.g. ``link.LinkSync``
(Ableton Link). ``midi_in`` may still come along for the CCs of ``--loop``.
"""
from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..events import BEATS_PER_BAR, VA, NoteEvent
from ..request import Plan
from .scheduler import Scheduler, Sent, Shift


@dataclass
class StreamResult:
    played: list[NoteEvent]          # exactly what sounded, timeline beats
    sent: list[Sent]
    shifts: list[Shift]
    pieces: int
    tempo: float
    seconds: float                   # wall time from start to silence
    stopped: bool                    # ended by stop()/a signal rather than running out
    error: BaseException | None = None
    written: Path | None = None
    vas: list[VA] = field(default_factory=list)

    @property
    def onset_errors_ms(self) -> list[float]:
        return [1000.0 * s.error_s for s in self.sent if s.kind == "on"]


class LiveStream:
    """One live performance on an open ``OutputPort`` (the caller owns and closes the port)."""

    def __init__(self, notes: Iterable[NoteEvent], port, *, tempo: float = 120.0,
                 sync: bool = False, midi_in=None, next_piece: Callable[[VA], Iterable[NoteEvent]] | None = None,
                 va: VA | None = None, piece_beats: float | None = None, lookahead: float = 0.15,
                 channel: int | None = None, velocity_scale: float = 1.0, program: int | None = None,
                 on_note: Callable[[NoteEvent], None] | None = None,
                 on_piece: Callable[[int, VA | None], None] | None = None, clock=None, pacer=None) -> None:
        sync = sync or clock is not None
        if sync and midi_in is None and clock is None:
            raise ValueError("sync=True needs midi_in (the port that receives the DAW's clock)")
        self.clock = clock if clock is not None else (midi_in if sync else None)
        self.port = port
        self.tempo = float(tempo)
        self.sync = sync
        self.midi_in = midi_in
        self.va = va
        self._first = notes
        self._next_piece = next_piece
        self._piece_beats = piece_beats
        self._on_piece = on_piece
        self._pacer = pacer
        # In sync mode a late note waits whole bars, so the DAW's grid still holds.
        self.scheduler = Scheduler(port, tempo=tempo, lookahead=lookahead, channel=channel,
                                   velocity_scale=velocity_scale, program=program,
                                   auto_anchor=not sync, shift_quantum=float(BEATS_PER_BAR) if sync else 0.0,
                                   on_note=on_note)
        self._stop = threading.Event()
        self._producer: threading.Thread | None = None
        self._producer_error: BaseException | None = None
        self._input_error: BaseException | None = None
        self._pieces = 0
        self._vas: list[VA] = []
        self._t0 = 0.0
        self._t1: float | None = None

    def start(self) -> "LiveStream":
        self._t0 = time.perf_counter()
        if self.clock is not None:
            self.clock.attach(self.scheduler)
        self.scheduler.start()
        for source in dict.fromkeys(x for x in (self.midi_in, self.clock) if x is not None):
            source.on_failure = self._input_failed
            if getattr(source, "failed", None) is not None:
                self._input_failed(source.failed)
        self._producer = threading.Thread(target=self._produce, name="synesthete-producer", daemon=True)
        self._producer.start()
        return self

    def stop(self) -> None:
        """Stop now, from any thread (the GUI's Stop button, a signal handler)."""
        self._stop.set()
        self.scheduler.stop()

    def _input_failed(self, err: BaseException) -> None:
        self._input_error = err
        self.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """True once playback has ended; loop on short timeouts to stay responsive to signals."""
        done = self.scheduler.wait(timeout)
        if done and self._t1 is None:
            self._t1 = time.perf_counter()
            self._stop.set()  # a producer stuck in a slow model step may finish on its own
        return done

    def close(self, timeout: float = 2.0) -> None:
        """Stop, and wait for the player and the producer to end. A producer still inside a model
        step when the process exits can abort it (ONNX Runtime's threads torn down under it)."""
        self.stop()
        self.wait(timeout)
        if self._producer is not None and self._producer is not threading.current_thread():
            self._producer.join(timeout)

    def result(self) -> StreamResult:
        s = self.scheduler
        error = s.error or self._producer_error or self._input_error
        return StreamResult(played=list(s.played), sent=list(s.sent), shifts=list(s.shifts),
                            pieces=self._pieces, tempo=self.tempo,
                            seconds=(self._t1 or time.perf_counter()) - self._t0,
                            stopped=self._stop.is_set() and s.stopped, error=error,
                            vas=list(self._vas))

    def _produce(self) -> None:
        offset = 0.0
        va = self.va
        notes: Iterable[NoteEvent] | None = self._first
        try:
            while notes is not None and not self._stop.is_set():
                self._pieces += 1
                if va is not None:
                    self._vas.append(va)
                if self._on_piece is not None:
                    self._on_piece(self._pieces, va)
                if self._pacer is not None:
                    self._pacer.bind(self.scheduler, offset, self._stop)
                end = offset
                for n in notes:
                    if self._stop.is_set():
                        return
                    placed = NoteEvent(n.pitch, n.velocity, n.start + offset, n.duration, n.channel)
                    self.scheduler.feed(placed)
                    end = max(end, placed.end)
                if self._next_piece is None or self._stop.is_set():
                    break
                # One piece of cushion is enough: generating further ahead would read the
                # CCs too early for them to steer what is heard next (and grow without bound).
                while not self._stop.is_set():
                    head = self.scheduler.playhead()
                    if head is not None and head >= offset:
                        break
                    time.sleep(0.02)
                if self._stop.is_set():
                    break
                bar = float(BEATS_PER_BAR)
                length = self._piece_beats or max(bar, math.ceil((end - offset) / bar - 1e-9) * bar)
                offset += length
                if self.midi_in is not None and va is not None:
                    va = self.midi_in.next_va(va)
                notes = self._next_piece(va)
        except BaseException as err:  # the model failing mid-piece: stop, and report it
            self._producer_error = err
            self.scheduler.stop()
        finally:
            self.scheduler.finish()


def stream(plan: Plan, port, notes: Iterable[NoteEvent], *, sync: bool = False, midi_in=None, clock=None,
           next_piece: Callable[[VA], Iterable[NoteEvent]] | None = None, also_write: str | Path | None = None,
           handle_signals: bool = False, stop_event: threading.Event | None = None,
           sync_timeout: float | None = None, on_note: Callable[[NoteEvent], None] | None = None,
           on_piece: Callable[[int, VA | None], None] | None = None, pacer=None,
           lookahead: float = 0.15) -> StreamResult:
    """Play ``notes`` — the planned piece, generated while it plays — on ``port`` at the plan's tempo,
    and return what was played. The caller opens and closes the port (``with``).

    ``also_write`` saves exactly what was played as the plan's ``.mid`` (even after a stop), the
    same writer as ``generate``'s; where it cannot go, ``OutputError`` comes before anything plays.
    A ``PortError`` from the port is raised after the port has been silenced. ``stop_event`` (set
    from any thread) and, with ``handle_signals``, SIGINT/SIGTERM end the stream cleanly. ``clock``
    (e.g. a ``LinkSync``) drives the timeline instead of ``midi_in``'s MIDI clock.
    """
    from ..files.outputs import check_output_path

    if also_write is not None:  # a take that cannot be saved must fail before it is played
        check_output_path(also_write)
    live = LiveStream(notes, port, tempo=plan.tempo, sync=sync, midi_in=midi_in, next_piece=next_piece,
                      va=plan.target, piece_beats=plan.settings.beats, lookahead=lookahead, on_note=on_note,
                      on_piece=on_piece, clock=clock, pacer=pacer)
    old_handlers = {}
    if handle_signals and threading.current_thread() is threading.main_thread():
        def on_signal(signum, frame):
            live.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            old_handlers[sig] = signal.signal(sig, on_signal)
    try:
        live.start()
        if live.clock is not None and sync_timeout is not None and not live.clock.wait_for_start(sync_timeout):
            live.stop()
        # Short waits keep the main thread returning to Python, where signal handlers run.
        while not live.wait(0.1):
            if stop_event is not None and stop_event.is_set():
                live.stop()
        result = live.result()
    finally:
        live.close(2.0)
        for sig, h in old_handlers.items():
            signal.signal(sig, h)
    if also_write is not None and result.played:
        result.written = plan.piece(result.played).write(also_write)
    if result.error is not None:
        raise result.error
    return result
