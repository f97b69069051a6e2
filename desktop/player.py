"""Playing a result into a MIDI port: the port menu's choice, Play, Stop (panic), the playhead,
and Ableton Link.

All timing is the engine's (``engine.live.stream.LiveStream`` on its own threads); this object only
opens the chosen port, starts and stops streams, and turns the player thread's callbacks into
Qt signals. The port stays open between plays so a DAW track routed to the virtual
``Synesthete`` port keeps its connection. With Link on, the session (``engine.live.link.LinkSync``,
kept joined while the toggle is on) sets the tempo and bar grid of every Play.
"""
from __future__ import annotations

from typing import Iterable

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from engine.events import NoteEvent
from engine.live.stream import LiveStream
from engine.live.ports import DEFAULT_OUTPUT, PortError, list_ports, open_output

POLL_MS = 30           # playhead refresh; ~33 fps is smooth enough for a line
STOP_WAIT_S = 2.0


class Player(QObject):
    noteOn = pyqtSignal(object)      # NoteEvent as it sounds (emitted from the player thread)
    playhead = pyqtSignal(object)    # beat of the piece, or None when stopped
    started = pyqtSignal(str)        # port name
    finished = pyqtSignal(bool)      # True if stopped by the user
    failed = pyqtSignal(str)
    portChanged = pyqtSignal(str)    # description for the status line

    def __init__(self, virtual_name: str = DEFAULT_OUTPUT, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.virtual_name = virtual_name
        self._connect: str | None = None   # None: our virtual port; else an existing port's name
        self._port = None
        self._live: LiveStream | None = None
        self._feed = None
        self._stopped_by_user = False
        self._link = None
        self.last_result = None           # the last take's StreamResult (what was played)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    # --- ports ---------------------------------------------------------------------------
    def available_outputs(self) -> list[str]:
        """Existing output ports (our own virtual port left out). Raises PortError."""
        outs = list_ports()["outputs"]
        return [p for p in outs if not p.split(":")[0].startswith(self.virtual_name)]

    def choose(self, connect: str | None) -> None:
        """Pick the virtual port (None) or an existing output; takes effect at the next Play."""
        if connect == self._connect:
            return
        self.stop()
        self._close_port()
        self._connect = connect
        self.portChanged.emit(self.describe())

    def choice(self) -> str | None:
        return self._connect

    def describe(self) -> str:
        if self._port is not None:
            kind = "virtual" if self._port.virtual else "connected"
            return f"{self._port.name} ({self._port.api}, {kind})"
        return f"virtual “{self.virtual_name}” (opens on Play)" if self._connect is None else f"{self._connect} (opens on Play)"

    def _ensure_port(self):
        if self._port is not None and (self._port.closed or self._port.lost):
            self._close_port()
        if self._port is None:
            if self._connect is None:
                self._port = open_output(self.virtual_name)
            else:
                self._port = open_output(self.virtual_name, connect=self._connect)
            self.portChanged.emit(self.describe())
        return self._port

    def _close_port(self) -> None:
        if self._port is not None:
            self._port.close()  # sends a panic first
            self._port = None
            self.portChanged.emit(self.describe())

    # --- transport -----------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._live is not None

    # --- Ableton Link ---------------------------------------------------------------------
    def set_link(self, on: bool, tempo: float = 120.0) -> str:
        """Join (or leave) the Link session; returns a line for the status bar. Raises
        ``engine.live.link.LinkUnavailable`` (one line) without the aalink package."""
        self.stop()
        if not on:
            if self._link is not None:
                self._link.close()
                self._link = None
            return "Link off"
        if self._link is None:
            from engine.live.link import LinkSync

            self._link = LinkSync(tempo)
        peers = self._link.wait_for_peers(0.5)
        return f"Link: {self._link.tempo:.2f} BPM, {peers} peer(s)"

    @property
    def link(self):
        return self._link

    def play(self, notes: Iterable[NoteEvent], tempo: float, feed=None, pacer=None) -> bool:
        """Start playing ``notes`` (a list, a ``NoteFeed`` still being filled, or the model's
        notes paced by ``pacer`` for steering); with Link on, at the session's tempo and bars."""
        self.stop()
        try:
            port = self._ensure_port()
            if self._link is not None:
                tempo = round(self._link.tempo, 2)
            self._live = LiveStream(notes, port, tempo=tempo, on_note=self.noteOn.emit, clock=self._link,
                                    pacer=pacer).start()
        except (PortError, ValueError) as err:
            self._live = None
            self.failed.emit(str(err).splitlines()[0])
            return False
        self._feed = feed
        self._stopped_by_user = False
        self._timer.start()
        self.started.emit(port.name)
        return True

    def stop(self) -> None:
        """Stop = panic: the stream sends note-offs and All Notes Off on its way out."""
        live, self._live = self._live, None
        if self._feed is not None:
            self._feed.close()  # a producer waiting for notes must not hang
            self._feed = None
        if live is None:
            return
        self._stopped_by_user = True
        live.close(STOP_WAIT_S)
        if self._port is not None:
            self._port.panic()
        self._finish(live)

    def shutdown(self) -> None:
        self.stop()
        self._close_port()
        if self._link is not None:
            self._link.close()
            self._link = None

    def _poll(self) -> None:
        live = self._live
        if live is None:
            self._timer.stop()
            return
        if live.wait(0):
            self._live = None
            self._feed = None
            self._finish(live)
            return
        head = live.scheduler.playhead()
        if head is not None:
            # Late notes shift the timeline; undo that so the line sits on the piece's beats.
            head -= sum(s.beats for s in live.scheduler.shifts)
        self.playhead.emit(head)

    def _finish(self, live: LiveStream) -> None:
        self._timer.stop()
        self.playhead.emit(None)
        self.last_result = live.result()
        err = self.last_result.error
        if err is not None:
            self._close_port()
            self.failed.emit(str(err).splitlines()[0] or type(err).__name__)
        self.finished.emit(self._stopped_by_user)
