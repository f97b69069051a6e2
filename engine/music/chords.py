"""Chords: their names, progressions, and the chord a span of notes plays.

A ``Chord`` is a value: root pitch class (0 = C .. 11 = B), quality, and bass pitch class, so
``C#`` equals ``Db`` and ``C/C`` equals ``C``. ``NO_CHORD`` (written ``N``) has no root.

Names (``parse_chord``): a root ``A``..``G`` (lower case accepted) with ``#``/``b`` (or ♯/♭), a
quality suffix, and an optional ``/bass`` note::

    C  Cm  C7  Cmaj7  Cm7  Cdim  Csus4          the seven qualities ``recognise`` tells apart
    Caug  Csus2  Cdim7  Cm7b5  C6  Cm6  CmMaj7  C7sus4   parsed, never recognised
    C/E  F#m  Bb7  N

(aliases: ``M``/``maj`` major, ``min``/``-`` minor, ``M7``/``Δ7`` major 7th, ``min7``/``-7``, ``°``/``o``
dim, ``sus`` = sus4, ``+`` aug, ``ø`` half-diminished). ``parse_progression("Am F C G")`` gives one
chord per bar, ``"Am:2 F:2"`` sets the beats; a bad name or an empty progression raises a one-line
``UsageError`` naming it. The corpora's own labels convert to the same value: ``from_pop909``
(``C:maj7``, ``A:min/b3``, ``N``) and ``from_pop1k7`` (``root_quality_bass`` markers: ``G_m7_F``, ``N_N_N``).

Recognition (``recognise(notes, start, end)``), a template matcher:

1. ``p`` = duration-weighted pitch-class histogram of the span: p[c] = Σ over notes of pitch class c
   of |[start, end) ∩ [note.start, note.end)|, divided by its sum (the share of the span's sounding
   note-time on each pitch class). If the notes sound for less than ``MIN_SOUND`` × (end − start)
   in all (less than one voice for an eighth of the span), the span is silence: ``NO_CHORD``.
2. ``q`` = bass histogram: q[c] = share of the span's sounding time during which the lowest
   sounding note has pitch class c.
3. Every root r and quality Q in ``RECOGNISED`` (maj, min, 7, maj7, m7, dim, sus4: 84 templates,
   template T = the chord's pitch classes) scores

       score(r, Q) = Σ_{c ∈ T} p[c] − Σ_{c ∉ T} p[c]      fit: sound inside the chord minus outside it
                     − COST[Q]                            what a less plain chord must earn
                     + BASS_WEIGHT · q[r]                 the root in the bass

   COST is 0 for the major and minor triads, SEVENTH_COST for the three sevenths and RARE_COST
   for dim and sus4. Adding the 7th to a triad template moves 2·p[7th] of sound from "outside"
   to "inside", so a seventh chord wins over its own triad only where its 7th holds more than
   SEVENTH_COST / 2 of the sound (a passing melody note does not make a C triad Cmaj7); a sus4
   must beat the triad by RARE_COST (a C with an added 9th, C D E G, is not Gsus4 merely
   because its D outweighs its E). The bass term decides between chords sharing most tones
   (C6 = Am7's tones: A or C in the bass; a major or minor seventh over its third is read as the
   triad on that bass: Cm7/Eb as Eb, i.e. Eb6). Ties go to the first template in ``RECOGNISED`` order,
   roots ascending (triads before sevenths, major before minor).
4. The chord's bass: the pitch class of the lowest note sounding for at least ``MIN_BASS`` of the
   span, if it is one of the chord's tones (a first-inversion C major gives ``C/E``; an Alberti
   bass C G E G stays ``C``); else the root.

The three weights were chosen on 250 training songs of each corpus against the corpora's own
chord labels (exact root and quality on 81% of POP909's labelled spans, 56% of Pop1K7's; same
root and third on 92% / 71% of their major and minor spans); ``python -m
engine.training.form_stats --chords`` measures it on a split.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..errors import UsageError
from ..events import BEATS_PER_BAR, NoteEvent

# quality -> intervals above the root (the chord's tones)
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10),
    "dim": (0, 3, 6), "sus4": (0, 5, 7),
    # parsed and converted, never recognised
    "aug": (0, 4, 8), "sus2": (0, 2, 7), "dim7": (0, 3, 6, 9), "hdim7": (0, 3, 6, 10), "maj6": (0, 4, 7, 9),
    "min6": (0, 3, 7, 9), "minmaj7": (0, 3, 7, 11), "7sus4": (0, 5, 7, 10),
}
RECOGNISED = ("maj", "min", "7", "maj7", "min7", "dim", "sus4")
# the suffix each quality is written with
SUFFIX = {"maj": "", "min": "m", "7": "7", "maj7": "maj7", "min7": "m7", "dim": "dim", "sus4": "sus4",
          "aug": "aug", "sus2": "sus2", "dim7": "dim7", "hdim7": "m7b5", "maj6": "6", "min6": "m6",
          "minmaj7": "mmaj7", "7sus4": "7sus4"}
_ALIASES = {
    "": "maj", "M": "maj", "maj": "maj", "Maj": "maj", "m": "min", "min": "min", "-": "min",
    "7": "7", "dom7": "7", "maj7": "maj7", "M7": "maj7", "Maj7": "maj7", "ma7": "maj7", "Δ": "maj7", "Δ7": "maj7",
    "m7": "min7", "min7": "min7", "-7": "min7", "dim": "dim", "°": "dim", "o": "dim",
    "sus4": "sus4", "sus": "sus4", "sus2": "sus2", "aug": "aug", "+": "aug",
    "dim7": "dim7", "°7": "dim7", "o7": "dim7", "m7b5": "hdim7", "m7-5": "hdim7", "ø": "hdim7", "ø7": "hdim7",
    "hdim7": "hdim7", "6": "maj6", "maj6": "maj6", "m6": "min6", "min6": "min6",
    "mmaj7": "minmaj7", "mMaj7": "minmaj7", "mM7": "minmaj7", "minmaj7": "minmaj7", "7sus4": "7sus4", "7sus": "7sus4",
}
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]  # one spelling per pitch class
_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"#": 1, "♯": 1, "b": -1, "♭": -1}
_NOTE = re.compile(r"([A-Ga-g])([#♯b♭]?)$")
_CHORD = re.compile(r"([A-Ga-g])([#♯b♭]?)(.*?)(?:/([A-Ga-g][#♯b♭]?))?$")
HELP = "use names like C, Am, G7, Fmaj7, Bm7, Bdim, Dsus4, C/E or N"

MIN_SOUND = 0.125     # less sounding note-time than this share of the span: silence (N)
SEVENTH_COST = 0.15   # what a seventh chord's 4th tone costs (its 7th must hold > 7.5% of the sound)
RARE_COST = 0.1       # what a dim or sus4 chord must beat the triads by
BASS_WEIGHT = 0.3     # weight of the root being the lowest sounding note
MIN_BASS = 0.125      # the chord's bass: the lowest note sounding for at least this share of the span


@dataclass(frozen=True)
class Chord:
    """A chord: ``root`` pitch class 0..11 (None for no chord), ``quality`` (a ``QUALITIES`` key or
    ``"N"``), ``bass`` pitch class (defaults to the root)."""

    root: int | None
    quality: str
    bass: int | None = None

    def __post_init__(self) -> None:
        if self.quality == "N":
            if self.root is not None or self.bass is not None:
                raise ValueError("no chord (N) has no root or bass")
            return
        if self.quality not in QUALITIES:
            raise ValueError(f"unknown chord quality {self.quality!r}")
        if self.root is None or not 0 <= int(self.root) < 12:
            raise ValueError(f"chord root must be a pitch class 0..11 (received {self.root!r})")
        object.__setattr__(self, "root", int(self.root))
        object.__setattr__(self, "bass", int(self.root if self.bass is None else self.bass) % 12)

    @property
    def is_none(self) -> bool:
        return self.quality == "N"

    @property
    def tones(self) -> frozenset[int]:
        """The chord's pitch classes (the bass of a slash chord not included)."""
        if self.is_none:
            return frozenset()
        return frozenset((self.root + i) % 12 for i in QUALITIES[self.quality])

    @property
    def name(self) -> str:
        if self.is_none:
            return "N"
        slash = f"/{NAMES[self.bass]}" if self.bass != self.root else ""
        return f"{NAMES[self.root]}{SUFFIX[self.quality]}{slash}"

    def __str__(self) -> str:
        return self.name

    def same_harmony(self, other: "Chord") -> bool:
        """Same root and quality (the bass, i.e. the inversion, not compared)."""
        return self.root == other.root and self.quality == other.quality

    def transposed(self, semitones: int) -> "Chord":
        if self.is_none:
            return self
        return Chord((self.root + semitones) % 12, self.quality, (self.bass + semitones) % 12)


NO_CHORD = Chord(None, "N")


# --- names --------------------------------------------------------------------------------

def note_class(name: str) -> int:
    """Pitch class of a note name (``C``, ``F#``, ``Bb``, ``a``); ValueError if it is none."""
    m = _NOTE.match(name.strip())
    if not m:
        raise ValueError(f"not a note name: {name!r}")
    return (_NATURALS[m.group(1).upper()] + _ACCIDENTALS.get(m.group(2), 0)) % 12


def parse_chord(text: str) -> Chord:
    """A chord from its name (see the module docstring); ``N`` is no chord.
    Raises a one-line UsageError naming the text when it is no chord name."""
    s = str(text).strip()
    if s in ("N", "NC", "N.C."):
        return NO_CHORD
    m = _CHORD.match(s)
    quality = _ALIASES.get(m.group(3)) if m else None
    if quality is None:
        raise UsageError(f"unknown chord {_quote(text)}: {HELP}")
    root = note_class(m.group(1) + m.group(2))
    bass = note_class(m.group(4)) if m.group(4) else root
    return Chord(root, quality, bass)


def _quote(text) -> str:
    s = str(text).replace("\n", " ").replace("\r", " ")
    return repr(s if len(s) <= 40 else s[:37] + "...")


def parse_progression(text: str, beats_per_bar: int = BEATS_PER_BAR) -> list[tuple[Chord, float]]:
    """(chord, beats) pairs from ``"Am F C G"`` (one bar each) or ``"Am:2 F:2 C:4"`` (beats).
    Chords are separated by spaces, commas or bar lines ``|``. Raises a one-line UsageError for an
    empty progression, an unknown chord (named) or a length that is not a positive number."""
    tokens = [t for t in re.split(r"[\s,|]+", str(text or "")) if t]
    if not tokens:
        raise UsageError(f"empty chord progression: give chords such as \"Am F C G\" ({HELP})")
    out = []
    for tok in tokens:
        name, sep, length = tok.partition(":")
        try:
            beats = float(length) if sep else float(beats_per_bar)
        except ValueError:
            beats = float("nan")
        if not (0 < beats <= 64):
            raise UsageError(f"bad chord length {_quote(tok)} in the progression: the beats after ':' must be a number in (0, 64]")
        try:
            chord = parse_chord(name)
        except UsageError:
            raise UsageError(f"unknown chord {_quote(name)} in the progression: {HELP}") from None
        out.append((chord, beats))
    return out


def per_beat(progression: Sequence[tuple[Chord, float]], beats: int | None = None) -> list[Chord]:
    """The chord sounding on each beat (beat k spans [k, k+1)): the chord at the beat's start.
    With ``beats`` the progression repeats (or is cut) to that many beats."""
    starts = np.cumsum([0.0] + [b for _, b in progression])
    total = float(starts[-1])
    n = int(np.ceil(total - 1e-9)) if beats is None else int(beats)
    out = []
    for k in range(n):
        t = k % total if total > 0 else 0.0
        i = int(np.searchsorted(starts, t + 1e-9, side="right")) - 1
        out.append(progression[min(i, len(progression) - 1)][0])
    return out


def per_bar(chords_per_beat: Sequence[Chord], beats_per_bar: int = BEATS_PER_BAR) -> list[Chord]:
    """One chord per bar from one per beat: the chord on most of the bar's beats (ties: the
    earliest of them), N only if every beat is N."""
    out = []
    for b in range(0, len(chords_per_beat), beats_per_bar):
        bar = list(chords_per_beat[b:b + beats_per_bar])
        sounding = [c for c in bar if not c.is_none] or bar
        out.append(max(sounding, key=lambda c: (sounding.count(c), -sounding.index(c))))
    return out


# --- the corpora's labels -----------------------------------------------------------------

_POP909_QUALITY = {"maj": "maj", "min": "min", "7": "7", "maj7": "maj7", "min7": "min7", "dim": "dim",
                   "sus4": "sus4", "sus2": "sus2", "aug": "aug", "dim7": "dim7", "hdim7": "hdim7",
                   "maj6": "maj6", "min6": "min6", "minmaj7": "minmaj7", "sus4(b7)": "7sus4"}
_DEGREES = {"1": 0, "2": 2, "3": 4, "4": 5, "5": 7, "6": 9, "7": 11, "9": 2, "11": 5, "13": 9}
_POP1K7_QUALITY = {"M": "maj", "m": "min", "7": "7", "M7": "maj7", "m7": "min7", "o": "dim", "+": "aug",
                   "sus2": "sus2", "sus4": "sus4", "/o7": "hdim7", "o7": "dim7"}


def _degree(text: str) -> int:
    """Semitones of a Harte bass degree: ``3`` → 4, ``b3`` → 3, ``b7`` → 10, ``#5`` → 8."""
    m = re.fullmatch(r"([b#]*)(\d+)", text)
    if not m or m.group(2) not in _DEGREES:
        raise ValueError(text)
    return _DEGREES[m.group(2)] + m.group(1).count("#") - m.group(1).count("b")


def from_pop909(label: str) -> Chord:
    """A POP909 chord label (Harte syntax: ``C:maj7``, ``A:min``, ``G:7/b7``, ``C:maj/3``,
    ``F:sus4(b7)``, ``N``). The bass degree counts from the root (``/3`` of C major is E)."""
    s = str(label).strip()
    if s == "N":
        return NO_CHORD
    try:
        root, _, rest = s.partition(":")
        qual, _, bass = rest.partition("/")
        r = note_class(root)
        return Chord(r, _POP909_QUALITY[qual], (r + _degree(bass)) % 12 if bass else r)
    except (KeyError, ValueError):
        raise UsageError(f"unknown POP909 chord label {_quote(label)}") from None


def from_pop1k7(marker: str) -> Chord:
    """A Pop1K7 chord marker ``root_quality_bass`` (``G_m7_F``, ``A#_M7_A#``, ``D_/o7_D``,
    ``N_N_N`` = no chord); the bass is a note name."""
    parts = str(marker).strip().split("_")
    if parts[:2] == ["N", "N"]:
        return NO_CHORD
    try:
        root, qual, bass = parts
        return Chord(note_class(root), _POP1K7_QUALITY[qual], note_class(bass))
    except (KeyError, ValueError):
        raise UsageError(f"unknown Pop1K7 chord marker {_quote(marker)}") from None


# --- recognition --------------------------------------------------------------------------

def _overlaps(notes: Sequence[NoteEvent], start: float, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pitch, clipped start, clipped end) of the notes sounding within [start, end)."""
    a = np.array([(n.pitch, max(n.start, start), min(n.end, end)) for n in notes], float).reshape(-1, 3)
    a = a[a[:, 2] > a[:, 1]]
    return a[:, 0].astype(int), a[:, 1], a[:, 2]


def pitch_class_weights(notes: Sequence[NoteEvent], start: float, end: float) -> np.ndarray:
    """w[c] = Σ over notes of pitch class c of the time they sound within [start, end) (beats)."""
    p, a, b = _overlaps(notes, start, end)
    return np.bincount(p % 12, weights=b - a, minlength=12).astype(float)


def bass_weights(notes: Sequence[NoteEvent], start: float, end: float) -> np.ndarray:
    """w[c] = time within [start, end) during which the lowest sounding note has pitch class c."""
    p, a, b = _overlaps(notes, start, end)
    w = np.zeros(12)
    if not len(p):
        return w
    edges = np.unique(np.concatenate([a, b]))
    for lo, hi in zip(edges[:-1], edges[1:]):
        on = (a <= lo) & (b >= hi)
        if on.any():
            w[p[on].min() % 12] += hi - lo
    return w


_TEMPLATES = [(r, q, np.isin(np.arange(12), [(r + i) % 12 for i in QUALITIES[q]])) for q in RECOGNISED for r in range(12)]
_MASK = np.array([t for _, _, t in _TEMPLATES], float)          # (84, 12)
_ROOTS = np.array([r for r, _, _ in _TEMPLATES])
_COST = np.array([SEVENTH_COST if q in ("7", "maj7", "min7") else RARE_COST if q in ("dim", "sus4") else 0.0
                  for _, q, _ in _TEMPLATES])


def template_scores(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Scores of the 84 templates (``RECOGNISED`` order, roots ascending) for a pitch-class
    histogram ``p`` and a bass histogram ``q`` (each normalised here): see the module docstring."""
    p = np.asarray(p, float) / max(float(np.sum(p)), 1e-12)
    q = np.asarray(q, float) / max(float(np.sum(q)), 1e-12)
    fit = _MASK @ p - (1.0 - _MASK) @ p
    return fit - _COST + BASS_WEIGHT * q[_ROOTS]


def recognise(notes: Iterable[NoteEvent], start: float, end: float) -> Chord:
    """The chord the notes play within [start, end) (beats): ``NO_CHORD`` for silence, else the
    best-scoring template with its bass (module docstring)."""
    notes = list(notes)
    p = pitch_class_weights(notes, start, end)
    if p.sum() < MIN_SOUND * (end - start) or p.sum() <= 0:
        return NO_CHORD
    q = bass_weights(notes, start, end)
    k = int(np.argmax(template_scores(p, q)))  # argmax: the first of equal scores
    root, quality, mask = _TEMPLATES[k]
    low = lowest_note(notes, start, end)
    return Chord(root, quality, low % 12 if low is not None and mask[low % 12] else root)


def lowest_note(notes: Sequence[NoteEvent], start: float, end: float) -> int | None:
    """The lowest pitch sounding for at least ``MIN_BASS`` × (end − start) within [start, end) (a
    pitch's time summed over its notes); None if no pitch sounds that long."""
    p, a, b = _overlaps(notes, start, end)
    if not len(p):
        return None
    time = np.bincount(p, weights=b - a, minlength=128)
    long = np.flatnonzero(time >= MIN_BASS * (end - start) - 1e-9)
    return int(long[0]) if len(long) else None


def recognise_spans(notes: Iterable[NoteEvent], bounds: Sequence[float]) -> list[Chord]:
    """One chord per span [bounds[i], bounds[i+1]) (e.g. bar lines in beats)."""
    notes = sorted(notes, key=lambda n: n.start)
    starts = np.array([n.start for n in notes])
    longest = max((n.duration for n in notes), default=0.0)
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        i0, i1 = np.searchsorted(starts, lo - longest), np.searchsorted(starts, hi)
        out.append(recognise(notes[i0:i1], lo, hi))
    return out


def recognise_bars(notes: Iterable[NoteEvent], bars: int, beats_per_bar: int = BEATS_PER_BAR) -> list[Chord]:
    """One chord per bar for ``bars`` bars of ``beats_per_bar`` beats from beat 0."""
    return recognise_spans(notes, [b * beats_per_bar for b in range(bars + 1)])


# --- a progression as the user gives it and takes it back ------------------------------------

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor and the leading tone its V chord raises


def progression_key(progression: Sequence[tuple[Chord, float]], mode: str | None = None) -> tuple[int, str]:
    """The key a progression is in: (tonic pitch class, mode).

    1. ``w`` = the chords' tones weighted by their beats.
    2. The candidates are the keys whose scale (major; natural minor with its leading tone) holds
       the most of ``w``, within 0.02 of the best.
    3. Among them, the key whose tonic triad is the first chord (songs and loops name their key
       where they start: ``Am F C G`` is A minor, ``C Am F G`` C major), else the last chord (a
       cadence: ``Dm G C`` is C major), else the best Krumhansl–Schmuckler correlation of ``w``.

    ``mode`` ("major" or "minor"), where given, is preferred among the candidates: a progression that
    fits a major key fits its relative minor as well (the same tones), and the picture's mood decides
    which the model hears (``C Am F G`` for a sad picture is A minor)."""
    from .keys import key_correlations

    hist = np.zeros(12)
    for chord, beats in progression:
        for pc in chord.tones:
            hist[pc] += beats
    if hist.sum() <= 0:
        return 0, "major"
    keys = [(t, m) for m in ("major", "minor") for t in range(12)]
    fit = np.array([sum(hist[(t + i) % 12] for i in (MAJOR_SCALE if m == "major" else MINOR_SCALE)) for t, m in keys])
    maj, mnr = key_correlations(hist)
    ks = np.concatenate([maj, mnr])
    candidates = [k for k, f in zip(keys, fit) if f >= fit.max() - 0.02 * hist.sum()]
    if mode is not None and any(m == mode for _, m in candidates):
        candidates = [k for k in candidates if k[1] == mode]
    sounding = [c for c, _ in progression if not c.is_none]
    for chord in (sounding[:1] + sounding[-1:]):
        for tonic, mode in candidates:
            if chord.root == tonic and (tonic + (4 if mode == "major" else 3)) % 12 in chord.tones:
                return tonic, mode
    return max(candidates, key=lambda k: ks[keys.index(k)])


def progression_text(chords_per_beat: Sequence[Chord], beats_per_bar: int = BEATS_PER_BAR) -> str:
    """The progression as ``parse_progression`` reads it: a chord's name alone where it fills a
    bar, ``name:beats`` otherwise (``"Am F:2 G:2 C"``); neighbouring beats of one chord are joined
    inside a bar, never across a bar line, so the text keeps the bars."""
    words = []
    for b in range(0, len(chords_per_beat), beats_per_bar):
        bar = list(chords_per_beat[b:b + beats_per_bar])
        runs: list[list] = []
        for c in bar:
            if runs and runs[-1][0] == c:
                runs[-1][1] += 1
            else:
                runs.append([c, 1])
        for c, n in runs:
            words.append(c.name if n == beats_per_bar else f"{c.name}:{n}")
    return " ".join(words)


def changes(chords_per_beat: Sequence[Chord]) -> list[tuple[int, Chord]]:
    """(beat, chord) where the harmony changes, beat 0 always included: the markers a file shows."""
    out: list[tuple[int, Chord]] = []
    for k, c in enumerate(chords_per_beat):
        if not out or out[-1][1] != c:
            out.append((k, c))
    return out


def _root_and_third(c: Chord) -> tuple:
    if c.is_none:
        return (None, None)
    return (c.root, tuple(i for i in (3, 4) if (c.root + i) % 12 in c.tones))


def progression_of(notes: Sequence[NoteEvent], bars: int, beats_per_span: int = 2,
                   beats_per_bar: int = BEATS_PER_BAR) -> list[Chord]:
    """The chord on each beat of ``bars`` bars of notes, recognised per span of ``beats_per_span``
    beats (half a bar by default: a clip that changes chord mid-bar keeps both); a silent span is
    N. Where both halves of a bar read the same root and third, the bar is one chord, recognised
    over the whole bar (a broken chord whose seventh falls in one half only is one chord)."""
    bounds = [k * beats_per_span for k in range(bars * beats_per_bar // beats_per_span + 1)]
    spans = recognise_spans(notes, bounds)
    whole = recognise_bars(notes, bars, beats_per_bar)
    per = beats_per_bar // beats_per_span
    out: list[Chord] = []
    for b in range(bars):
        parts = spans[b * per:(b + 1) * per]
        if all(_root_and_third(p) == _root_and_third(parts[0]) for p in parts):
            out += [whole[b]] * beats_per_bar
        else:
            out += [c for c in parts for _ in range(beats_per_span)]
    return out


def progression_from_midi(path) -> str:
    """The chord progression a MIDI clip plays, as ``GenerationSettings.chords`` text
    (``--chords-from``): whole bars of silence before its first note dropped (a clip exported from
    bar 97 of a song starts at its own first bar), then ``progression_of`` — a chord per half bar,
    one per bar where both halves agree — written by ``progression_text``. Read in beats, whatever
    the tempo. Raises a one-line error (exit 2): ``MidiError`` for a broken or note-less file,
    ``UsageError`` for a meter other than 4/4, a clip too long, or notes too short to name a chord."""
    import math

    from ..files.midi_io import read_midi
    from ..files.outputs import one_line

    max_bars = 1024  # a song's chords, not an hour of them: longer is a file made by accident
    piece = read_midi(path)
    name = one_line(path)
    odd = [(n, d) for _, n, d in piece.time_signatures if (n, d) != (4, 4)]
    if odd:
        raise UsageError(f"{name}: is in {odd[0][0]}/{odd[0][1]}; chords are read from clips in 4/4 only")
    lead = math.floor(min(n.start_beat for n in piece.notes) / BEATS_PER_BAR) * BEATS_PER_BAR
    notes = [NoteEvent(n.pitch, n.velocity, n.start_beat - lead, n.end_beat - n.start_beat) for n in piece.notes]
    # a chord held a hair past the last bar line does not make a new bar (as a --prime phrase)
    bars = max(1, math.ceil(max(n.end for n in notes) / BEATS_PER_BAR - 1 / 16))
    if bars > max_bars:
        raise UsageError(f"{name}: {bars} bars from its first note to its last is too long for a chord progression "
                         f"(limit {max_bars} bars)")
    chords = progression_of(notes, bars)
    if all(c.is_none for c in chords):
        raise UsageError(f"{name}: its notes are too short to name a chord (hold each chord for its span)")
    return progression_text(chords)
