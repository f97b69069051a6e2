"""Form, melody, register and harmony of a piece, measured bar by bar (issue #24, "Songs, not textures").

    statistics(notes, bars=32)                         # every measure below, as a dict
    statistics(notes, bars=song.bar_lines(1, 32), chords=per_bar_chords)
    python -m engine.training.form_stats --split test  # the corpora's test songs, as a markdown table

Like ``engine.training.musicality``, everything is computed from notes (``NoteEvent``: beats), one
small function a measure with its formula in the docstring, NaN where a measure is undefined.
``bars`` is either a number of 4-beat bars from beat 0 (generated music) or the bar lines in beats,
first to last (a song's own bars, which are not always 4 beats: ``Song.bar_lines``). Notes
starting outside [first line, last line) are left out.

The grid is 16th notes: a note's step is round(4 · (start − bar line)). Bar b's vector V_b is the
binary pitch × onset-step matrix, V_b[p, s] = 1 if a note of MIDI pitch p starts on step s of the
bar (flattened; bars of other lengths are padded), and

    cos(b, c) = V_b·V_c / (|V_b| |V_c|) = |A ∩ B| / √(|A| |B|)   for the onset sets A, B;

bars without onsets have no vector and are left out of every mean below.

Protocol of the CLI (the issue's reference numbers): the test split's songs in 4/4
(engine.training.song_split, engine.training.songs), each from its first downbeat — the bar line
at or after its first onset, so a pickup bar is skipped — for 32 bars of the song's own bar lines
(fewer where the song is shorter); each measure is averaged over the songs where it is defined.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Iterable, Sequence

import numpy as np

from ..music.chords import NO_CHORD, Chord, per_bar, recognise_spans
from ..events import BEATS_PER_BAR, NoteEvent

STEPS_PER_BEAT = 4
RESTATE_COS = 0.8                 # a bar restates an earlier one at this cosine or more
FORM_LAGS = (4, 8)                # phrase lags
OFF_LAGS = (3, 5, 6, 7)           # lags between them
STEP_MAX, LEAP_MIN = 2, 5         # top line: a step is ≤ 2 semitones, a leap ≥ 5
TOL = 1e-6
NAN = float("nan")

# issue #24's numbers (32 bars), for the table
ISSUE_REFERENCE = {
    "POP909": {"restated": 0.14, "sim_4": 0.24, "sim_8": 0.25, "contrast": 0.10, "onsets_per_beat": "2.4–2.6"},
    "Pop1K7": {"restated": 0.10, "sim_4": 0.19, "sim_8": 0.12, "contrast": 0.04, "onsets_per_beat": "2.4–2.6"},
    "shipped model (free form)": {"restated": 0.03, "sim_4": 0.16, "sim_8": 0.12, "contrast": 0.00, "onsets_per_beat": 1.35},
}


# --- bars ---------------------------------------------------------------------------------

def bar_lines(bars: int | Sequence[float]) -> np.ndarray:
    """Bar lines in beats: ``bars`` 4-beat bars from 0 (an int), or the lines as given."""
    if isinstance(bars, (int, np.integer)):
        return np.arange(int(bars) + 1, dtype=float) * BEATS_PER_BAR
    lines = np.asarray(bars, float)
    if lines.ndim != 1 or len(lines) < 2 or np.any(np.diff(lines) <= 0):
        raise ValueError("bars: an int, or at least two increasing bar lines in beats")
    return lines


def _bar_index(notes: Sequence[NoteEvent], lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bar, step within the bar) of each note's onset; bar −1 outside [lines[0], lines[-1])."""
    s = np.array([n.start for n in notes], float)
    b = np.searchsorted(lines, s + TOL, side="right") - 1
    b = np.where((s < lines[0] - TOL) | (s >= lines[-1] - TOL), -1, b)
    step = np.round((s - lines[np.clip(b, 0, len(lines) - 1)]) * STEPS_PER_BEAT).astype(int)
    return b, step


def bar_vectors(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> np.ndarray:
    """(B, 128·S) binary: row b is V_b (pitch × 16th onset step, S = steps in the longest bar)."""
    lines = bar_lines(bars)
    width = int(round(np.diff(lines).max() * STEPS_PER_BEAT))
    v = np.zeros((len(lines) - 1, 128, width))
    if notes:
        b, step = _bar_index(notes, lines)
        p = np.array([n.pitch for n in notes])
        ok = (b >= 0) & (step >= 0) & (step < width)
        v[b[ok], p[ok], step[ok]] = 1.0
    return v.reshape(len(lines) - 1, -1)


def bar_similarity(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> np.ndarray:
    """(B, B) cosine similarity of the bars' vectors; NaN in the rows and columns of empty bars."""
    v = bar_vectors(notes, bars)
    norm = np.linalg.norm(v, axis=1)
    u = v / np.where(norm > 0, norm, 1.0)[:, None]
    sim = u @ u.T
    empty = norm == 0
    sim[empty, :] = NAN
    sim[:, empty] = NAN
    return sim


def _nanmean(x) -> float:
    x = np.asarray(x, float)
    return float(np.nanmean(x)) if np.isfinite(x).any() else NAN


# --- form ---------------------------------------------------------------------------------

def restated_share(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> float:
    """Bars that restate an earlier bar: among the bars b ≥ 1 holding onsets, the share with
    max_{c < b} cos(b, c) ≥ 0.8 (over earlier bars holding onsets). NaN if no such bar b."""
    sim = bar_similarity(notes, bars)
    hits = []
    for b in range(1, len(sim)):
        if np.isnan(sim[b, b]):
            continue
        earlier = sim[b, :b][np.isfinite(sim[b, :b])]
        hits.append(bool(len(earlier)) and earlier.max() >= RESTATE_COS - 1e-9)
    return float(np.mean(hits)) if hits else NAN


def lag_similarity(notes: Sequence[NoteEvent], bars: int | Sequence[float], lag: int) -> float:
    """Similarity ``lag`` bars back: mean over b ≥ lag of cos(b, b − lag), over the pairs where
    both bars hold onsets. NaN if there is none."""
    sim = bar_similarity(notes, bars)
    return _nanmean([sim[b, b - lag] for b in range(lag, len(sim))])


def lag_profile(notes: Sequence[NoteEvent], bars: int | Sequence[float], lags: Iterable[int] = range(1, 9)) -> dict[int, float]:
    """``lag_similarity`` for each lag (one similarity matrix)."""
    sim = bar_similarity(notes, bars)
    return {k: _nanmean([sim[b, b - k] for b in range(k, len(sim))]) for k in lags}


def form_contrast(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> float:
    """Form contrast: mean(sim(4), sim(8)) − mean(sim(3), sim(5), sim(6), sim(7)), sim = ``lag_similarity``
    (NaN lags left out of their mean). > 0: bars repeat at phrase distances more than between them."""
    prof = lag_profile(notes, bars, FORM_LAGS + OFF_LAGS)
    return _nanmean([prof[k] for k in FORM_LAGS]) - _nanmean([prof[k] for k in OFF_LAGS])


def _beats(bars: int | Sequence[float]) -> float:
    lines = bar_lines(bars)
    return float(lines[-1] - lines[0])


def onset_density(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> float:
    """Onsets per beat: the number of distinct 16th steps on which a note begins, divided by the
    beats in the bars (0..4)."""
    lines = bar_lines(bars)
    b, step = _bar_index(notes, lines) if notes else (np.zeros(0, int), np.zeros(0, int))
    steps = {(int(x), int(y)) for x, y in zip(b, step) if x >= 0}
    return len(steps) / _beats(lines)


# --- the top line (melody) ----------------------------------------------------------------

def _within(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> list[NoteEvent]:
    lines = bar_lines(bars)
    return [n for n in notes if lines[0] - TOL <= n.start < lines[-1] - TOL]


def top_line(notes: Sequence[NoteEvent]) -> list[NoteEvent]:
    """The top line (skyline), in time order: at each 16th step where notes begin (onsets
    rounded to the 16th), the highest of them — unless a higher note begun on an earlier step is
    still sounding there (the line is held above it, so an inner voice does not break in)."""
    if not notes:
        return []
    ns = sorted(notes, key=lambda n: (round(n.start * STEPS_PER_BEAT), -n.pitch))
    out, held = [], []  # held: (end, pitch) of the notes begun on earlier steps
    i = 0
    while i < len(ns):
        step = round(ns[i].start * STEPS_PER_BEAT)
        t = step / STEPS_PER_BEAT
        top = ns[i]
        j = i
        while j < len(ns) and round(ns[j].start * STEPS_PER_BEAT) == step:
            j += 1
        if not any(end > t + TOL and pitch > top.pitch for end, pitch in held):
            out.append(top)
        held = [(e, p) for e, p in held if e > t + TOL] + [(n.end, n.pitch) for n in ns[i:j]]
        i = j
    return out


def _intervals(notes: Sequence[NoteEvent]) -> np.ndarray:
    return np.abs(np.diff([n.pitch for n in top_line(notes)])).astype(float)


def top_line_steps(notes: Sequence[NoteEvent]) -> float:
    """Top-line continuity: share of successive top-line intervals |Δp| ≤ 2 semitones (repeated
    notes count). NaN with fewer than two top-line notes."""
    d = _intervals(notes)
    return float(np.mean(d <= STEP_MAX)) if len(d) else NAN


def top_line_leaps(notes: Sequence[NoteEvent]) -> float:
    """Top-line leaps: share of successive top-line intervals |Δp| ≥ 5 semitones. NaN with fewer
    than two top-line notes."""
    d = _intervals(notes)
    return float(np.mean(d >= LEAP_MIN)) if len(d) else NAN


def top_line_register(notes: Sequence[NoteEvent]) -> float:
    """Top line above the accompaniment: mean pitch of the top-line notes − mean pitch of the other
    notes (semitones). NaN if either is empty."""
    top = top_line(notes)
    ids = {id(n) for n in top}
    rest = [n.pitch for n in notes if id(n) not in ids]
    if not top or not rest:
        return NAN
    return float(np.mean([n.pitch for n in top]) - np.mean(rest))


def top_line_rhythm(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> float:
    """Top-line onsets per beat: top-line notes / beats in the bars."""
    return len(top_line(_within(notes, bars))) / _beats(bars)


# --- register -----------------------------------------------------------------------------

HOME_BARS = 4        # the opening phrase whose register the later bars are held against
BASS_ZONE = 5        # semitones above the opening's 10th-percentile pitch that still count as bass
LOW_PITCH = 52       # E3: a bar's lowest note at or below it counts as a low bass, in any key


def _bar_lows(notes: Sequence[NoteEvent], lines: np.ndarray) -> dict[int, int]:
    """The lowest pitch begun in each bar that holds notes."""
    bar, _ = _bar_index(notes, lines)
    lows: dict[int, int] = {}
    for b, n in zip(bar.tolist(), notes):
        if b >= 0:
            lows[b] = min(lows.get(b, 128), n.pitch)
    return lows


def bass_bars(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> float:
    """Bass kept: among the bars after the first ``HOME_BARS`` that hold notes, the share whose lowest
    note is at most ``BASS_ZONE`` semitones above the 10th percentile of the first ``HOME_BARS``
    bars' pitches. NaN if either part is empty."""
    lines = bar_lines(bars)
    notes = _within(notes, lines)
    bar, _ = _bar_index(notes, lines)
    opening = [n.pitch for b, n in zip(bar.tolist(), notes) if 0 <= b < HOME_BARS]
    later = [p for b, p in _bar_lows(notes, lines).items() if b >= HOME_BARS]
    if not opening or not later:
        return NAN
    return float(np.mean(np.array(later) <= np.percentile(opening, 10) + BASS_ZONE))


def low_bars(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> float:
    """Low bass: among the bars that hold notes, the share whose lowest note is at or below E3
    (``LOW_PITCH``). NaN if no bar holds notes."""
    lines = bar_lines(bars)
    lows = list(_bar_lows(_within(notes, lines), lines).values())
    return float(np.mean(np.array(lows) <= LOW_PITCH)) if lows else NAN


def register_wander(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> float:
    """Register wander: the standard deviation (semitones) of the bars' lowest notes, over the bars
    that hold notes. NaN under two such bars."""
    lines = bar_lines(bars)
    lows = list(_bar_lows(_within(notes, lines), lines).values())
    return float(np.std(lows)) if len(lows) >= 2 else NAN


# --- harmony ------------------------------------------------------------------------------

def bar_chords(notes: Sequence[NoteEvent], bars: int | Sequence[float]) -> list[Chord]:
    """The recognised chord of every bar (engine.music.chords.recognise over the bar's span)."""
    return recognise_spans(notes, list(bar_lines(bars)))


def chord_match(notes: Sequence[NoteEvent], bars: int | Sequence[float], chords: Sequence[Chord]) -> float:
    """Chord following: among the bars whose given chord (``chords[b]``, one a bar) is not N, the
    share whose recognised chord has the same root and quality (the bass is not compared). NaN if
    no bar has a chord."""
    got = bar_chords(notes, bars)
    pairs = [(g, c) for g, c in zip(got, chords) if not c.is_none]
    return float(np.mean([g.same_harmony(c) for g, c in pairs])) if pairs else NAN


def chord_root_match(notes: Sequence[NoteEvent], bars: int | Sequence[float], chords: Sequence[Chord]) -> float:
    """Chord roots followed: as ``chord_match``, comparing only the roots."""
    got = bar_chords(notes, bars)
    pairs = [(g, c) for g, c in zip(got, chords) if not c.is_none]
    return float(np.mean([g.root == c.root for g, c in pairs])) if pairs else NAN


# --- everything ---------------------------------------------------------------------------

MEASURES = ["restated", "sim_4", "sim_8", "contrast", "onsets_per_beat", "top_steps", "top_leaps",
            "top_register", "top_onsets_per_beat", "bass_bars", "low_bars", "register_wander", "chord_match", "chord_root_match"]
LABELS = {
    "restated": "bars restating an earlier bar (cos ≥ 0.8)", "sim_4": "similarity 4 bars back",
    "sim_8": "similarity 8 bars back", "contrast": "form contrast (lags 4, 8 − lags 3, 5, 6, 7)",
    "onsets_per_beat": "onsets per beat (16th steps)", "top_steps": "top line: steps (≤ 2 st)",
    "top_leaps": "top line: leaps (≥ 5 st)", "top_register": "top line above the rest (st)",
    "top_onsets_per_beat": "top line: onsets per beat", "bass_bars": "bars with a bass near the opening's",
    "low_bars": "bars with a bass at or below E3", "register_wander": "bars' lowest notes: sd (st)",
    "chord_match": "bars on the given chord",
    "chord_root_match": "bars on the given chord's root",
}


def statistics(notes: Iterable[NoteEvent], bars: int | Sequence[float] = 32, chords: Sequence[Chord] | None = None) -> dict:
    """Every measure of a piece (``MEASURES``); the chord ones need ``chords`` (one a bar), else NaN."""
    lines = bar_lines(bars)
    notes = _within(list(notes), lines)
    prof = lag_profile(notes, lines, sorted(set(FORM_LAGS + OFF_LAGS)))
    top = top_line(notes)
    d = np.abs(np.diff([n.pitch for n in top])).astype(float)
    ids = {id(n) for n in top}
    rest = [n.pitch for n in notes if id(n) not in ids]
    out = {
        "restated": restated_share(notes, lines),
        "sim_4": prof[4], "sim_8": prof[8],
        "contrast": _nanmean([prof[k] for k in FORM_LAGS]) - _nanmean([prof[k] for k in OFF_LAGS]),
        "onsets_per_beat": onset_density(notes, lines),
        "top_steps": float(np.mean(d <= STEP_MAX)) if len(d) else NAN,
        "top_leaps": float(np.mean(d >= LEAP_MIN)) if len(d) else NAN,
        "top_register": float(np.mean([n.pitch for n in top]) - np.mean(rest)) if top and rest else NAN,
        "top_onsets_per_beat": len(top) / _beats(lines),
        "bass_bars": bass_bars(notes, lines), "low_bars": low_bars(notes, lines),
        "register_wander": register_wander(notes, lines),
        "chord_match": NAN, "chord_root_match": NAN,
    }
    if chords is not None:
        got = bar_chords(notes, lines)
        pairs = [(g, c) for g, c in zip(got, chords) if not c.is_none]
        if pairs:
            out["chord_match"] = float(np.mean([g.same_harmony(c) for g, c in pairs]))
            out["chord_root_match"] = float(np.mean([g.root == c.root for g, c in pairs]))
    return out


# --- songs (the CLI) ----------------------------------------------------------------------

def first_downbeat(song) -> int:
    """The bar of a song's first downbeat: 0 if its first onset is on bar 0's line, else 1 (bar 0
    holds only a pickup)."""
    return 0 if len(song.notes) and int(song.notes[:, 2].min()) == int(song.bars[0]) else 1


def song_bar_chords(song, first: int, n: int) -> list[Chord]:
    """The labelled chord of each of ``n`` bars from ``first``: the chord on most of its beats."""
    out = []
    for b in range(first, min(first + n, song.n_bars)):
        lo, hi = int(song.bars[b]) // STEPS_PER_BEAT, int(song.bars[b + 1]) // STEPS_PER_BEAT
        beats = song.chords[lo:hi]
        out.append(per_bar(beats, max(1, len(beats)))[0] if beats else NO_CHORD)
    return out


def per_beat_of(song, first: int, bars: int) -> list[Chord]:
    """The labelled chord of each beat of ``bars`` 4-beat bars from bar ``first``'s line."""
    b0 = int(song.bars[first]) // STEPS_PER_BEAT
    beats = list(song.chords[b0:b0 + bars * BEATS_PER_BAR])
    return beats + [NO_CHORD] * (bars * BEATS_PER_BAR - len(beats))


def song_statistics(song, bars: int = 32, uniform: bool = False) -> dict:
    """``statistics`` of a song's first ``bars`` bars from its first downbeat, on the song's own
    bar lines (``uniform``: 4-beat bars from that downbeat), with its labelled chords. POP909 adds
    how the top line meets the MELODY track: "top_is_melody", the share of top-line notes that are
    melody notes, and "melody_on_top", the share of melody notes on the top line."""
    first = first_downbeat(song)
    if uniform:
        lines = list(bar_lines(max(1, min(bars, int(song.bar_lines(first)[-1] // BEATS_PER_BAR)))))
        chords = per_bar(per_beat_of(song, first, len(lines) - 1))
    else:
        lines = song.bar_lines(first, bars)
        chords = song_bar_chords(song, first, bars)
    notes = [n for n in song.events(first) if n.start < lines[-1] - TOL]
    out = statistics(notes, lines, chords)
    out["bars"] = len(lines) - 1
    if song.melody is not None:
        mel = {(n.start, n.pitch) for n in song.events(first, melody=True) if n.start < lines[-1] - TOL}
        top = {(n.start, n.pitch) for n in top_line(notes)}
        out["top_is_melody"] = len(top & mel) / len(top) if top else NAN
        out["melody_on_top"] = len(top & mel) / len(mel) if mel else NAN
    return out


def summarise(rows: Sequence[dict]) -> dict:
    """Mean of each measure over the pieces where it is defined, and the piece count."""
    keys = [k for k in rows[0]] if rows else []
    return {"pieces": len(rows)} | {k: _nanmean([r[k] for r in rows]) for k in keys}


def chord_agreement(songs, qualities: Sequence[str] = ("maj", "min", "7", "maj7", "min7", "dim", "sus4")) -> dict:
    """Recognition against the songs' own chord labels: every run of beats with one label (N left
    out) is recognised from all its notes; per labelled quality, the share recognised with that
    root and quality, and "majmin_triad": on major/minor labels, the share with the same root and
    the same third (maj, 7, maj7 count as major; min, m7 as minor); "majmin_24_triads": the same
    labels against the plainest recogniser, the major or minor triad covering most note time
    (engine.training.musicality.best_triad's rule)."""
    from ..music.chords import _MASK, pitch_class_weights, recognise

    third = {"maj": "maj", "7": "maj", "maj7": "maj", "min": "min", "min7": "min"}
    hits: dict[str, list[bool]] = {q: [] for q in qualities}
    triad: list[bool] = []
    plain: list[bool] = []
    for song in songs:
        ev = sorted(song.events(), key=lambda n: n.start)
        starts = np.array([n.start for n in ev])
        longest = max((n.duration for n in ev), default=0.0)
        origin = int(song.bars[0]) / STEPS_PER_BEAT
        k = 0
        while k < len(song.chords):
            j = k
            while j < len(song.chords) and song.chords[j] == song.chords[k]:
                j += 1
            label = song.chords[k]
            if not label.is_none and (label.quality in hits or label.quality in ("maj", "min")):
                lo, hi = k - origin, j - origin
                span = ev[np.searchsorted(starts, lo - longest):np.searchsorted(starts, hi)]
                got = recognise(span, lo, hi)
                if label.quality in hits:
                    hits[label.quality].append(got.same_harmony(label))
                if label.quality in ("maj", "min"):
                    triad.append(got.root == label.root and third.get(got.quality) == label.quality)
                    best = int(np.argmax(_MASK[:24] @ pitch_class_weights(span, lo, hi)))  # maj C..B, then min C..B
                    plain.append(best % 12 == label.root and ("maj", "min")[best // 12] == label.quality)
            k = j
    out = {q: (float(np.mean(h)) if h else NAN, len(h)) for q, h in hits.items()}
    out["majmin_triad"] = (float(np.mean(triad)) if triad else NAN, len(triad))
    out["majmin_24_triads"] = (float(np.mean(plain)) if plain else NAN, len(plain))
    return out


def _f(v, nd: int = 2, sign: bool = False) -> str:
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.{nd}f}" if sign else f"{v:.{nd}f}"


def markdown(results: dict[str, dict], reference: dict[str, dict] | None = ISSUE_REFERENCE) -> str:
    """A table: one row a set of pieces (``summarise`` results), then the issue's reference rows."""
    head = ["", "songs", "bars"] + [LABELS[c] for c in MEASURES]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        cells = [name, str(r.get("pieces", "")), _f(r.get("bars"), 1)]
        cells += [_f(r.get(c), 2, sign=c == "contrast") for c in MEASURES]
        lines.append("| " + " | ".join(cells) + " |")
    for name, r in (reference or {}).items():
        cells = [f"issue #24: {name}", "", "32"] + [_f(r[c], 2, sign=c == "contrast") if c in r else "" for c in MEASURES]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="engine.training.form_stats", description="form, top line and harmony of the corpora's songs")
    ap.add_argument("--data", help="data directory (default: $SYNESTHETE_DATA or ../shared/data)")
    ap.add_argument("--split", choices=("train", "val", "test"), default="test")
    ap.add_argument("--bars", type=int, default=32)
    ap.add_argument("--chords", action="store_true", help="also recognition against the songs' own chord labels, per quality")
    ap.add_argument("--uniform-bars", action="store_true", help="4-beat bars from the first downbeat instead of the songs' own bar lines")
    a = ap.parse_args(argv)
    from .song_split import split_ids
    from .songs import corpus_dir, load_songs

    root = corpus_dir(a.data)
    results, extra = {}, []
    names = {"pop909": "POP909", "pop1k7": "Pop1K7"}
    for corpus, name in names.items():
        songs = load_songs(root, split_ids(a.split, corpus), progress=sys.stderr.isatty())
        kept = [s for s in songs if s.four_four]
        rows = [song_statistics(s, a.bars, a.uniform_bars) for s in kept]
        results[f"{name} {a.split}"] = summarise(rows)
        skipped = len(songs) - len(kept)
        extra.append(f"- {name}: {len(kept)} of {len(songs)} {a.split} songs in 4/4"
                     + (f" ({skipped} left out: " + ", ".join(f"{s.id} {s.meter}" for s in songs if not s.four_four) + ")" if skipped else ""))
        if corpus == "pop909" and rows:
            r = results[f"{name} {a.split}"]
            extra.append(f"- POP909 top line vs the MELODY track: {r['top_is_melody']:.2f} of top-line notes are melody notes, "
                         f"{r['melody_on_top']:.2f} of melody notes are on the top line")
        if a.chords:
            agree = chord_agreement(kept)
            extra.append(f"- {name} chord recognition vs its labels (segments): "
                         + ", ".join(f"{q} {v:.2f} (n={n})" for q, (v, n) in agree.items()))
    print(markdown(results))
    print()
    print("\n".join(extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
