"""REMI-style tokens: vocabulary, encoder, a one-token-at-a-time decoder and the grammar.

Vocabulary (MidiTok's ``Type_Value`` naming), in id order::

    PAD_None BOS_None EOS_None              specials
    Mode_major Mode_minor                   conditioning, right after BOS (see engine.music.keys)
    Bar_None                                a new 4/4 bar (4 beats)
    Position_0 .. Position_15               16th-note step inside the bar
    Pitch_21 .. Pitch_108                   piano range
    Velocity_<v>                            8 bins, v the bin's representative velocity
    Duration_<n>                            n 16th steps: 1..16, 20, 24, 32, 48, 64

A piece is ``BOS Mode Bar (Position (Pitch Velocity Duration)+ )* Bar ... EOS``.
Inside a position, pitches ascend (one canonical order, no duplicate notes); positions
ascend inside a bar.

Why our own and not MidiTok's REMI: we need (1) a decoder that takes one token at a time
and yields a note the moment its Duration token arrives, so live playback can start while
the model still generates, and (2) a grammar mask over the *next* token given the state,
so sampling can only produce decodable sequences (token error rate 0 by construction).
MidiTok decodes whole sequences and scores errors after the fact; it has neither. The
vocabulary itself follows MidiTok's REMI (Bar/Position/Pitch/Velocity/Duration) so its
documentation applies. The tempo is not a token: music lives in beats and the user (or the
DAW's clock) picks the tempo at playback.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ..events import BEATS_PER_BAR, PIANO_HIGH, PIANO_LOW, NoteEvent

STEPS_PER_BEAT = 4
STEPS_PER_BAR = STEPS_PER_BEAT * BEATS_PER_BAR  # 16 positions per bar
PITCH_MIN, PITCH_MAX = PIANO_LOW, PIANO_HIGH
VELOCITY_BINS = (16, 32, 48, 64, 80, 96, 112, 127)
DURATION_STEPS = tuple(range(1, 17)) + (20, 24, 32, 48, 64)
MODES = ("major", "minor")


def _build_vocab() -> list[str]:
    vocab = ["PAD_None", "BOS_None", "EOS_None"]
    vocab += [f"Mode_{m}" for m in MODES]
    vocab += ["Bar_None"]
    vocab += [f"Position_{i}" for i in range(STEPS_PER_BAR)]
    vocab += [f"Pitch_{p}" for p in range(PITCH_MIN, PITCH_MAX + 1)]
    vocab += [f"Velocity_{v}" for v in VELOCITY_BINS]
    vocab += [f"Duration_{d}" for d in DURATION_STEPS]
    return vocab


VOCAB: list[str] = _build_vocab()
TOKEN_ID: dict[str, int] = {t: i for i, t in enumerate(VOCAB)}
VOCAB_SIZE = len(VOCAB)
PAD, BOS, EOS = TOKEN_ID["PAD_None"], TOKEN_ID["BOS_None"], TOKEN_ID["EOS_None"]
BAR = TOKEN_ID["Bar_None"]
MODE0 = TOKEN_ID["Mode_major"]
POS0 = TOKEN_ID["Position_0"]
PITCH0 = TOKEN_ID[f"Pitch_{PITCH_MIN}"]
VEL0 = TOKEN_ID[f"Velocity_{VELOCITY_BINS[0]}"]
DUR0 = TOKEN_ID[f"Duration_{DURATION_STEPS[0]}"]
N_POS, N_PITCH, N_VEL, N_DUR = STEPS_PER_BAR, PITCH_MAX - PITCH_MIN + 1, len(VELOCITY_BINS), len(DURATION_STEPS)


def token_type(tok: int) -> str:
    return VOCAB[tok].split("_", 1)[0]


def velocity_bin(velocity: int) -> int:
    """Index of the nearest velocity bin."""
    return int(np.argmin([abs(int(velocity) - v) for v in VELOCITY_BINS]))


def duration_bin(steps: int) -> int:
    """Index of the nearest duration bin (at least one step)."""
    steps = max(1, int(steps))
    return int(np.argmin([abs(steps - d) for d in DURATION_STEPS]))


@dataclass(frozen=True)
class GridNote:
    """A note on the 16th grid: integer steps from the start of bar 0."""

    pitch: int
    velocity: int
    start: int
    duration: int


def encode(notes: Iterable[GridNote], mode: str = "major", *, add_eos: bool = True) -> list[int]:
    """Grid notes → token ids. Pitches outside the piano range are folded in by octaves."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (received {mode!r})")
    best: dict[tuple[int, int], GridNote] = {}
    for n in notes:
        p = n.pitch
        while p < PITCH_MIN:
            p += 12
        while p > PITCH_MAX:
            p -= 12
        key = (n.start, p)
        if key not in best or n.duration > best[key].duration:  # duplicate onsets: keep longest
            best[key] = GridNote(p, n.velocity, n.start, n.duration)
    ordered = sorted(best.values(), key=lambda n: (n.start, n.pitch))
    out = [BOS, MODE0 + MODES.index(mode)]
    bar = -1
    pos = -1
    for n in ordered:
        nb, npos = divmod(n.start, STEPS_PER_BAR)
        while bar < nb:
            out.append(BAR)
            bar += 1
            pos = -1
        if npos != pos:
            out.append(POS0 + npos)
            pos = npos
        out += [PITCH0 + n.pitch - PITCH_MIN, VEL0 + velocity_bin(n.velocity), DUR0 + duration_bin(n.duration)]
    if bar < 0:
        out.append(BAR)
    if add_eos:
        out.append(EOS)
    return out


def decode(tokens: Iterable[int]) -> list[NoteEvent]:
    """Token ids → note events (beats). Raises ValueError on a sequence the grammar forbids."""
    d = StreamingDecoder()
    notes: list[NoteEvent] = []
    for t in tokens:
        notes.extend(d.push(int(t)))
        if d.finished:
            break
    return notes


@dataclass
class GrammarState:
    """What the grammar needs to know about the sequence so far."""

    last: int = -1  # last token id, -1 before BOS
    bars: int = 0  # Bar tokens seen
    position: int = -1  # current position inside the bar, -1 right after Bar
    last_pitch: int = -1  # last pitch at the current position
    finished: bool = False


def _advance(s: GrammarState, tok: int) -> None:
    if s.finished:
        raise ValueError("token after EOS")
    if not allowed_mask(s)[tok]:
        prev = VOCAB[s.last] if s.last >= 0 else "start"
        raise ValueError(f"token {VOCAB[tok]} may not follow {prev}")
    if tok == EOS:
        s.finished = True
    elif tok == BAR:
        s.bars += 1
        s.position = -1
        s.last_pitch = -1
    elif POS0 <= tok < POS0 + N_POS:
        s.position = tok - POS0
        s.last_pitch = -1
    elif PITCH0 <= tok < PITCH0 + N_PITCH:
        s.last_pitch = tok - PITCH0 + PITCH_MIN
    s.last = tok


def allowed_mask(s: GrammarState, *, min_bars: int = 0) -> np.ndarray:
    """Boolean mask over the vocabulary: the tokens that keep the sequence decodable.

    ``min_bars`` forbids EOS until that many bars were opened (the sampler uses it so a
    piece is never shorter than asked for).
    """
    m = np.zeros(VOCAB_SIZE, dtype=bool)
    if s.finished:
        return m
    last = s.last
    if last == -1:
        m[BOS] = True
    elif last == BOS:
        m[MODE0:MODE0 + len(MODES)] = True
    elif MODE0 <= last < MODE0 + len(MODES):
        m[BAR] = True
    elif last == BAR or DUR0 <= last < DUR0 + N_DUR:
        m[BAR] = True
        m[EOS] = s.bars >= min_bars
        m[POS0 + s.position + 1:POS0 + N_POS] = True
        if last != BAR:  # another note in the same chord: higher pitch only
            m[PITCH0 + s.last_pitch - PITCH_MIN + 1:PITCH0 + N_PITCH] = True
    elif POS0 <= last < POS0 + N_POS:
        m[PITCH0:PITCH0 + N_PITCH] = True
    elif PITCH0 <= last < PITCH0 + N_PITCH:
        m[VEL0:VEL0 + N_VEL] = True
    elif VEL0 <= last < VEL0 + N_VEL:
        m[DUR0:DUR0 + N_DUR] = True
    return m


@dataclass
class StreamingDecoder:
    """Takes one token at a time; yields each note as soon as its Duration arrives.

    ``bar`` counts from 0 at the first Bar token; a note's start in beats is
    ``bar * 4 + position / 4``.
    """

    state: GrammarState = field(default_factory=GrammarState)
    mode: str | None = None
    _velocity: int = 64

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def bars(self) -> int:
        return self.state.bars

    def push(self, tok: int) -> list[NoteEvent]:
        s = self.state
        _advance(s, tok)
        if MODE0 <= tok < MODE0 + len(MODES):
            self.mode = MODES[tok - MODE0]
        elif VEL0 <= tok < VEL0 + N_VEL:
            self._velocity = VELOCITY_BINS[tok - VEL0]
        elif DUR0 <= tok < DUR0 + N_DUR:
            start_step = (s.bars - 1) * STEPS_PER_BAR + s.position
            dur = DURATION_STEPS[tok - DUR0]
            return [NoteEvent(s.last_pitch, self._velocity, start_step / STEPS_PER_BEAT, dur / STEPS_PER_BEAT)]
        return []


def token_error_rate(tokens: Iterable[int]) -> float:
    """Share of tokens the grammar forbids at their place (0 for every sampled sequence).

    After an error the state is advanced as if the token were legal where possible, in
    the spirit of MidiTok's ``tokens_errors``.
    """
    toks = [int(t) for t in tokens]
    if not toks:
        return float("nan")
    s = GrammarState()
    errors = 0
    for t in toks:
        if s.finished or not allowed_mask(s)[t]:
            errors += 1
            continue
        _advance(s, t)
    return errors / len(toks)


def notes_to_grid(notes: Iterable[NoteEvent]) -> list[GridNote]:
    """Beat-timed notes → grid notes (nearest 16th; durations at least one step)."""
    return [
        GridNote(n.pitch, n.velocity, int(round(n.start * STEPS_PER_BEAT)), max(1, int(round(n.duration * STEPS_PER_BEAT))))
        for n in notes
    ]
