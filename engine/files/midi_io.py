"""Reading MIDI files into notes, and writing notes to a Type 1 ``.mid`` (mido does the bytes).

Reading gives each note both in beats (ticks / ticks_per_beat, as sequenced) and in seconds
(through the file's tempo map), because performances need the seconds and sequenced pieces
the beats.
"""
from __future__ import annotations

import heapq
import json
import os
import struct
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import mido

from ..events import BEATS_PER_BAR, MAX_TEMPO, MIN_TEMPO, NoteEvent
from .inputs import open_input
from .outputs import atomic_write, check_output_path, one_line

MAX_MIDI_BYTES = 16 * 1024 * 1024  # a piano MIDI file is KBs; bigger is junk or an attack
# Counted while the bytes are parsed, before anything is kept, so memory and time are bounded by
# these and never by a number written inside the file. A 20-minute performance with its pedal
# holds ~50k events; a flood of 3-byte events in 16 MB would be 5 million.
MAX_EVENTS = 500_000   # events of every kind in every track
MAX_NOTES = 200_000    # note-ons, counted as they start: a note never ended counts too
_SET_TEMPO, _TIME_SIGNATURE = 0x151, 0x158  # the meta events kept beside channel messages (0x80..0xEF)
# data bytes after a status byte: channel messages by their high nibble, system common by status
_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2,
               0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}


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

    Raises MidiError with a one-line reason for missing, huge, corrupt, Type 2 or note-less files,
    and for files past ``MAX_EVENTS`` events or ``MAX_NOTES`` notes.
    """
    p = Path(path)
    tpb, events = _read_events(p)
    clock = _Clock(tpb)
    tempos = [(0.0, 120.0)]
    sigs: list[tuple[float, int, int]] = []
    last_tick = 0
    open_notes: dict[tuple[int, int], deque[tuple[int, float, int]]] = {}
    notes: list[TimedNote] = []
    for tick, kind, a, b in events:
        seconds = clock.seconds(tick)
        last_tick = tick
        if kind == _SET_TEMPO:
            clock.set_tempo(tick, a)
            tempos.append((tick / tpb, mido.tempo2bpm(a)))
        elif kind == _TIME_SIGNATURE:
            sigs.append((tick / tpb, a, b))
        elif kind < 0xA0 and kind & 0x0F != 9:
            key = (kind & 0x0F, a)
            if kind >= 0x90 and b > 0:
                open_notes.setdefault(key, deque()).append((tick, seconds, b))
            elif open_notes.get(key):
                t0, s0, vel = open_notes[key].popleft()
                if tick > t0:
                    notes.append(TimedNote(a, vel, t0 / tpb, tick / tpb, s0, seconds))
    # Notes never switched off end at the file's last event.
    for key, stack in open_notes.items():
        for t0, s0, vel in stack:
            if last_tick > t0:
                notes.append(TimedNote(key[1], vel, t0 / tpb, last_tick / tpb, s0, clock.seconds(last_tick)))
    if not notes:
        raise MidiError(f"{one_line(p)}: contains no notes")
    notes.sort(key=lambda n: (n.start_beat, n.pitch))
    if len(tempos) > 1 and tempos[1][0] == 0.0:
        tempos = tempos[1:]
    return MidiPiece(notes, tpb, tempos, sigs)


PLAYED_TYPES = frozenset({"note_on", "note_off", "control_change", "program_change", "pitchwheel",
                          "aftertouch", "polytouch"})


SETTINGS_TEXT = "synesthete "  # the text event that stores a piece's settings: this, then their JSON


def stored_settings(path: str | os.PathLike) -> dict:
    """The settings a Synesthete ``.mid`` stores (its ``synesthete {...}`` text event, ``write_midi``'s
    ``settings``); {} for any other file or an unreadable event. The file is read by ``read_midi``
    first, so it is bounded before mido sees it."""
    read_midi(path)
    try:
        mf = mido.MidiFile(os.fspath(path))
    except (OSError, ValueError, EOFError, KeyError, IndexError):
        return {}
    for track in mf.tracks[:1]:
        for msg in track:
            if msg.type == "text" and msg.text.startswith(SETTINGS_TEXT):
                try:
                    found = json.loads(msg.text[len(SETTINGS_TEXT):])
                except ValueError:
                    return {}
                return found if isinstance(found, dict) else {}
    return {}


def read_messages(path: str | os.PathLike) -> list[tuple[float, mido.Message]]:
    """Every channel message that makes sound, on every channel (drums included), with its time
    in seconds through the file's tempo map: what a synthesizer needs to play the file.

    Raises MidiError like ``read_midi``, and for a file with no notes."""
    p = Path(path)
    tpb, events = _read_events(p)
    clock, out, any_note = _Clock(tpb), [], False
    for tick, kind, a, b in events:
        if kind == _SET_TEMPO:
            clock.set_tempo(tick, a)
        elif kind < 0xF0:
            any_note = any_note or (kind & 0xF0 == 0x90 and b > 0)
            out.append((clock.seconds(tick), mido.Message.from_bytes((kind, a) if kind & 0xF0 in (0xC0, 0xD0) else (kind, a, b))))
    if not any_note:
        raise MidiError(f"{one_line(p)}: contains no notes")
    return out


class _Clock:
    """Ticks → seconds through a tempo map met in time order: each time from the last tempo
    change (not a running sum of deltas), so no rounding accumulates over a long file."""

    def __init__(self, ticks_per_beat: int) -> None:
        self.tpb, self.tempo, self.tick0, self.s0 = ticks_per_beat, 500000, 0, 0.0

    def seconds(self, tick: int) -> float:
        return self.s0 + mido.tick2second(tick - self.tick0, self.tpb, self.tempo)

    def set_tempo(self, tick: int, tempo: int) -> None:
        self.s0, self.tick0, self.tempo = self.seconds(tick), tick, tempo


def _read_events(p: Path) -> tuple[int, list[tuple[int, int, int, int]]]:
    """The file's ticks per beat and its channel messages, tempo changes and time signatures as
    ``(tick, kind, a, b)`` in time order, every track merged (file order within a tick, so tempo
    changes apply to every track of a Type 1 file). ``kind`` is the status byte of a channel
    message (``a``, ``b`` its data bytes), or ``_SET_TEMPO`` (``a`` = µs per beat) or
    ``_TIME_SIGNATURE`` (``a``/``b``).

    The bytes are read as mido reads them (running status, data bytes above 127 clipped), but
    counted as they are parsed: nothing is kept for the events skipped (SysEx, other meta
    events), and the reading stops at ``MAX_EVENTS`` events or ``MAX_NOTES`` note-ons. A tempo
    of 0 µs per beat, which no clock can play, is skipped (the tempo before it holds)."""
    label = one_line(p)
    data = _file_bytes(p, label)
    if data[:4] != b"MThd" or len(data) < 14:
        raise MidiError(f"{label}: not a readable MIDI file (no MIDI header)")
    size = int.from_bytes(data[4:8], "big")
    if size < 6 or 8 + size > len(data):
        raise MidiError(f"{label}: not a readable MIDI file (truncated header)")
    kind, ntracks, division = struct.unpack(">HHh", data[8:14])
    if kind == 2:
        raise MidiError(f"{label}: Type 2 MIDI files (independent sequences) are not supported")
    if division < 0:
        raise MidiError(f"{label}: SMPTE time division is not supported")
    tpb = division or 480
    pos, budget, tracks = 8 + size, [MAX_EVENTS, MAX_NOTES], []
    for _ in range(ntracks):
        if pos + 8 > len(data) or data[pos:pos + 4] != b"MTrk":
            raise MidiError(f"{label}: not a readable MIDI file (track {len(tracks) + 1} of {ntracks} is missing)")
        length = int.from_bytes(data[pos + 4:pos + 8], "big")
        start, pos = pos + 8, pos + 8 + length
        if pos > len(data):
            raise MidiError(f"{label}: not a readable MIDI file (track {len(tracks) + 1} is truncated)")
        tracks.append(_track_events(data, start, pos, budget, label))
    return tpb, list(heapq.merge(*tracks, key=lambda e: e[0]))


def _track_events(data: bytes, pos: int, end: int, budget: list[int], label: str) -> list[tuple[int, int, int, int]]:
    """One track chunk's kept events; ``budget`` holds the events and note-ons still allowed."""
    out: list[tuple[int, int, int, int]] = []
    tick, status = 0, None
    try:
        while pos < end:
            budget[0] -= 1
            if budget[0] < 0:
                raise MidiError(f"{label}: more than {MAX_EVENTS} MIDI events (limit)")
            byte = data[pos]
            delta = byte & 0x7F
            pos += 1
            while byte & 0x80:
                byte = data[pos]
                delta = (delta << 7) | (byte & 0x7F)
                pos += 1
            tick += delta
            byte = data[pos]
            if byte < 0x80:  # running status: this is the first data byte
                if status is None:
                    raise MidiError(f"{label}: not a readable MIDI file (running status without a status byte)")
            else:
                pos += 1
                if byte != 0xFF:  # meta events do not set running status (as mido reads them)
                    status = byte
                if byte in (0xFF, 0xF0, 0xF7):
                    meta = data[pos] if byte == 0xFF else None
                    pos += byte == 0xFF
                    length = data[pos] & 0x7F
                    while data[pos] & 0x80:
                        pos += 1
                        length = (length << 7) | (data[pos] & 0x7F)
                    pos += 1
                    if pos + length > end:
                        raise IndexError
                    if meta == 0x51:
                        if length < 3:
                            raise MidiError(f"{label}: not a readable MIDI file (a tempo event of {length} bytes)")
                        us = int.from_bytes(data[pos:pos + 3], "big")
                        if us > 0:
                            out.append((tick, _SET_TEMPO, us, 0))
                    elif meta == 0x58:
                        if length < 4:
                            raise MidiError(f"{label}: not a readable MIDI file (a time signature of {length} bytes)")
                        out.append((tick, _TIME_SIGNATURE, data[pos], 2 ** data[pos + 1]))
                    pos += length
                    continue
                status = byte
            n = _DATA_BYTES.get(status & 0xF0 if status < 0xF0 else status)
            if n is None:
                raise MidiError(f"{label}: not a readable MIDI file (undefined status byte 0x{status:02x})")
            if pos + n > end:
                raise IndexError
            a = min(data[pos], 127) if n else 0
            b = min(data[pos + 1], 127) if n == 2 else 0
            pos += n
            if status < 0xF0:
                if status & 0xF0 == 0x90 and b > 0:
                    budget[1] -= 1
                    if budget[1] < 0:
                        raise MidiError(f"{label}: more than {MAX_NOTES} notes (limit)")
                out.append((tick, status, a, b))
    except IndexError:
        raise MidiError(f"{label}: not a readable MIDI file (an event runs past the end of its track)") from None
    return out


def _file_bytes(p: Path, label: str) -> bytes:
    """The file's bytes, after checking it is a regular file of a sane size."""
    with open_input(p, "a MIDI file", MidiError) as (fh, size):
        if size == 0:
            raise MidiError(f"{label}: empty file")
        if size > MAX_MIDI_BYTES:
            raise MidiError(f"{label}: {size} bytes is too large for a MIDI file (limit {MAX_MIDI_BYTES})")
        return fh.read(MAX_MIDI_BYTES + 1)


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
    markers: Iterable[tuple[float, str]] = (),
) -> Path:
    """Write notes as a Type 1 file: a meta track (tempo, 4/4, key, settings) and one piano track.

    The file appears atomically (written beside the target, then renamed), so a failure
    never leaves a partial ``.mid`` behind; it gets the umask's usual mode, or keeps the mode
    of the file it replaces. A place that must not or cannot take it (a directory, FIFO or
    device, a missing or read-only directory, a name too long) raises ``OutputError``.
    ``settings`` is stored as a JSON text event so the result can be regenerated. ``key`` is a
    mido key name such as ``"C"`` or ``"Am"``. ``markers``: (beat, text) marker events on the meta
    track, which DAWs show over the timeline (a progression's chords).
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
        meta.append(mido.MetaMessage("text", text=SETTINGS_TEXT + json.dumps(settings, sort_keys=True), time=0))
    meta_at = 0
    for beat, text in sorted(markers, key=lambda m: m[0]):
        tick = int(round(beat * ticks_per_beat))
        meta.append(mido.MetaMessage("marker", text=str(text), time=tick - meta_at))
        meta_at = tick
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
    meta.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - meta_at)))
    mf.tracks += [meta, piano]
    atomic_write(out, lambda fh: mf.save(file=fh))
    return out.resolve()
