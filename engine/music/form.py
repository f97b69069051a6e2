"""Song form: the sections a piece is made of, which bars come back, and how each section leans.

Public names: ``Section``, ``parse_form``, ``form_text``, ``fit_form``, ``auto_form``, ``restatements``,
``section_lean``, ``section_at``, ``section_name``.

A form is written as POP909's annotators wrote theirs: a letter and a length in bars per phrase,
``"i4 A8 B8 A8 B8 o4"`` (spaces optional). Upper-case letters are sections with a tune (A often the
verse, B the chorus), lower-case ones the same music without it (an interlude), ``i`` the intro,
``o`` the outro, ``X``/``x`` anything else. A section whose letter came before returns.

``--form auto`` (the default) draws a form from the forms of the real songs in POP909's training
split (``forms.json``, made by ``python -m engine.training.forms_table``): among the songs, the
opening phrases of those whose phrases add up to exactly ``--bars``, one chosen by the seed — for a
piece of ``MIN_SONG_BARS`` or more; a shorter piece is one phrase, written anew (``resolve``). An explicit
form is repeated or cut to fill ``--bars``, as a chord progression is.

How a form is played (``restatements``, ``section_lean``):

* **Returning sections restate, with variation.** Bar k of a section whose letter came before
  restates bar k of that earlier section where k is one of the first two bars of a 4-bar phrase;
  the other two bars are written anew over what was restated. Inside a section of 8 bars or more
  heard for the first time, the first bar of each later 4-bar phrase restates the first bar of the
  phrase before (a phrase answered). Real songs come back at 4 and 8 bars, never copied whole.
* **Sections lean.** Each bar's aimed arousal moves by its section's ``LEAN``: the intro and
  outro quieter, a chorus (B) fuller, an interlude a little quieter, so a chorus stands out from its
  verse as in the songs (``GenerationSettings.bar_aim`` adds it, so arcs and steering combine).
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from ..errors import UsageError

FORMS_FILE = Path(__file__).with_name("forms.json")
# auto gives a song's form from this many bars on; a shorter piece is one phrase, written anew. On 134
# validation pictures at 8 bars a form made the music easier to tell from real music (two-sample 0.768
# against 0.722 free) and follow the picture less (judge ratio 0.738 against 0.626); at 32 bars it is
# what brings the pieces nearer real songs (docs/SONGS.md)
MIN_SONG_BARS = 16
MAX_PHRASES = 64
LEAN = {"i": -0.25, "o": -0.25, "B": 0.15, "C": 0.1}   # arousal added per section letter
LOWER_LEAN = -0.1                                         # an interlude (a lower-case letter other than i, o, x)
NAMES = {"i": "Intro", "o": "Outro", "X": "Bridge", "x": "Interlude"}
_PHRASE = re.compile(r"([A-Za-z])(\d+)")


@dataclass(frozen=True)
class Section:
    """One phrase of the form: its ``letter``, first bar ``start`` (0-based) and length ``bars``."""

    letter: str
    start: int
    bars: int


def parse_form(text: str) -> tuple[Section, ...]:
    """``"A8 B8 A8 B8"`` or ``"i4A8B8"`` → sections. A one-line UsageError for anything else."""
    s = re.sub(r"\s+", "", str(text))
    parts = _PHRASE.findall(s)
    if not parts or "".join(f"{a}{n}" for a, n in parts) != s:
        raise UsageError(f"form {str(text)[:40]!r}: write it as section letters with their bars, e.g. \"A8 B8 A8 B8\" "
                         f"or \"i4 A8 B8 o4\" (or use auto, free, phrases)")
    if len(parts) > MAX_PHRASES:
        raise UsageError(f"form: {len(parts)} sections is more than {MAX_PHRASES}")
    out, start = [], 0
    for letter, n in parts:
        bars = int(n)
        if not 1 <= bars <= 64:
            raise UsageError(f"form: a section of {bars} bars (each section takes 1..64)")
        out.append(Section(letter, start, bars))
        start += bars
    return tuple(out)


def form_text(sections: Sequence[Section]) -> str:
    return " ".join(f"{s.letter}{s.bars}" for s in sections)


def fit_form(sections: Sequence[Section], bars: int) -> tuple[Section, ...]:
    """The form repeated (whole) and cut to exactly ``bars`` bars."""
    out, start, k = [], 0, 0
    while start < bars:
        s = sections[k % len(sections)]
        n = min(s.bars, bars - start)
        out.append(Section(s.letter, start, n))
        start += n
        k += 1
    return tuple(out)


@lru_cache(maxsize=1)
def _forms() -> tuple[tuple[tuple[str, int], ...], ...]:
    data = json.loads(FORMS_FILE.read_text())
    return tuple(tuple((a, int(n)) for a, n in _PHRASE.findall(f)) for f in data["forms"])


def auto_form(bars: int, seed: int) -> tuple[Section, ...]:
    """A real song's opening phrases that fill exactly ``bars`` bars, chosen by ``seed`` (module
    docstring); where no song's phrases add up to ``bars``, the song whose opening comes nearest
    below it, its last phrase stretched. A piece under 4 bars is one section."""
    if bars < 4:
        return (Section("A", 0, bars),)
    exact, near = [], []
    for phrases in _forms():
        total, k = 0, 0
        while k < len(phrases) and total + phrases[k][1] <= bars:
            total += phrases[k][1]
            k += 1
        if k == 0:
            continue
        (exact if total == bars else near).append((phrases[:k], bars - total))
    # songs that share an opening are all in the list, so a common opening is drawn more often
    pick = random.Random(seed).randrange
    if exact:
        chosen = exact[pick(len(exact))][0]
    else:
        gap = min(g for _, g in near)
        closest = [p for p, g in near if g == gap]
        chosen = closest[pick(len(closest))]
        chosen = chosen[:-1] + ((chosen[-1][0], chosen[-1][1] + gap),)
    return parse_form("".join(f"{a}{n}" for a, n in chosen))


def resolve(form: str, bars: int, seed: int) -> str:
    """The form a piece is played in: ``auto`` becomes a real song's form written out, or ``free``
    under ``MIN_SONG_BARS``; any other form as it is."""
    if form != "auto":
        return form
    return form_text(auto_form(bars, seed)) if bars >= MIN_SONG_BARS else "free"


def section_at(sections: Sequence[Section], bar: int) -> Section | None:
    for s in sections:
        if s.start <= bar < s.start + s.bars:
            return s
    return None


def restatements(sections: Sequence[Section]) -> tuple[int | None, ...]:
    """For each bar, the earlier bar it restates, or None (module docstring)."""
    total = sum(s.bars for s in sections)
    plan: list[int | None] = [None] * total
    first: dict[str, Section] = {}
    for s in sections:
        earlier = first.get(s.letter)
        for k in range(s.bars):
            bar = s.start + k
            if earlier is not None:
                if k % 4 in (0, 1) and k < earlier.bars and k < s.bars - 1:
                    plan[bar] = earlier.start + k
            elif s.bars >= 8 and k >= 4 and k % 4 == 0:
                plan[bar] = bar - 4
        first.setdefault(s.letter, s)
    return tuple(plan)


def section_lean(letter: str) -> float:
    """The arousal a section adds to each of its bars' aims."""
    if letter in LEAN:
        return LEAN[letter]
    return LOWER_LEAN if letter.islower() and letter != "x" else 0.0


def section_name(letter: str) -> str:
    """The marker a DAW shows where the section begins."""
    return NAMES.get(letter, letter)
