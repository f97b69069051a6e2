"""MIDI → audio through a SoundFont synthesizer: ``render``, ``generate --wav`` and the app's Preview.

Public names: ``AudioError``, ``SAMPLE_RATE``, ``find_soundfont``, ``Synth``, ``render_midi``,
``render_notes``, ``write_wav``.

The synthesizer is FluidSynth (the reference SoundFont 2 synthesizer, through the
``pyfluidsynth`` binding; the library itself comes from the OS). Rendering runs the synth
offline, faster than real time: each stretch between two MIDI events is rendered in one call,
so every event lands on its exact sample. After the last event the synth keeps rendering
until the notes' release has died away (at most ``MAX_TAIL_S``), so a WAV holds the music
plus its natural decay, not a cut-off.

The SoundFont: ``--soundfont``, else ``$SYNESTHETE_SOUNDFONT``, else a General MIDI
SoundFont where OS packages put one — Debian/Ubuntu's ``fluid-soundfont-gm`` (FluidR3_GM,
by Frank Wen, MIT licence) is the one we test with. It is an input like the MIDI file: never an
output, and checked before FluidSynth sees it (a regular file whose RIFF chunks fit in it), since
a damaged one should cost the user one line, not a page of C-library chatter or the process.
FluidSynth's messages go to this module's log (``-v`` shows them); the first error among them is
the reason given when a SoundFont will not load.
"""
from __future__ import annotations

import collections
import contextlib
import ctypes
import io
import logging
import os
import struct
import sys
import tempfile
import threading
import wave
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import UsageError
from ..events import NoteEvent
from .inputs import open_input
from .outputs import atomic_write, check_output_path, one_line

SAMPLE_RATE = 44100
GAIN = 1.0                 # the synth's own gain: dense full-velocity chords stay below full scale
MAKEUP = 2.0               # then this much louder, with a soft knee above KNEE: a sparse piece
KNEE = 0.6                 # plays near -10 dBFS instead of -16, a dense one is not clipped hard
MAX_TAIL_S = 4.0           # a sustained piano note's release is over well before this
SILENT = 4                 # int16 peak under which the tail counts as over (-78 dBFS)
MAX_SECONDS = 2 * 3600     # a MIDI file longer than two hours is a mistake or an attack
MAX_CHUNKS = 256           # per RIFF list: a real SoundFont has about a dozen (INFO) or nine (pdta)
ENV_SOUNDFONT = "SYNESTHETE_SOUNDFONT"
# Where OS packages install a General MIDI SoundFont, best first.
SOUNDFONT_PLACES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",          # Debian/Ubuntu: fluid-soundfont-gm
    "/usr/share/soundfonts/FluidR3_GM.sf2",          # Fedora, Arch
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/opt/homebrew/share/soundfonts/default.sf2",    # macOS, Homebrew
    "/usr/local/share/soundfonts/default.sf2",
)


class AudioError(UsageError):
    """No SoundFont, no synthesizer library or no audio output: one line saying what to do."""


def find_soundfont(explicit: str | os.PathLike | None = None) -> Path:
    """The SoundFont to use: ``explicit``, else ``$SYNESTHETE_SOUNDFONT``, else the first of
    ``SOUNDFONT_PLACES`` that exists. Checked to be a SoundFont file (RIFF ``sfbk``)."""
    given = explicit or os.environ.get(ENV_SOUNDFONT)
    if given:
        return _check_soundfont(Path(given))
    for place in SOUNDFONT_PLACES:
        if Path(place).is_file():
            return _check_soundfont(Path(place))
    raise AudioError(f"no SoundFont found: pass --soundfont FILE.sf2 or set {ENV_SOUNDFONT} "
                     "(Debian/Ubuntu: apt install fluid-soundfont-gm)")


def _check_soundfont(p: Path) -> Path:
    label = one_line(p)
    with open_input(p, "a SoundFont", AudioError, missing="no such SoundFont file") as (fh, size):
        why = _riff_damage(fh, size)
    if why == "":
        raise AudioError(f"{label}: not a SoundFont (.sf2/.sf3) file")
    if why:
        raise AudioError(f"{label}: damaged SoundFont ({why})")
    return p


def _riff_damage(fh, size: int) -> str | None:
    """What is wrong with the chunk layout of a SoundFont file of ``size`` bytes: None when its
    RIFF ``sfbk`` holds the lists INFO, sdta and pdta in that order and every chunk fits in its
    list; "" when it is no SoundFont at all. Reads only chunk headers (at most ``MAX_CHUNKS`` a
    list), so a 140 MB SoundFont costs a few hundred bytes of reading."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        return ""
    # FluidSynth refuses any mismatch here too, but only as "file size mismatch".
    riff = struct.unpack("<I", head[4:8])[0] + 8
    if riff != size:
        return ("truncated: " if riff > size else "") + f"the file has {size} bytes, its header says {riff}"
    pos = 12
    for kind in (b"INFO", b"sdta", b"pdta"):
        fh.seek(pos)
        hdr = fh.read(12)
        if len(hdr) < 12 or hdr[:4] != b"LIST" or hdr[8:12] != kind:
            return f"no {kind.decode()} list where one belongs"
        end = pos + 8 + struct.unpack("<I", hdr[4:8])[0]
        if end > size or end < pos + 12:
            return f"the {kind.decode()} list runs past the end of the file"
        sub = pos + 12
        for _ in range(MAX_CHUNKS):
            if sub >= end:
                break
            fh.seek(sub)
            c = fh.read(8)
            if len(c) < 8 or sub + 8 > end:
                return f"a chunk header is cut off in the {kind.decode()} list"
            sub += 8 + struct.unpack("<I", c[4:8])[0]
            if sub > end:
                name = "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in c[:4])
                return f"the '{name}' chunk runs past the end of the {kind.decode()} list"
        else:
            if sub < end:
                return f"more than {MAX_CHUNKS} chunks in the {kind.decode()} list"
        pos = end
    return None


class Synth:
    """One FluidSynth instance with a SoundFont loaded, rendering on demand (no audio driver)."""

    def __init__(self, soundfont: str | os.PathLike | None = None, sample_rate: int = SAMPLE_RATE) -> None:
        self.soundfont = find_soundfont(soundfont)
        fluidsynth = _fluidsynth()
        self.sample_rate = int(sample_rate)
        self._fs = None
        try:
            with _LOADING:
                with _quiet_fds() as caught:
                    _HEARD.clear()
                    self._fs = fluidsynth.Synth(gain=GAIN, samplerate=float(self.sample_rate))
                    self._sfid = self._fs.sfload(str(self.soundfont))
                    if self._sfid >= 0:
                        for ch in range(16):
                            self._fs.program_select(ch, self._sfid, 128 if ch == 9 else 0, 0)
                for _, text in list(_HEARD):  # held back while the descriptors were redirected
                    log.info("fluidsynth: %s", text)
                why = _first_error("".join(caught)) if self._sfid < 0 else ""
        except BaseException:
            self.close()
            raise
        if self._sfid < 0:
            self.close()
            raise AudioError(f"{one_line(self.soundfont)}: FluidSynth cannot load this SoundFont" + (f" ({why})" if why else ""))

    def __enter__(self) -> "Synth":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._fs is not None:
            self._fs.delete()
            self._fs = None

    def send(self, msg) -> None:
        """Apply one mido channel message."""
        fs, t, ch = self._fs, msg.type, msg.channel
        if t == "note_on" and msg.velocity > 0:
            fs.noteon(ch, msg.note, msg.velocity)
        elif t in ("note_on", "note_off"):
            fs.noteoff(ch, msg.note)
        elif t == "control_change":
            fs.cc(ch, msg.control, msg.value)
        elif t == "program_change":
            fs.program_change(ch, msg.program)
        elif t == "pitchwheel":
            fs.pitch_bend(ch, msg.pitch)

    def samples(self, frames: int) -> np.ndarray:
        """The next ``frames`` frames as int16, shape (frames, 2)."""
        if frames <= 0:
            return np.zeros((0, 2), np.int16)
        return _limit(np.asarray(self._fs.get_samples(frames), np.int16).reshape(-1, 2))

    def render(self, events: Iterable[tuple[float, object]]) -> Iterator[np.ndarray]:
        """Blocks of int16 stereo frames for ``(seconds, mido message)`` events in time order,
        then the release tail until silence."""
        done = 0
        for seconds, msg in events:
            if seconds > MAX_SECONDS:
                raise AudioError(f"the music is longer than {MAX_SECONDS // 3600} hours; not rendering it")
            frame = int(round(seconds * self.sample_rate))
            while frame > done:  # long gaps in bounded blocks, so memory stays small
                n = min(frame - done, self.sample_rate * 10)
                yield self.samples(n)
                done += n
            self.send(msg)
        block = self.sample_rate // 20
        for _ in range(int(MAX_TAIL_S * 20)):
            chunk = self.samples(block)
            yield chunk
            if int(np.abs(chunk).max(initial=0)) < SILENT:
                break


def _limit(x: np.ndarray) -> np.ndarray:
    """``MAKEUP`` gain with a soft knee: linear up to ``KNEE`` of full scale, then a tanh curve
    that approaches full scale but never reaches it (no hard clipping)."""
    y = x.astype(np.float32) * (MAKEUP / 32768.0)
    a = np.abs(y)
    over = a > KNEE
    if over.any():
        y[over] = np.sign(y[over]) * (KNEE + (1.0 - KNEE) * np.tanh((a[over] - KNEE) / (1.0 - KNEE)))
    return np.round(y * 32767.0).astype(np.int16)


def _fluidsynth():
    # The binding prints where it found the library to stdout when $CI is set, which would
    # corrupt `--json` output; what it says is of no use to a user.
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth
    except (ImportError, OSError):
        raise AudioError("the FluidSynth library is not installed (Debian/Ubuntu: apt install libfluidsynth3; "
                         "macOS: brew install fluid-synth; Windows: put FluidSynth's bin folder on PATH)") from None
    _hear_fluidsynth(fluidsynth)
    return fluidsynth


log = logging.getLogger(__name__)
# FluidSynth's recent messages (level, text), for the reason a SoundFont will not load. Bounded:
# a damaged SoundFont can make it complain once per preset, and a render once per note.
_HEARD: collections.deque = collections.deque(maxlen=64)
_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_log_fn = None  # the one callback, kept alive as long as FluidSynth may call it
# One load at a time: two overlapping _quiet_fds would each put back what the other had
# redirected, leaving the process's stdout in a deleted temp file.
_LOADING = threading.Lock()
FLUID_ERR, FLUID_WARN = 1, 2  # fluid_log_level: PANIC 0, ERR 1, WARN 2, INFO 3, DBG 4


def _on_fluidsynth_log(level: int, message: bytes | None, _data) -> None:
    try:  # an exception here would be printed by ctypes, the very chatter this replaces
        text = (message or b"").decode("utf-8", "replace").strip()
        _HEARD.append((level, text))
        if not _LOADING.locked():  # during a load stderr is the temp file; Synth logs them after
            log.info("fluidsynth: %s", text)
    except Exception:
        pass


def _hear_fluidsynth(fluidsynth) -> None:
    """Send FluidSynth's log (by default printed on stderr, even for a SoundFont that works)
    to ``_on_fluidsynth_log``; once per process, for every level."""
    global _log_fn
    lib = getattr(fluidsynth, "_fl", None)
    set_log = getattr(lib, "fluid_set_log_function", None)
    if _log_fn is not None or set_log is None:
        return  # without it, _quiet_fds still keeps a SoundFont's loading off the terminal
    set_log.argtypes, set_log.restype = [ctypes.c_int, _LOG_FN, ctypes.c_void_p], ctypes.c_void_p
    _log_fn = _LOG_FN(_on_fluidsynth_log)
    for level in range(5):
        set_log(level, _log_fn, None)


@contextlib.contextmanager
def _quiet_fds():
    """File descriptors 1 and 2 into a temp file while FluidSynth loads a SoundFont: what the
    libraries under it (GLib, libinstpatch's DLS loader, which FluidSynth tries when its own
    loader fails) print goes straight there, past any Python redirection and FluidSynth's log.
    Held only for the load; what it caught goes to the log. Yields a list that then holds it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    with tempfile.TemporaryFile() as sink:
        saved = {}
        for fd in (1, 2):
            try:
                saved[fd] = os.dup(fd)
                os.dup2(sink.fileno(), fd)
            except OSError:  # closed (a daemon): nothing to protect
                pass
        caught: list[str] = []
        try:
            yield caught
        finally:
            _flush_c_stdio()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            caught.append(sink.read(4096).decode("utf-8", "replace").strip())
            if caught[0]:
                log.info("while loading the SoundFont: %s", caught[0])


def _flush_c_stdio() -> None:
    # C stdout is block-buffered on a pipe: flushed after the descriptors are put back, what a
    # library printf'ed during the load would reach the user (or `--json`) after all.
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):
        pass


def _first_error(caught: str) -> str:
    """The first error FluidSynth gave (else its first warning: a version it does not know is
    only that), less the lines that only say loading failed or that the DLS loader (tried after
    the SoundFont loader) does not read SoundFonts."""
    heard = list(_HEARD)
    lines = [t for level, t in heard if level <= FLUID_ERR] + [t for level, t in heard if level == FLUID_WARN]
    if not lines:  # no log callback: read what reached the descriptors
        lines = [ln.split("error:", 1)[1].strip() for ln in caught.splitlines() if "fluidsynth: error:" in ln]
    for t in lines:
        if t and not t.startswith("Failed to load SoundFont") and "ipatch" not in t and "DLS" not in t:
            return t if t.isprintable() else repr(t)
    return ""


def note_events(notes: Iterable[NoteEvent], tempo: float, program: int = 0) -> list[tuple[float, object]]:
    """Notes in beats → timed mido messages at ``tempo`` (note-offs before note-ons at one instant,
    so a repeated note sounds again)."""
    import mido

    spb = 60.0 / float(tempo)
    timed = []
    for n in notes:
        timed.append((n.start * spb, 1, mido.Message("note_on", channel=n.channel, note=n.pitch, velocity=n.velocity)))
        timed.append((n.end * spb, 0, mido.Message("note_off", channel=n.channel, note=n.pitch)))
    timed.sort(key=lambda e: (e[0], e[1]))
    channels = sorted({m.channel for _, _, m in timed}) or [0]
    head = [(0.0, mido.Message("program_change", channel=ch, program=program)) for ch in channels]
    return head + [(t, m) for t, _, m in timed]


def render_notes(notes: Iterable[NoteEvent], tempo: float, soundfont=None, program: int = 0) -> np.ndarray:
    """A piece's notes as int16 stereo frames at ``SAMPLE_RATE`` (for Preview)."""
    with Synth(soundfont) as synth:
        return np.concatenate(list(synth.render(note_events(notes, tempo, program))))


def render_midi(midi: str | os.PathLike, out: str | os.PathLike, soundfont=None) -> tuple[Path, float]:
    """Render a MIDI file to a 16-bit 44.1 kHz stereo WAV, atomically; returns (path, seconds).
    Raises ``MidiError`` for a broken file, ``AudioError`` for a missing SoundFont or synth."""
    from .midi_io import read_messages

    soundfont = find_soundfont(soundfont)
    target = check_output_path(out, inputs=[midi, soundfont])
    events = read_messages(midi)
    # The events are all known here: refusing now costs nothing, refusing in Synth.render
    # would cost MAX_SECONDS of rendering and a temp WAV that size first.
    if max((t for t, _ in events), default=0.0) > MAX_SECONDS:
        raise AudioError(f"the music is longer than {MAX_SECONDS // 3600} hours; not rendering it")
    with Synth(soundfont) as synth:
        path, frames = write_wav(synth.render(events), target, synth.sample_rate)
    return path, frames / synth.sample_rate


def write_wav(blocks: Iterable[np.ndarray], path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> tuple[Path, int]:
    """Stream int16 stereo blocks into a WAV file, atomically; returns (path, frames written)."""
    frames = [0]

    def write(fh) -> None:
        with wave.open(fh, "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            for b in blocks:
                w.writeframes(np.ascontiguousarray(b, "<i2").tobytes())
                frames[0] += len(b)

    return atomic_write(Path(path), write).resolve(), frames[0]
