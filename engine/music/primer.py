"""The musician's phrase as the start of a piece: ``generate --prime PHRASE.mid`` and ``stream --listen``.

Public names: ``Primer``, ``primer_from_midi``, ``primer_from_notes``, ``PrimerError``.

A primer is read like training data: its key estimated (Krumhansl–Schmuckler), moved to C
major / A minor, quantized to the 16th grid and tokenized; the model is fed those tokens and
continues. Its key and tempo become the piece's unless the user gives them, and 4/4 is the
only meter the model writes, so a primer in another meter is refused with a clear line. A long
primer keeps its last bars that fit half the model's window (the other half is for the answer),
and a bar too dense for the sampler's per-bar guard keeps its longest notes.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

from ..errors import UsageError
from ..events import BEATS_PER_BAR, MAX_TEMPO, MIN_TEMPO, NoteEvent
from ..generation.tokens import encode, notes_to_grid
from .keys import AUTO_NAMES, Key, estimate_key, shift_to_reference

MAX_BAR_TOKENS = 150      # the sampler closes a bar after 160 tokens; a primer bar stays under
MIN_NOTES = 2
# a phrase to continue, not a song to sit through: 1024 bars is over an hour at 60 BPM. Longer is a
# file whose notes are far apart by accident or by design, and would cost its length in work
MAX_BARS = 1024


class PrimerError(UsageError):
    """A primer that cannot be continued (one line; exit 2)."""


@dataclass(frozen=True)
class Primer:
    """A phrase to continue: its notes in beats from its first bar line, its length in whole bars,
    its estimated key, and its tempo (None when it has none of its own)."""

    notes: tuple[NoteEvent, ...]
    bars: int
    key: Key
    tempo: float | None = None
    name: str | None = None

    @property
    def beats(self) -> float:
        return float(self.bars * BEATS_PER_BAR)

    def settle(self, settings):
        """``settings`` with the primer's key and tempo where the user left them automatic."""
        return replace(settings, key=self.key.name if settings.key == "auto" else settings.key,
                       tempo=settings.tempo if settings.tempo is not None or self.tempo is None else self.tempo)

    def tokens(self, mode: str, window: int) -> tuple[int, ...]:
        """The primer's tokens after ``BOS Mode`` — whole bars, in the reference key — keeping its
        last bars within half of ``window`` tokens. The work is proportional to the bars kept and
        their notes, never to the phrase's length: bars are read from the last one back, each
        bar's notes found by one pass over the phrase."""
        shift = shift_to_reference(self.key.tonic, self.key.mode)
        by_bar: dict[int, list[NoteEvent]] = {}
        for n in self.notes:
            by_bar.setdefault(int(n.start // BEATS_PER_BAR), []).append(
                NoteEvent(n.pitch + shift, n.velocity, n.start, n.duration))
        kept: list[list[int]] = []
        used = 0
        for b in range(self.bars - 1, -1, -1):
            toks = _bar_tokens(by_bar.get(b, []), b, mode)
            if kept and used + len(toks) > window // 2:
                break
            kept.insert(0, toks)
            used += len(toks)
        return tuple(t for toks in kept for t in toks)


def _bar_tokens(notes: list[NoteEvent], bar: int, mode: str) -> list[int]:
    """One bar's tokens (``Bar`` first), thinned to its longest notes if it is too dense."""
    # every note costs at least one token, so no more than MAX_BAR_TOKENS notes can fit: a flood
    # of notes in one bar is cut to those before any encoding
    notes = sorted(notes, key=lambda n: -n.duration)[:MAX_BAR_TOKENS]
    while True:
        local = [NoteEvent(n.pitch, n.velocity, n.start - bar * BEATS_PER_BAR, n.duration) for n in notes]
        toks = encode(notes_to_grid(local), mode, add_eos=False)[2:]  # drop BOS Mode
        if len(toks) <= MAX_BAR_TOKENS:
            return toks
        notes = notes[: int(len(notes) * 0.8)]


def primer_from_notes(notes, tempo: float | None = None, name: str | None = None) -> Primer:
    """Notes in beats (the first bar line at beat 0) → a ``Primer``. Whole bars of silence before
    the first note are dropped (a clip exported from bar 97 of a song starts at its own first bar).
    Raises ``PrimerError`` for too few notes or a phrase longer than ``MAX_BARS`` bars."""
    notes = tuple(n for n in notes if n.duration > 0)
    label = name or "the primer"
    if len(notes) < MIN_NOTES:
        raise PrimerError(f"{label}: needs at least {MIN_NOTES} notes to continue")
    lead = int(min(n.start for n in notes) // BEATS_PER_BAR) * BEATS_PER_BAR
    if lead:
        notes = tuple(NoteEvent(n.pitch, n.velocity, n.start - lead, n.duration, n.channel) for n in notes)
    end = max(n.end for n in notes)
    # a note held a hair past the bar line does not make a new bar
    bars = max(1, math.ceil(end / BEATS_PER_BAR - 1 / 16))
    if bars > MAX_BARS:
        raise PrimerError(f"{label}: {bars} bars from its first note to its last is too long for a phrase to "
                          f"continue (limit {MAX_BARS} bars)")
    notes = tuple(n for n in notes if n.start < bars * BEATS_PER_BAR)
    tonic, mode, _ = estimate_key([n.pitch for n in notes], [n.duration for n in notes])
    return Primer(notes, bars, Key(tonic, mode, AUTO_NAMES[mode][tonic]), tempo, name)


def primer_from_midi(path: str | os.PathLike) -> Primer:
    """A MIDI file → a ``Primer`` (its first tempo and its notes). Raises ``MidiError`` for a broken
    file and ``PrimerError`` for a meter other than 4/4 or too few notes."""
    from ..files.midi_io import read_midi

    piece = read_midi(path)
    name = os.path.basename(os.fspath(path))
    odd = [(n, d) for _, n, d in piece.time_signatures if (n, d) != (4, 4)]
    if odd:
        raise PrimerError(f"{name}: is in {odd[0][0]}/{odd[0][1]}; Synesthete continues phrases in 4/4 only")
    # with tempo changes the phrase is still read in beats; its first tempo becomes the piece's
    notes = [NoteEvent(n.pitch, n.velocity, n.start_beat, n.end_beat - n.start_beat) for n in piece.notes]
    tempo = min(MAX_TEMPO, max(MIN_TEMPO, float(round(piece.tempos[0][1], 2))))
    return primer_from_notes(notes, tempo, name)
