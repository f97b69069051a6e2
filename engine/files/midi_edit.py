"""Replacing the notes of a span of bars in a MIDI file, leaving everything else as it was.

Public names: ``splice_notes``.

``generate --revise PIECE.mid --change 5-6`` writes the user's own file back with new notes in
bars 5–6: every other note keeps its track, channel, tick and velocity, and every other event
(tempo map, pedal, program changes, markers, track names) stays where it was. The file is read
by ``engine.files.midi_io.read_midi`` first — which bounds its size and its events — and only
then handed to mido, so the edit never costs more than the reader allows.
"""
from __future__ import annotations

import os
from collections import Counter, defaultdict, deque
from pathlib import Path
from typing import Sequence

import mido

from ..events import NoteEvent
from .midi_io import MidiError, read_midi
from .outputs import atomic_write, check_output_path, one_line


def _absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    now, out = 0, []
    for msg in track:
        now += msg.time
        out.append((now, msg))
    return out


def _is_on(msg) -> bool:
    return msg.type == "note_on" and msg.velocity > 0


def _is_off(msg) -> bool:
    return msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0)


def _dropped(events: list[tuple[int, mido.Message]], lo: int, hi: int) -> set[int]:
    """Indexes of the note-on and note-off events of the notes starting in [lo, hi), a note's off
    found first-on first-off per channel and key, as ``read_midi`` pairs them."""
    open_: dict[tuple[int, int], deque] = defaultdict(deque)
    drop: set[int] = set()
    for i, (tick, msg) in enumerate(events):
        if _is_on(msg):
            open_[(msg.channel, msg.note)].append((i, lo <= tick < hi))
        elif _is_off(msg) and open_[(msg.channel, msg.note)]:
            j, inside = open_[(msg.channel, msg.note)].popleft()
            if inside:
                drop.update((i, j))
    for starts in open_.values():  # never ended: dropped if it starts inside
        drop.update(j for j, inside in starts if inside)
    return drop


def splice_notes(src: str | os.PathLike, out: str | os.PathLike, lo_beat: float, hi_beat: float,
                 notes: Sequence[NoteEvent], inputs: Sequence = ()) -> Path:
    """Write ``src`` to ``out`` with the notes that start in [``lo_beat``, ``hi_beat``) replaced by
    ``notes`` (beats from the file's start). The new notes go into the track, and onto the
    channel, that holds most of the file's notes. ``out`` is written atomically and must not be
    ``src`` or any of ``inputs`` (``OutputError``)."""
    target = check_output_path(out, inputs=[src, *inputs])
    read_midi(src)  # bounds and sanity first: a file mido would choke on or that costs too much says so here
    try:
        mf = mido.MidiFile(os.fspath(src))
    except (OSError, ValueError, EOFError, KeyError, IndexError) as e:
        raise MidiError(f"{one_line(src)}: cannot be edited ({one_line(e)})") from None
    tpb = mf.ticks_per_beat
    lo, hi = int(round(lo_beat * tpb)), int(round(hi_beat * tpb))
    tracks = [_absolute(t) for t in mf.tracks]
    counts = [sum(_is_on(m) for _, m in t) for t in tracks]
    home = max(range(len(tracks)), key=lambda k: counts[k]) if tracks else 0
    channels = Counter(m.channel for _, m in tracks[home] if _is_on(m)) if tracks else Counter()
    channel = channels.most_common(1)[0][0] if channels else 0
    edited = mido.MidiFile(type=mf.type, ticks_per_beat=tpb, charset=mf.charset)
    for k, events in enumerate(tracks):
        drop = _dropped(events, lo, hi)
        rows = [(tick, 1, i, msg) for i, (tick, msg) in enumerate(events) if i not in drop and msg.type != "end_of_track"]
        end = max((tick for tick, msg in events if msg.type == "end_of_track"), default=0)
        if k == home:
            for j, n in enumerate(sorted(notes, key=lambda n: (n.start, n.pitch))):
                on = int(round(n.start * tpb))
                off = max(on + 1, int(round(n.end * tpb)))
                # offs before the kept events at a tick and ons after them, so a note ending where a
                # kept one of the same key begins never cuts it short
                rows.append((on, 2, j, mido.Message("note_on", note=int(n.pitch), velocity=int(n.velocity), channel=channel)))
                rows.append((off, 0, j, mido.Message("note_off", note=int(n.pitch), velocity=0, channel=channel)))
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        track, now = mido.MidiTrack(), 0
        for tick, _, _, msg in rows:
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=max(end, now) - now))
        edited.tracks.append(track)
    atomic_write(target, lambda fh: edited.save(file=fh))
    return target.resolve()
