"""Rewriting some bars of a piece: new notes for bars ``first``..``last``, every other note kept.

Public names: ``Revision``, ``revise``, ``piece_bars``, ``parse_change``, ``TAKES``.

The decoder reads left to right, yet a rewritten bar has to lead into the bars after it as well
as follow the bars before. So:

1. The bars before the span are the primer (``engine.music.primer``: their key estimated over the
   whole piece, moved to the reference key, tokenized), and the model continues them for the
   span's bars, holding the span's chords (``engine.generation.harmony``): the chords asked for
   (``settings.chords``, the piece's progression from bar 1), else those the original bars play (``engine.music.chords.progression_of``)
   — the new take changes the notes, not the song's harmony.
2. ``TAKES`` such continuations are drawn, and each is scored by how likely the model finds the
   bars after the span (up to ``AFTER_BARS``) once it has heard the take: the mean log-probability
   of their tokens. The best is kept. Drawing from p(span | before) and weighting by
   p(after | before, span) is importance sampling of p(span | before, after), the infilling the
   musician asks for, with the model that exists.
3. The take's notes end at the span's last bar line (a note the model held past it is cut
   there), so nothing hangs over the kept bars; a note of the take on a key that a kept note is
   still holding is left out, so no kept note is cut short; and the kept notes are returned untouched.

A different ``settings.seed`` draws different takes.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import UsageError
from ..events import BEATS_PER_BAR, VA, NoteEvent
from ..music.chords import NO_CHORD, Chord, parse_progression, per_beat, progression_text
from ..music.keys import AUTO_NAMES, Key, estimate_key, parse_key, shift_to_reference
from ..music.primer import Primer, _bar_tokens
from ..settings import MAX_SEED, GenerationSettings, arc_point
from .tokens import BAR, EOS

TAKES = 4         # continuations drawn per revision; the one the following bars fit best is kept
AFTER_BARS = 2    # bars after the span that score a take
_CHANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


@dataclass(frozen=True)
class Revision:
    """A rewritten piece: ``notes`` the whole piece (beats), ``new`` the span's notes alone,
    ``first_bar``..``last_bar`` the span (1-based, inclusive), ``chords`` the chord held on each beat
    of the span (N where the model's own harmony played),
    ``key`` the piece's, ``score`` the chosen take's mean log-probability of the bars after it
    (None when no bar follows)."""

    notes: tuple[NoteEvent, ...]
    new: tuple[NoteEvent, ...]
    first_bar: int
    last_bar: int
    chords: tuple[Chord | None, ...]
    key: Key
    score: float | None

    @property
    def span(self) -> tuple[float, float]:
        return (self.first_bar - 1) * BEATS_PER_BAR, self.last_bar * BEATS_PER_BAR


def piece_bars(notes: Sequence[NoteEvent]) -> int:
    """Whole 4/4 bars from beat 0 to the last note's end (a note a hair past a bar line, no bar)."""
    end = max((n.end for n in notes), default=0.0)
    return max(1, math.ceil(end / BEATS_PER_BAR - 1 / 16))


def parse_change(text: str, bars: int) -> tuple[int, int]:
    """``"5-6"`` or ``"5"`` → (5, 6) / (5, 5), checked against a piece of ``bars`` bars (one line if not)."""
    m = _CHANGE.match(str(text))
    if not m:
        raise UsageError(f"--change {text!r}: give the bars to rewrite as FIRST-LAST, e.g. 5-6 (bars count from 1)")
    first = int(m.group(1))
    last = int(m.group(2) or first)
    if first < 1 or last < first:
        raise UsageError(f"--change {text}: bars count from 1 and the last comes after the first")
    if last > bars:
        raise UsageError(f"--change {text}: the piece has {bars} bar{'s' if bars != 1 else ''}")
    return first, last


def _piece_key(notes: Sequence[NoteEvent], settings: GenerationSettings) -> Key:
    given = parse_key(settings.key) if settings.key != "auto" else None
    if given is not None:
        return given
    tonic, mode, _ = estimate_key([n.pitch for n in notes], [n.duration for n in notes])
    return Key(tonic, mode, AUTO_NAMES[mode][tonic])


def _span_chords(settings: GenerationSettings, first: int, last: int) -> tuple:
    """The chord held on each beat of the span: the piece's progression (``settings.chords``, counted
    from bar 1 and repeated, as ``generate`` laid it out) under the span; N throughout without one."""
    lo, hi = (first - 1) * BEATS_PER_BAR, last * BEATS_PER_BAR
    if settings.chords.strip():
        return tuple(per_beat(parse_progression(settings.chords), hi)[lo:])
    return (NO_CHORD,) * (hi - lo)


def _span_emotion(settings: GenerationSettings, va: VA | None, first: int, last: int, bars: int) -> tuple:
    """(arc, va) for the span: a piece's arc followed at the span's own bars (not squeezed into them)."""
    if not settings.arc:
        return (), va
    points = tuple(arc_point(settings.arc, b, bars) for b in range(first - 1, last))
    return (points, None) if len(points) >= 2 else ((), points[0])


def _after_tokens(notes: Sequence[NoteEvent], key: Key, last: int, bars: int) -> list[int]:
    """Tokens of the bars after the span (reference key, each from its Bar token)."""
    shift = shift_to_reference(key.tonic, key.mode)
    out: list[int] = []
    for b in range(last, min(bars, last + AFTER_BARS)):
        lo = b * BEATS_PER_BAR
        local = [NoteEvent(n.pitch + shift, n.velocity, n.start, n.duration) for n in notes if lo <= n.start < lo + BEATS_PER_BAR]
        out += _bar_tokens(local, b, key.mode)
    return out


def _log_likelihood(stepper, context: list[int], continuation: list[int]) -> float:
    """Mean log-probability the model gives ``continuation`` after ``context`` (both token ids; the
    context's first two tokens are BOS and Mode, and it is cut at a bar line to fit the window)."""
    block = stepper.block_size
    ctx = list(context)
    room = block - len(continuation) - 1
    if len(ctx) > room:
        lines = [i for i in range(2, len(ctx)) if ctx[i] == BAR and len(ctx) - i <= room - 2]
        ctx = ctx[:2] + ctx[lines[0]:] if lines else ctx[:2] + ctx[len(ctx) - (room - 2):]
    stepper.reset()
    logits = None
    for i, t in enumerate(ctx):
        logits = stepper.step(t, i)
    total = 0.0
    for j, t in enumerate(continuation):
        z = logits.astype(np.float64)
        z = z - z.max()
        total += float(z[t] - np.log(np.exp(z).sum()))
        if j + 1 < len(continuation):
            logits = stepper.step(t, len(ctx) + j)
    return total / max(1, len(continuation))


def revise(runtime, settings: GenerationSettings, encodings: Sequence, notes: Sequence[NoteEvent], first_bar: int,
           last_bar: int, *, va: VA | None = None, takes: int = TAKES, tempo: float | None = None,
           bars: int | None = None) -> Revision:
    """Bars ``first_bar``..``last_bar`` (1-based) of the piece ``notes`` rewritten for the pictures'
    emotion (or ``va``), as the module docstring describes. ``bars``: the piece's length (default:
    to its last note; a piece may end in silent bars). ``settings`` are the piece's: its chords and
    arc are read at the span's bars; its seed, temperature and the rest make the take."""
    notes = tuple(sorted(notes, key=lambda n: (n.start, n.pitch)))
    bars = max(bars or 0, piece_bars(notes))
    if not (1 <= first_bar <= last_bar <= bars):
        raise UsageError(f"bars {first_bar}-{last_bar} are outside the piece (bars 1-{bars})")
    key = _piece_key(notes, settings)
    chords = _span_chords(settings, first_bar, last_bar)
    lo, hi = (first_bar - 1) * BEATS_PER_BAR, last_bar * BEATS_PER_BAR
    arc, va = _span_emotion(settings, va, first_bar, last_bar, bars)
    # the span is a few bars inside the piece's form: no form of its own (a written form cut to the
    # span would make its first bar an intro)
    span_settings = dataclasses.replace(settings, bars=last_bar - first_bar + 1, key=key.name, arc=arc, form="free",
                                        chords=progression_text([c for c in chords]) if any(not c.is_none for c in chords) else "")
    before = tuple(n for n in notes if n.start < lo)
    primer = Primer(before, first_bar - 1, key, tempo) if first_bar > 1 and before else None
    after = _after_tokens(notes, key, last_bar, bars)
    best: tuple[float, list[NoteEvent]] | None = None
    for i in range(max(1, takes)):
        seed = (settings.seed * max(1, takes) + i) % (MAX_SEED + 1)
        plan = runtime.plan(dataclasses.replace(span_settings, seed=seed), list(encodings), va=va, primer=primer,
                            tempo=tempo)
        tokens: list[int] = []
        take = list(runtime.stream_notes(plan, tokens))
        score = 0.0
        if after:
            body = [t for t in tokens if t != EOS]
            encoding = plan.encoding if plan.encoding is not None else runtime.blank()
            score = _log_likelihood(runtime.stepper(encoding, plan.aim, plan.settings), body, after)
        if best is None or score > best[0]:
            best = (score, take)
    new = tuple(NoteEvent(n.pitch, n.velocity, n.start + lo, n.duration, n.channel) for n in best[1]
                if n.start + lo < hi)
    new = tuple(n if n.end <= hi else NoteEvent(n.pitch, n.velocity, n.start, hi - n.start, n.channel) for n in new)
    kept = tuple(n for n in notes if not lo <= n.start < hi)
    # a kept note still ringing into the span owns its key until it ends: striking it again there
    # would cut the kept note short (one key, one sounding note in MIDI), so the take leaves it
    held = [n for n in kept if n.start < lo < n.end]
    new = tuple(n for n in new if not any(k.pitch == n.pitch and k.start < n.end and n.start < k.end for k in held))
    merged = tuple(sorted(kept + new, key=lambda n: (n.start, n.pitch)))
    return Revision(merged, new, first_bar, last_bar, chords, key, best[0] if after else None)
