"""Holding the chords asked for while sampling: which pitches a beat's chord allows, and how long.

The user's progression (``--chords``, ``--chords-from``, a chord held live) is one chord per beat,
moved into the reference key the model writes in (``in_reference``). While a chord sounds, the
sampler asks this module at two kinds of token:

* **Pitch.** The chord's tones gain ``CHORD_BONUS``, a seventh chord's seventh ``SEVENTH_BONUS``
  more, and a tone that holds less than ``NEED_SHARE`` of the chord's sounding time so far
  ``NEED_BONUS`` more (``needed``): the model writes in its own key and leaves out the tones foreign
  to it, and F#m without its A is F#. A pitch outside the chord is allowed only above
  ``MELODY_FLOOR`` and never as the lowest note of an onset — the passing and neighbour notes of a
  tune — at ``-TENSION_COST``; below the floor the chord's tones alone are allowed, so the bass and
  the accompaniment spell the chord. The lowest note of an onset leans to the chord's bass (its
  root, or the bass of a slash chord): by ``BASS_BONUS`` at the chord's first onset, as a pianist
  puts the root down where the chord changes, and by half that under later onsets in the bass.
* **Duration.** A chord tone sounds until the chord changes, and on through the next chord only
  where it is one of that chord's tones too (a common tone held over); a note outside the chord
  lasts at most ``TENSION_STEPS`` and never past the change.
* **Touch.** With the harmony given, major or minor no longer carries the mood's valence, so the
  note lengths do (``articulation``): detached for a bright mood, legato for a dark one.

What the model keeps: the rhythm, the voicing, the register, the density and the loudness — the
emotion's part — and which chord tone goes where. How well the music follows: docs/CHORDS.md
(``python -m engine.training.chords_eval``), where the weights' provenance is told too.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from ..music.chords import QUALITIES, Chord
from .tokens import DURATION_STEPS, N_PITCH, PITCH_MIN, STEPS_PER_BEAT

CHORD_BONUS = 1.5     # logits added to the chord's tones
TENSION_COST = 2.0    # logits taken from a pitch outside the chord (above the floor only)
BASS_BONUS = 3.0      # logits added to the chord's bass as the lowest note where the chord begins (half under later onsets)
SEVENTH_BONUS = 1.0   # logits added to a seventh chord's seventh
NEED_SHARE = 0.12     # a chord tone with less than this share of the chord's sounding time so far ...
NEED_BONUS = 3.0      # ... gains this many logits: the model, writing in its own key, leaves out the
                      # tones foreign to it (the third of F#m in C major), and a chord without its
                      # third or seventh is another chord
MELODY_FLOOR = 60     # middle C (in the reference key): below it only the chord's tones sound
TENSION_STEPS = 2     # a note outside the chord lasts at most an eighth

_PCS = (np.arange(N_PITCH) + PITCH_MIN) % 12
_PITCHES = np.arange(N_PITCH) + PITCH_MIN
_DUR = np.array(DURATION_STEPS)


def in_reference(chords: Sequence[Chord | None], shift: int) -> tuple[Chord | None, ...]:
    """The chords moved by ``shift`` semitones (to the reference key: ``keys.shift_to_reference``);
    None and N (no chord) stay as they are."""
    return tuple(None if c is None or c.is_none else c.transposed(shift) for c in chords)


@dataclass(frozen=True)
class Span:
    """The chord sounding now: from ``start`` to ``end`` (16th steps from the sequence's first bar
    line), and the chord after it (None: none, or the end of the progression)."""

    chord: Chord
    start: int
    end: int
    after: Chord | None
    after_end: int = 0


def span_at(chords: Sequence[Chord | None], step: int) -> Span | None:
    """The span of the chord on the beat of ``step``; None where no chord is held there."""
    beat = step // STEPS_PER_BEAT
    if not 0 <= beat < len(chords) or chords[beat] is None:
        return None
    c = chords[beat]
    lo = beat
    while lo > 0 and chords[lo - 1] == c:
        lo -= 1
    hi = beat + 1
    while hi < len(chords) and chords[hi] == c:
        hi += 1
    after = chords[hi] if hi < len(chords) else None
    nxt = hi
    while after is not None and nxt < len(chords) and chords[nxt] == after:
        nxt += 1
    return Span(c, lo * STEPS_PER_BEAT, hi * STEPS_PER_BEAT, after, nxt * STEPS_PER_BEAT)


@lru_cache(maxsize=512)
def pitch_rule(chord: Chord, lowest: bool, opens: bool) -> tuple[np.ndarray, np.ndarray]:
    """(allowed, bias) over the pitch tokens for one chord. ``lowest``: the first (lowest) pitch of an
    onset; ``opens``: no note of this chord has started yet."""
    tone = np.isin(_PCS, sorted(chord.tones))
    allowed = tone | ((_PITCHES >= MELODY_FLOOR) & (not lowest))
    bias = np.where(tone, CHORD_BONUS, -TENSION_COST)
    if len(chord.tones) > 3:  # a seventh chord is heard as one only if its seventh sounds
        bias = bias + np.where(_PCS == (chord.root + QUALITIES[chord.quality][3]) % 12, SEVENTH_BONUS, 0.0)
    if lowest:  # the chord's bass: where the chord begins at any height, later in the bass register only
        lean = BASS_BONUS if opens else BASS_BONUS / 2
        bias = bias + np.where((_PCS == chord.bass) & ((_PITCHES < MELODY_FLOOR) | opens), lean, 0.0)
    allowed.flags.writeable = bias.flags.writeable = False
    return allowed, bias


def needed(chord: Chord, sounded: np.ndarray) -> np.ndarray:
    """A bias over the pitch tokens: ``NEED_BONUS`` on the chord's tones that hold less than
    ``NEED_SHARE`` of the time sounded so far in the chord (``sounded``: 16th steps per pitch class)."""
    total = float(sounded.sum())
    short = [pc for pc in chord.tones if total <= 0 or sounded[pc] / total < NEED_SHARE]
    return np.where(np.isin(_PCS, short), NEED_BONUS, 0.0)


ARTICULATION = 1.5    # logits per octave of duration per unit of valence (see articulation)


def articulation(valence: float) -> np.ndarray:
    """A bias over the duration tokens: with the harmony given, the mode no longer carries the mood's
    valence, so the touch does, as players do — detached for a bright mood, legato for a dark one
    (Juslin & Laukka 2003): ``-ARTICULATION · valence · clip(log2(d / 4), -1, 2)`` for a note of d
    16ths — an eighth and shorter alike, so a bright mood is detached rather than a patter of 16ths."""
    return -ARTICULATION * valence * np.clip(np.log2(_DUR / 4.0), -1.0, 2.0)


def duration_allowed(span: Span, pitch: int, step: int) -> np.ndarray:
    """Which duration tokens a note at ``step`` of ``pitch`` (reference key) may take in ``span``."""
    pc = pitch % 12
    left = span.end - step
    if pc not in span.chord.tones:
        ok = _DUR <= min(TENSION_STEPS, left)
    elif span.after is not None and pc in span.after.tones:
        ok = _DUR <= span.after_end - step  # a common tone may ring on through the next chord, no further
    else:
        ok = _DUR <= left
    if not ok.any():
        ok = _DUR == _DUR.min()
    return ok

