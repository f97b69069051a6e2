"""Reading MIDI files into notes, and writing notes to a Type 1 ``.mid`` (mido does the bytes).

Reading gives each note both in beats (ticks / ticks_per_beat, as sequenced) and in seconds
(through the file's tempo map), because performances need the seconds and sequenced pieces
the beats.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import mido

from .events import BEATS_PER_BAR, MAX_TEMPO, MIN_TEMPO, NoteEvent
from .outputs import atomic_write, check_output_path

MAX_MIDI_BYTES = 16 * 1024 * 1024  # a piano MIDI file is KBs; bigger is junk or an attack
MAX_NOTES = 200_000


class MidiError(ValueError):
    """A MIDI file that cannot be read as music (message is one line, for users)."""


@dataclass(frozen=True)
class TimedNote:
    pitch: int
    velocity: int
    start_beat: float
    end_beat: float
    start_s: float
    end_s: float


@dataclass
class MidiPiece:
    notes: list[TimedNote]
    ticks_per_beat: int
    tempos: list[tuple[float, float]]  # (beat, bpm)
    time_signatures: list[tuple[float, int, int]]

    @property
    def duration_s(self) -> float:
        return max((n.end_s for n in self.notes), default=0.0)


def read_midi(path: str | os.PathLike) -> MidiPiece:
    """Read a MIDI file's notes (all tracks, drums on channel 10 dropped).

    Raises MidiError with a one-line reason for missing, huge, corrupt, Type 2 or note-less files.
    """
    p = Path(path)
    mf = _open_midi(p)
    tpb = mf.ticks_per_beat
    tempo = 500000
    tempos = [(0.0, 120.0)]
    sigs: list[tuple[float, int, int]] = []
    seconds = 0.0
    last_tick = 0
    open_notes: dict[tuple[int, int], list[tuple[int, float, int]]] = {}
    notes: list[TimedNote] = []
    for tick, msg in _merged_events(mf):
        seconds += mido.tick2second(tick - last_tick, tpb, tempo)
        last_tick = tick
        if msg.type == "set_tempo":
            tempo = msg.tempo
            tempos.append((tick / tpb, mido.tempo2bpm(tempo)))
        elif msg.type == "time_signature":
            sigs.append((tick / tpb, msg.numerator, msg.denominator))
        elif msg.type in ("note_on", "note_off") and msg.channel != 9:
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault(key, []).append((tick, seconds, msg.velocity))
            elif open_notes.get(key):
                t0, s0, vel = open_notes[key].pop(0)
                if tick > t0:
                    notes.append(TimedNote(msg.note, vel, t0 / tpb, tick / tpb, s0, seconds))
                if len(notes) > MAX_NOTES:
                    raise MidiError(f"{p}: more than {MAX_NOTES} notes")
    # Notes never switched off end at the file's last event.
    for key, stack in open_notes.items():
        for t0, s0, vel in stack:
            if last_tick > t0:
                notes.append(TimedNote(key[1], vel, t0 / tpb, last_tick / tpb, s0, seconds))
    if not notes:
        raise MidiError(f"{p}: contains no notes")
    notes.sort(key=lambda n: (n.start_beat, n.pitch))
    if len(tempos) > 1 and tempos[1][0] == 0.0:
        tempos = tempos[1:]
    return MidiPiece(notes, tpb, tempos, sigs)


PLAYED_TYPES = frozenset({"note_on", "note_off", "control_change", "program_change", "pitchwheel",
                          "aftertouch", "polytouch"})


def read_messages(path: str | os.PathLike) -> list[tuple[float, mido.Message]]:
    """Every channel message that makes sound, on every channel (drums included), with its time
    in seconds through the file's tempo map: what a synthesizer needs to play the file.

    Raises MidiError like ``read_midi``, and for a file with no notes."""
    p = Path(path)
    mf = _open_midi(p)
    tempo, seconds, last_tick, out = 500000, 0.0, 0, []
    for tick, msg in _merged_events(mf):
        seconds += mido.tick2second(tick - last_tick, mf.ticks_per_beat, tempo)
        last_tick = tick
        if msg.type == "set_tempo":
            tempo = msg.tempo
        elif msg.type in PLAYED_TYPES:
            out.append((seconds, msg))
            if len(out) > 4 * MAX_NOTES:
                raise MidiError(f"{p}: more than {4 * MAX_NOTES} messages")
    if not any(m.type == "note_on" and m.velocity > 0 for _, m in out):
        raise MidiError(f"{p}: contains no notes")
    return out


def _open_midi(p: Path) -> mido.MidiFile:
    """The parsed file, or MidiError for anything that is not a readable Type 0/1 MIDI file."""
    if not p.exists():
        raise MidiError(f"{p}: no such file")
    if p.is_dir():
        raise MidiError(f"{p}: is a directory, not a MIDI file")
    size = p.stat().st_size
    if size == 0:
        raise MidiError(f"{p}: empty file")
    if size > MAX_MIDI_BYTES:
        raise MidiError(f"{p}: {size} bytes is too large for a MIDI file (limit {MAX_MIDI_BYTES})")
    try:
        mf = mido.MidiFile(str(p), clip=True)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as e:
        raise MidiError(f"{p}: not a readable MIDI file ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt data'})") from None
    if mf.type == 2:
        raise MidiError(f"{p}: Type 2 MIDI files (independent sequences) are not supported")
    mf.ticks_per_beat = mf.ticks_per_beat or 480
    if mf.ticks_per_beat <= 0:
        raise MidiError(f"{p}: SMPTE time division is not supported")
    return mf


def _merged_events(mf: mido.MidiFile) -> list[tuple[int, object]]:
    """Every track's messages on absolute ticks, in file order within a tick, so tempo changes
    apply to every track (Type 1)."""
    events: list[tuple[int, int, object]] = []
    for ti, track in enumerate(mf.tracks):
        t = 0
        for i, msg in enumerate(track):
            t += msg.time
            events.append((t, ti * 10_000_000 + i, msg))
    events.sort(key=lambda e: (e[0], e[1]))
    return [(t, msg) for t, _, msg in events]


def write_midi(
    notes: Iterable[NoteEvent],
    path: str | os.PathLike,
    *,
    tempo: float = 120.0,
    key: str | None = None,
    program: int = 0,
    settings: dict | None = None,
    ticks_per_beat: int = 480,
    bars: int | None = None,
) -> Path:
    """Write notes as a Type 1 file: a meta track (tempo, 4/4, key, settings) and one piano track.

    The file appears atomically (written beside the target, then renamed), so a failure
    never leaves a partial ``.mid`` behind; it gets the umask's usual mode, or keeps the mode
    of the file it replaces. A place that must not or cannot take it (a directory, FIFO or
    device, a missing or read-only directory, a name too long) raises ``OutputError``.
    ``settings`` is stored as a JSON text event so the result can be regenerated. ``key`` is a
    mido key name such as ``"C"`` or ``"Am"``.
    """
    out = check_output_path(path)
    if not (MIN_TEMPO <= tempo <= MAX_TEMPO):
        raise ValueError(f"tempo must be in {MIN_TEMPO:g}..{MAX_TEMPO:g} BPM (received {tempo})")
    mf = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("track_name", name="Synesthete", time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    if key:
        meta.append(mido.MetaMessage("key_signature", key=key, time=0))
    if settings:
        meta.append(mido.MetaMessage("text", text="synesthete " + json.dumps(settings, sort_keys=True), time=0))
    piano = mido.MidiTrack()
    piano.append(mido.MetaMessage("track_name", name="Piano", time=0))
    piano.append(mido.Message("program_change", program=program, channel=0, time=0))
    msgs: list[tuple[int, int, mido.Message]] = []
    for n in notes:
        on = int(round(n.start * ticks_per_beat))
        off = max(on + 1, int(round(n.end * ticks_per_beat)))
        # note-offs sort before note-ons at the same tick, so repeated notes re-trigger
        msgs.append((on, 1, mido.Message("note_on", note=int(n.pitch), velocity=int(n.velocity), channel=n.channel)))
        msgs.append((off, 0, mido.Message("note_off", note=int(n.pitch), velocity=0, channel=n.channel)))
    msgs.sort(key=lambda m: (m[0], m[1]))
    now = 0
    for tick, _, msg in msgs:
        piano.append(msg.copy(time=tick - now))
        now = tick
    end_tick = now
    if bars:
        end_tick = max(end_tick, bars * BEATS_PER_BAR * ticks_per_beat)
    piano.append(mido.MetaMessage("end_of_track", time=end_tick - now))
    meta.append(mido.MetaMessage("end_of_track", time=end_tick))
    mf.tracks += [meta, piano]
    atomic_write(out, lambda fh: mf.save(file=fh))
    return out.resolve()
