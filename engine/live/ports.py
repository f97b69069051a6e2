"""MIDI ports: a virtual ``Synesthete`` output (or a connection to an existing port), inputs,
listing, and panic — over python-rtmidi, with the API chosen explicitly.

Public names: ``PortError``, ``PortNotFound``, ``OutputPort``, ``InputPort``, ``open_output``,
``open_input``, ``list_ports``, ``choose_api``, ``panic_messages``.

API choice (docs/DESIGN.md, Live MIDI): JACK when a JACK server runs (the wheel would otherwise pick
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
MAX_NAME = 56  # JACK allows 63 for the client (named after the port), less a clash's "-01"
IN_QUEUE = 8192
GUARD_S = 0.05
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
    # never needs the driver (mido's rtmidi_utils split; docs/DESIGN.md, Style).
    try:
        import rtmidi
    except ModuleNotFoundError as err:  # no python-rtmidi wheel for 3.13+ (docs/INSTALL.md)
        if err.name != "rtmidi":
            raise
        raise PortError(
            "live MIDI needs python-rtmidi: pip install python-rtmidi (on Python 3.13+ it compiles: "
            "first sudo apt install g++ pkg-config libasound2-dev libjack-jackd2-dev on Debian/Ubuntu, "
            "xcode-select --install on macOS; docs/INSTALL.md)") from err
    return rtmidi


# --- keeping libjack's chatter off the user's terminal --------------------------------------
# libjack prints multi-line diagnostics to fd 2 from C, both inside our calls (a client that
# cannot reach a server) and later from its own threads (the server dying under us). Python
# cannot catch those, so while a JACK client lives, fd 2 goes through a pipe whose reader drops
# libjack's lines and forwards everything else (our own messages, tracebacks) unchanged.
#
# The same lines are also our only news that the server died: rtmidi does not expose
# jack_on_shutdown, and port listings keep showing the dead graph from shared memory.
_QUEUE_FULL = re.compile(r"^MidiIn\w*: message queue limit reached")
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
        blanks = 0  # rtmidi wraps its lines in blank ones: held until we know whose they are
        after_noise = False
        flood_said = float("-inf")
        with os.fdopen(r, "rb", buffering=0) as fh:
            while True:
                chunk = fh.read(4096)
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    text = line.decode("utf-8", "replace")
                    if not text.strip():
                        blanks += not after_noise
                        continue
                    if _JACK_SERVER_GONE.match(text):
                        self.server_gone.set()
                    if _QUEUE_FULL.match(text):  # once per message dropped: say it once in a while
                        if time.monotonic() - flood_said >= 10.0:
                            flood_said = time.monotonic()
                            os.write(out, b"synesthete: MIDI input flooded; some incoming messages were dropped\n")
                    elif not _JACK_NOISE.match(text):
                        os.write(out, b"\n" * blanks + line + b"\n")
                        blanks, after_noise = 0, False
                        continue
                    blanks, after_noise = 0, True
        if buf and not _JACK_NOISE.match(buf.decode("utf-8", "replace")):
            os.write(out, b"\n" * blanks + buf)


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
    with _jack_quiet(api):
        try:
            if kind == "out":
                return rtmidi.MidiOut(api, client)
            # rtmidi's default (1024) is under half a second of a dense controller stream
            return rtmidi.MidiIn(api, client, queue_size_limit=IN_QUEUE)
        except Exception as err:
            hint = {"jack": "is the JACK server running?",
                    "alsa": "is the ALSA sequencer (snd-seq) available?"}.get(api_name(api), "")
            raise PortError(f"cannot open the {api_name(api)} MIDI system{': ' + hint if hint else ''}") from err


def check_port_name(name: str) -> str:
    """A name JACK and ALSA accept for a port we create, or ``PortNotFound`` saying why."""
    if not isinstance(name, str) or not name.strip():
        raise PortNotFound("a MIDI port name must not be empty (see --port-name)")
    if not name.isprintable():
        raise PortNotFound(f"MIDI port name {name!r} contains control characters")
    if len(name) > MAX_NAME:
        raise PortNotFound(f"MIDI port name is {len(name)} characters long; at most {MAX_NAME} are allowed")
    return name


def _own_port(lister, before: set[str], fallback: str) -> str:
    """The port that appeared since ``before``: a clashing JACK client is renamed ("X-01")."""
    if lister is None:
        return fallback
    new = sorted(set(lister.get_ports()) - before)
    return new[0] if new else fallback


def _client_of(port: str, name: str) -> str:
    """``"Synesthete-01:Synesthete"`` → ``"Synesthete-01"``: the name a user finds us by."""
    return port[: -len(name) - 1] if port.endswith(":" + name) else name


def _helper(name: str, role: str) -> str:
    return f"{name[:MAX_NAME - len(role) - 1]} {role}"


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
    check_port_name(name)
    const = choose_api(api)
    aname = api_name(const)
    midi = _make("out", const, name)
    rtmidi = _rtmidi()
    watcher = None
    if connect is None and const == rtmidi.API_UNIX_JACK:
        # Our own port only disappears with the server; a second, portless client watches for
        # it. Its name is learnt by difference, as JACK renames a clashing client ("-01").
        watcher = _make("in", const, _helper(name, "watch"))
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
            own_name = _own_port(watcher, before, f"{name}:{name}")
    except Exception as err:
        with _jack_quiet(const):
            midi.delete()
            if watcher is not None:
                watcher.delete()
        if isinstance(err, PortError):
            raise
        raise PortError(f"cannot open MIDI output {name!r} ({aname}): {str(err).splitlines()[0]}") from err
    jack = const == rtmidi.API_UNIX_JACK
    if jack:
        _filter.acquire()  # held while the client lives: libjack may talk from its own threads
    alive, close = _output_life(midi, watcher, jack, target if connect is not None else None, own_name)
    label = _client_of(own_name, name) if connect is None else target
    return OutputPort(label, midi.send_message, close_fn=close, alive_fn=alive, api=aname,
                      virtual=connect is None)


def _output_life(midi, watcher, jack: bool, connected: str | None, own_name: str):
    """(alive, close) for an open output: how to tell it still exists, and how to let it go."""
    if connected is not None:
        def alive() -> bool:
            return not (jack and _filter.server_gone.is_set()) and connected in midi.get_ports()
    elif watcher is not None:
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
            if jack:
                _filter.release()

    return alive, close


# --- input -----------------------------------------------------------------------------------
class InputPort:
    """An open MIDI input delivering ``(bytes, t, timed)`` to a callback on its own thread.

    rtmidi queues messages in C++ and a Python thread polls them, rather than rtmidi calling
    Python from JACK's process thread: a callback there would wait for the GIL while the
    model runs, make our JACK client late, and JACK would drop that cycle's MIDI.

    ``t`` is the arrival time on ``time.perf_counter``'s clock, rebuilt from the driver's
    message deltas (stamped in the driver, e.g. JACK's process cycle) so polling and Python's
    own wake-up delays do not smear clock timing. The offset between the two clocks is the
    smallest seen ``poll time - driver time``: the least-delayed poll is the best anchor.
    rtmidi filters nothing here: it moves its delta reference at every event, filtered ones
    included, so filtering Active Sensing in C++ made every timestamp after it too early.

    rtmidi's JACK input holds everything after a SysEx start until an event ends in F7 (one
    unterminated SysEx would deafen us for good), then delivers it merged. So under JACK a
    second client, the guard, sends a lone F7 into our port every ``GUARD_S``; the merged
    bytes (the Stop inside them included) arrive that late at most, with ``timed=False``
    since their own times are lost, and the clock mapping is learnt afresh.

    The thread survives any callback error; should it die anyway, ``error`` holds why and
    ``on_error(err)`` is called.
    """

    POLL_S = 0.0005

    def __init__(self, name: str, midi, api: int, callback: Callable[[list[int], float, bool], None],
                 *, guard=None, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.name = name
        self.api = api_name(api)
        self._midi = midi
        self._api = api
        self._callback = callback
        self._guard = self._guard_client = guard
        self._on_error = on_error
        self._driver_t: float | None = None
        self._offset = float("inf")
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.closed = False
        midi.ignore_types(sysex=False, timing=False, active_sense=False)
        self._thread = threading.Thread(target=self._poll, name=f"midi-in {name}", daemon=True)
        self._thread.start()

    def __enter__(self) -> "InputPort":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _poll(self) -> None:
        try:
            next_guard, said = 0.0, float("-inf")
            while not self._stop.is_set():
                if self._guard is not None and time.perf_counter() >= next_guard:
                    next_guard = time.perf_counter() + GUARD_S
                    self._resync()
                event = self._midi.get_message()
                if event is None:
                    time.sleep(self.POLL_S)
                    continue
                data, delta = event
                t, timed = self._stamp(data, delta, time.perf_counter())
                if not data:
                    continue
                try:
                    self._callback(data, t, timed)
                except Exception as err:  # one bad message must not end input, nor flood stderr
                    if time.monotonic() - said >= 10.0:
                        said = time.monotonic()
                        print(f"synesthete: MIDI input handler failed: {err}", file=sys.stderr)
        except BaseException as err:
            self.error = err
            if self._on_error is not None:
                self._on_error(err)

    def _stamp(self, data: list[int], delta: float, now: float) -> tuple[float, bool]:
        merged = bool(data) and data[0] == 0xF0 and (data[-1] != 0xF7 or any(b >= 0x80 for b in data[1:-1]))
        if merged:  # the deltas of the events rtmidi merged are lost: start the mapping again
            self._driver_t, self._offset = None, float("inf")
        self._driver_t = 0.0 if self._driver_t is None else self._driver_t + delta
        self._offset = min(self._offset, now - self._driver_t)
        return self._driver_t + self._offset, not merged

    def _resync(self) -> None:
        try:
            self._guard.send_message([0xF7])
        except Exception:  # best effort: the server going away is reported by the output port
            self._guard = None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        self._thread.join(1.0)
        jack = self._api == _rtmidi().API_UNIX_JACK
        try:
            with _jack_quiet(self._api):
                # rtmidi's JACK input reads its port's events in JACK's process thread with no
                # lock against close_port: unregistering the port while events are still
                # arriving crashed the process (once in CI). So the port is let go only once
                # nothing sends into it: the guard's last F7 is delivered (one cycle; 50 ms
                # covers periods up to 2048 @ 44.1k), the guard is gone, and the server has
                # applied that disconnection (another cycle).
                if jack:
                    time.sleep(0.05)
                if self._guard_client is not None:  # only under JACK
                    self._guard_client.close_port()
                    self._guard_client.delete()
                    time.sleep(0.05)
                self._midi.close_port()
                self._midi.delete()
        finally:
            if jack:
                _filter.release()


def open_input(callback: Callable[[list[int], float, bool], None], name: str = DEFAULT_INPUT, *,
               connect: str | None = None, api: str = "auto",
               on_error: Callable[[BaseException], None] | None = None) -> InputPort:
    """Open a virtual input ``name`` (or connect to an existing source matching ``connect``).

    ``callback(data, t, timed)`` gets each delivery's raw bytes (see ``InputPort``);
    ``engine.live.midi_in.split_messages`` reads them. The port's ``name`` is the one it really has.
    """
    if connect is None and sys.platform == "win32":
        raise PortNotFound(LOOPMIDI_HINT)
    check_port_name(name)
    const = choose_api(api)
    jack = const == _rtmidi().API_UNIX_JACK
    midi = _make("in", const, name)
    guard = _make("out", const, _helper(name, "guard")) if jack else None
    try:
        with _jack_quiet(const):
            before = set(guard.get_ports()) if guard is not None else set()
            if connect is None:
                midi.open_virtual_port(name)
            else:
                ports = list(midi.get_ports())
                midi.open_port(_match(ports, connect, "input"), name)
            own = _own_port(guard, before, f"{name}:{name}")
            if guard is not None:
                ports = list(guard.get_ports())
                if own in ports:
                    guard.open_port(ports.index(own), "resync")
    except Exception as err:
        with _jack_quiet(const):
            midi.delete()
            if guard is not None:
                guard.delete()
        if isinstance(err, PortError):
            raise
        raise PortError(f"cannot open MIDI input {name!r}: {str(err).splitlines()[0]}") from err
    if jack:
        _filter.acquire()
    return InputPort(_client_of(own, name), midi, const, callback, guard=guard, on_error=on_error)
