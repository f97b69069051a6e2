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
by Frank Wen, MIT licence) is the one we test with.
"""
from __future__ import annotations

import contextlib
import io
import os
import wave
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .errors import UsageError
from .events import NoteEvent
from .outputs import atomic_write, check_output_path, one_line

SAMPLE_RATE = 44100
GAIN = 1.0                 # the synth's own gain: dense full-velocity chords stay below full scale
MAKEUP = 2.0               # then this much louder, with a soft knee above KNEE: a sparse piece
KNEE = 0.6                 # plays near -10 dBFS instead of -16, a dense one is not clipped hard
MAX_TAIL_S = 4.0           # a sustained piano note's release is over well before this
SILENT = 4                 # int16 peak under which the tail counts as over (-78 dBFS)
MAX_SECONDS = 2 * 3600     # a MIDI file longer than two hours is a mistake or an attack
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
    if not p.is_file():
        raise AudioError(f"{one_line(p)}: no such SoundFont file")
    with open(p, "rb") as fh:
        head = fh.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise AudioError(f"{one_line(p)}: not a SoundFont (.sf2/.sf3) file")
    return p


class Synth:
    """One FluidSynth instance with a SoundFont loaded, rendering on demand (no audio driver)."""

    def __init__(self, soundfont: str | os.PathLike | None = None, sample_rate: int = SAMPLE_RATE) -> None:
        self.soundfont = find_soundfont(soundfont)
        fluidsynth = _fluidsynth()
        self.sample_rate = int(sample_rate)
        self._fs = fluidsynth.Synth(gain=GAIN, samplerate=float(self.sample_rate))
        self._sfid = self._fs.sfload(str(self.soundfont))
        if self._sfid < 0:
            self._fs.delete()
            raise AudioError(f"{one_line(self.soundfont)}: FluidSynth cannot load this SoundFont")
        for ch in range(16):
            self._fs.program_select(ch, self._sfid, 128 if ch == 9 else 0, 0)

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
    return fluidsynth


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

    target = check_output_path(out, inputs=[midi])
    events = read_messages(midi)
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
