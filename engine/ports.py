"""MIDI ports: a virtual ``Synesthete`` output (or a connection to an existing port), inputs,
listing, and panic — over python-rtmidi, with the API chosen explicitly.

Public names: ``PortError``, ``PortNotFound``, ``OutputPort``, ``InputPort``, ``open_output``,
``open_input``, ``list_ports``, ``choose_api``, ``panic_messages``.

API choice (DESIGN.md, Live MIDI): JACK when a JACK server runs (the wheel would otherwise pick
ALSA, and a JACK-only DAW would never see the port), else ALSA on Linux, CoreMIDI on macOS.
Windows has no virtual ports: only ``connect=`` to a loopback port (loopMIDI) works there.

Every driver failure comes out as ``PortError`` (an ``OSError``) with a one-line message; a
port that goes away mid-stream gives ``PortError("MIDI port 'X' disappeared")``.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from typing import Callable, Iterable, Iterator

import mido

ALL_SOUND_OFF = 120
ALL_NOTES_OFF = 123
DEFAULT_OUTPUT = "Synesthete"
DEFAULT_INPUT = "Synesthete In"
API_NAMES = {"jack": "UNIX_JACK", "alsa": "LINUX_ALSA", "coremidi": "MACOSX_CORE", "winmm": "WINDOWS_MM"}
LOOPMIDI_HINT = ("virtual MIDI ports do not exist on Windows: install loopMIDI "
                 "(https://www.tobias-erichsen.de/software/loopmidi.html), create a port in it, "
                 "and pass --connect loopMIDI")


class PortError(OSError):
    """A MIDI port could not be opened, used, or has disappeared (message is one line)."""


class PortNotFound(PortError):
    """The requested port does not exist or cannot exist here: bad input, not a crash."""


def _rtmidi():
    # Imported late so that listing this module's names or unit-testing the scheduler
    # never needs the driver (mido's rtmidi_utils split, STYLE.md §3).
    import rtmidi
    return rtmidi


# --- keeping libjack's chatter off the user's terminal --------------------------------------
# libjack prints multi-line diagnostics to fd 2 from C, both inside our calls (a client that
# cannot reach a server) and later from its own threads (the server dying under us). Python
# cannot catch those, so while a JACK client lives, fd 2 goes through a pipe whose reader drops
# libjack's lines and forwards everything else (our own messages, tracebacks) unchanged.
#
# The same lines are also our only news that the server died: rtmidi does not expose
# jack_on_shutdown, and port listings keep showing the dead graph from shared memory.
_JACK_SERVER_GONE = re.compile(r"^(JackSocketClientChannel read fail|Server is not running)")
_JACK_NOISE = re.compile(
    r"^(Cannot |Jack|jack |CheckRes|Server is not running|Could not open|Unknown error|"
    r"no message buffer overruns|ALSA lib |JACK server|Cannot connect)")


class _StderrFilter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = -1
        self._thread: threading.Thread | None = None
        self.server_gone = threading.Event()

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            self.server_gone.clear()
            try:
                sys.stderr.flush()
            except (AttributeError, ValueError):
                pass
            self._saved = os.dup(2)
            r, w = os.pipe()
            os.dup2(w, 2)
            os.close(w)
            self._thread = threading.Thread(target=self._pump, args=(r, self._saved), daemon=True,
                                            name="synesthete-stderr-filter")
            self._thread.start()

    def release(self) -> None:
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users > 0:
                return
            try:
                sys.stderr.flush()
            except (AttributeError, ValueError):
                pass
            saved, self._saved = self._saved, -1
            os.dup2(saved, 2)  # closes the pipe's last write end, so the pump sees EOF
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=1.0)
        os.close(saved)

    def _pump(self, r: int, out: int) -> None:
        buf = b""
        with os.fdopen(r, "rb", buffering=0) as fh:
            while True:
                chunk = fh.read(4096)
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    text = line.decode("utf-8", "replace")
                    if _JACK_SERVER_GONE.match(text):
                        self.server_gone.set()
                    if not _JACK_NOISE.match(text):
                        os.write(out, line + b"\n")
        if buf and not _JACK_NOISE.match(buf.decode("utf-8", "replace")):
            os.write(out, buf)


_filter = _StderrFilter()


@contextlib.contextmanager
def _jack_quiet(api: int):
    # libjack and alsa-lib both print multi-line diagnostics straight to fd 2
    if api not in (_rtmidi().API_UNIX_JACK, _rtmidi().API_LINUX_ALSA):
        yield
        return
    _filter.acquire()
    try:
        yield
    finally:
        _filter.release()


# --- API choice ------------------------------------------------------------------------------
_jack_cache: tuple[float, bool] | None = None


def jack_running() -> bool:
    """True when a JACK server accepts clients (checked by opening one; never starts a server)."""
    global _jack_cache
    rtmidi = _rtmidi()
    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        return False
    if _jack_cache and time.monotonic() - _jack_cache[0] < 1.0:
        return _jack_cache[1]
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    with _jack_quiet(rtmidi.API_UNIX_JACK):
        try:
            probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "synesthete-probe")
            probe.delete()
            ok = True
        except Exception:
            ok = False
    _jack_cache = (time.monotonic(), ok)
    return ok


def choose_api(api: str = "auto") -> int:
    """The rtmidi API constant for ``api`` ("auto", "jack", "alsa", "coremidi", "winmm")."""
    rtmidi = _rtmidi()
    api = (api or "auto").lower()
    if api != "auto":
        if api not in API_NAMES:
            raise PortNotFound(f"unknown MIDI API {api!r} (choose from auto, {', '.join(API_NAMES)})")
        const = getattr(rtmidi, "API_" + API_NAMES[api])
        if const not in rtmidi.get_compiled_api():
            raise PortNotFound(f"this python-rtmidi build has no {api} support")
        return const
    if sys.platform.startswith("linux"):
        return rtmidi.API_UNIX_JACK if jack_running() else rtmidi.API_LINUX_ALSA
    if sys.platform == "darwin":
        return rtmidi.API_MACOSX_CORE
    if sys.platform == "win32":
        return rtmidi.API_WINDOWS_MM
    return rtmidi.API_UNSPECIFIED


def api_name(api: int) -> str:
    rtmidi = _rtmidi()
    for short, attr in API_NAMES.items():
        if getattr(rtmidi, "API_" + attr, None) == api:
            return short
    return rtmidi.get_api_name(api)


def _make(kind: str, api: int, client: str):
    rtmidi = _rtmidi()
    cls = rtmidi.MidiOut if kind == "out" else rtmidi.MidiIn
    with _jack_quiet(api):
        try:
            return cls(api, client)
        except Exception as err:
            hint = {"jack": "is the JACK server running?",
                    "alsa": "is the ALSA sequencer (snd-seq) available?"}.get(api_name(api), "")
            raise PortError(f"cannot open the {api_name(api)} MIDI system{': ' + hint if hint else ''}") from err


def _match(names: list[str], substring: str, what: str) -> int:
    wanted = substring.lower()
    for i, n in enumerate(names):
        if wanted in n.lower():
            return i
    have = ", ".join(repr(n) for n in names) or "none"
    raise PortNotFound(f"no MIDI {what} port matches {substring!r} (available: {have})")


def list_ports(api: str = "auto") -> dict:
    """Ports one can connect to: ``{"outputs": [...], "inputs": [...], "api": "jack"}``.

    ``outputs`` are ports Synesthete can send to (``--connect``), ``inputs`` ports it can
    receive from.
    """
    const = choose_api(api)
    out = _make("out", const, "synesthete-list")
    inp = _make("in", const, "synesthete-list")
    try:
        with _jack_quiet(const):
            return {"outputs": list(out.get_ports()), "inputs": list(inp.get_ports()),
                    "api": api_name(const)}
    finally:
        with _jack_quiet(const):
            out.delete()
            inp.delete()


# --- panic -----------------------------------------------------------------------------------
def panic_messages(sounding: Iterable[tuple[int, int]], channels: Iterable[int], *,
                   sound_off: bool = True) -> Iterator[mido.Message]:
    """Note-offs for each sounding ``(channel, pitch)``, then All Notes Off (and All Sound Off
    unless ``sound_off`` is False) on each channel.

    Explicit note-offs come first because some synths ignore CC123 (it is optional in the MIDI
    spec); a normal end skips CC120 so release tails and reverb ring out naturally.
    """
    sounding = sorted(set(sounding))
    for ch, pitch in sounding:
        yield mido.Message("note_off", channel=ch, note=pitch, velocity=0)
    for ch in sorted(set(channels) | {c for c, _ in sounding}):
        yield mido.Message("control_change", channel=ch, control=ALL_NOTES_OFF, value=0)
        if sound_off:
            yield mido.Message("control_change", channel=ch, control=ALL_SOUND_OFF, value=0)


# --- output ----------------------------------------------------------------------------------
class OutputPort:
    """An open MIDI output. ``send`` validates and tracks sounding notes so ``panic`` is exact.

    Use as a context manager; ``close()`` is idempotent and sends a panic first. Build one with
    ``open_output``. ``send_fn`` lets tests and the desktop app wrap any sink (no driver).
    """

    def __init__(self, name: str, send_fn: Callable[[list[int]], None], *,
                 close_fn: Callable[[], None] | None = None,
                 alive_fn: Callable[[], bool] | None = None, api: str = "none",
                 virtual: bool = False) -> None:
        self.name = name
        self.api = api
        self.virtual = virtual
        self._send_fn = send_fn
        self._close_fn = close_fn
        self._alive_fn = alive_fn
        self._lock = threading.RLock()
        self._sounding: set[tuple[int, int]] = set()
        self._channels: set[int] = set()
        self.closed = False
        self.lost = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self.name!r} ({self.api}, {state})>"

    def __enter__(self) -> "OutputPort":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def sounding(self) -> set[tuple[int, int]]:
        with self._lock:
            return set(self._sounding)

    def send(self, msg: mido.Message) -> None:
        if not isinstance(msg, mido.Message):
            raise TypeError(f"send() needs a mido.Message (received {type(msg).__name__})")
        with self._lock:
            if self.closed:
                raise PortError(f"MIDI port {self.name!r} is closed")
            self._raw_send(msg)
            if msg.type in ("note_on", "note_off", "control_change", "program_change"):
                self._channels.add(msg.channel)
            if msg.type == "note_on" and msg.velocity > 0:
                self._sounding.add((msg.channel, msg.note))
            elif msg.type in ("note_on", "note_off"):
                self._sounding.discard((msg.channel, msg.note))
            elif msg.type == "control_change" and msg.control in (ALL_NOTES_OFF, ALL_SOUND_OFF):
                self._sounding = {s for s in self._sounding if s[0] != msg.channel}

    def _raw_send(self, msg: mido.Message) -> None:
        if self.lost:
            raise PortError(f"MIDI port {self.name!r} disappeared")
        try:
            self._send_fn(msg.bytes())
        except PortError:
            self.lost = True
            raise
        except Exception as err:
            self.lost = True
            raise PortError(f"MIDI port {self.name!r} disappeared") from err

    def check(self) -> None:
        """Raise ``PortError`` if the port has gone (JACK server or target client away)."""
        if self.closed:
            raise PortError(f"MIDI port {self.name!r} is closed")
        if self.lost:
            raise PortError(f"MIDI port {self.name!r} disappeared")
        if self._alive_fn is not None:
            try:
                ok = self._alive_fn()
            except Exception:
                ok = False
            if not ok:
                self.lost = True
                raise PortError(f"MIDI port {self.name!r} disappeared")

    def panic(self, *, sound_off: bool = True) -> None:
        """Silence everything this port started; never raises (it runs on the way out of errors)."""
        with self._lock:
            if self.closed:
                return
            msgs = list(panic_messages(self._sounding, self._channels, sound_off=sound_off))
            for msg in msgs:
                try:
                    self._send_fn(msg.bytes())
                except Exception:
                    self.lost = True
                    break
            self._sounding.clear()

    def close(self) -> None:
        """Panic, then release the port. A second call does nothing."""
        with self._lock:
            if self.closed:
                return
            if not self.lost:
                self.panic()
            self.closed = True
            if self._close_fn is not None:
                try:
                    self._close_fn()
                except Exception:
                    pass


def open_output(name: str = DEFAULT_OUTPUT, *, connect: str | None = None,
                api: str = "auto") -> OutputPort:
    """Open a virtual output port called ``name``, or (``connect``) an existing output port
    whose name contains that substring (case-insensitive).

    Raises ``PortNotFound`` for no match (or a virtual port on Windows), ``PortError`` when the
    MIDI system cannot be opened.
    """
    if connect is None and sys.platform == "win32":
        raise PortNotFound(LOOPMIDI_HINT)
    const = choose_api(api)
    aname = api_name(const)
    midi = _make("out", const, name)
    rtmidi = _rtmidi()
    watcher = None
    if connect is None and const == rtmidi.API_UNIX_JACK:
        # Our own port only disappears with the server; a second, portless client watches for
        # it. Its name is learnt by difference, as JACK renames a clashing client ("-01").
        watcher = _make("in", const, name + " watch")
    try:
        with _jack_quiet(const):
            before = set(watcher.get_ports()) if watcher is not None else set()
            if connect is None:
                midi.open_virtual_port(name)
                target = name
            else:
                ports = list(midi.get_ports())
                target = ports[_match(ports, connect, "output")]
                midi.open_port(ports.index(target), name)
            own = sorted(set(watcher.get_ports()) - before) if watcher is not None else []
    except Exception as err:
        with _jack_quiet(const):
            midi.delete()
            if watcher is not None:
                watcher.delete()
        if isinstance(err, PortError):
            raise
        raise PortError(f"cannot open MIDI output {name!r} ({aname}): {str(err).splitlines()[0]}") from err
    if const == rtmidi.API_UNIX_JACK:
        _filter.acquire()  # held while the client lives: libjack may talk from its own threads

    jack = const == rtmidi.API_UNIX_JACK
    if connect is not None:
        def alive() -> bool:
            return not (jack and _filter.server_gone.is_set()) and target in midi.get_ports()
    elif watcher is not None:
        own_name = own[0] if own else f"{name}:{name}"

        def alive() -> bool:
            return not _filter.server_gone.is_set() and own_name in watcher.get_ports()
    else:
        alive = None  # ALSA and CoreMIDI virtual ports live as long as this process

    def close() -> None:
        try:
            if jack:
                # rtmidi hands JACK messages over in the next process cycle; closing at once
                # would drop the panic just queued. 50 ms covers periods up to 2048 @ 44.1k.
                time.sleep(0.05)
            midi.close_port()
            midi.delete()
            if watcher is not None:
                watcher.delete()
        finally:
            if const == rtmidi.API_UNIX_JACK:
                _filter.release()

    label = name if connect is None else target
    return OutputPort(label, midi.send_message, close_fn=close, alive_fn=alive, api=aname,
                      virtual=connect is None)


# --- input -----------------------------------------------------------------------------------
class InputPort:
    """An open MIDI input delivering ``(mido.Message, t)`` to a callback on its own thread.

    rtmidi queues messages in C++ and a Python thread polls them, rather than rtmidi calling
    Python from JACK's process thread: a callback there would wait for the GIL while the
    model runs, make our JACK client late, and JACK would drop that cycle's MIDI.

    ``t`` is the arrival time on ``time.perf_counter``'s clock, rebuilt from the driver's
    message deltas (stamped in the driver, e.g. JACK's process cycle) so polling and Python's
    own wake-up delays do not smear clock timing. The offset between the two clocks is the
    smallest seen ``poll time - driver time``: the least-delayed poll is the best anchor.
    """

    POLL_S = 0.0005

    def __init__(self, name: str, midi, api: int, callback: Callable[[mido.Message, float], None]) -> None:
        self.name = name
        self.api = api_name(api)
        self._midi = midi
        self._api = api
        self._callback = callback
        self._driver_t: float | None = None
        self._offset = float("inf")
        self._stop = threading.Event()
        self.closed = False
        midi.ignore_types(sysex=True, timing=False, active_sense=True)
        self._thread = threading.Thread(target=self._poll, name=f"midi-in {name}", daemon=True)
        self._thread.start()

    def __enter__(self) -> "InputPort":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _poll(self) -> None:
        while not self._stop.is_set():
            event = self._midi.get_message()
            if event is None:
                time.sleep(self.POLL_S)
                continue
            now = time.perf_counter()
            data, delta = event
            self._driver_t = 0.0 if self._driver_t is None else self._driver_t + delta
            self._offset = min(self._offset, now - self._driver_t)
            try:
                msg = mido.Message.from_bytes(data)
            except (ValueError, TypeError):
                continue  # junk bytes from a misbehaving sender are not our crash
            try:
                self._callback(msg, self._driver_t + self._offset)
            except Exception as err:  # a handler bug must not end input silently
                print(f"synesthete: MIDI input handler failed: {err}", file=sys.stderr)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        self._thread.join(1.0)
        try:
            self._midi.close_port()
            self._midi.delete()
        finally:
            if self._api == _rtmidi().API_UNIX_JACK:
                _filter.release()


def open_input(callback: Callable[[mido.Message, float], None], name: str = DEFAULT_INPUT, *,
               connect: str | None = None, api: str = "auto") -> InputPort:
    """Open a virtual input ``name`` (or connect to an existing source matching ``connect``)."""
    if connect is None and sys.platform == "win32":
        raise PortNotFound(LOOPMIDI_HINT)
    const = choose_api(api)
    midi = _make("in", const, name)
    try:
        with _jack_quiet(const):
            if connect is None:
                midi.open_virtual_port(name)
            else:
                ports = list(midi.get_ports())
                midi.open_port(_match(ports, connect, "input"), name)
    except PortError:
        midi.delete()
        raise
    except Exception as err:
        midi.delete()
        raise PortError(f"cannot open MIDI input {name!r}: {str(err).splitlines()[0]}") from err
    if const == _rtmidi().API_UNIX_JACK:
        _filter.acquire()
    return InputPort(name, midi, const, callback)
