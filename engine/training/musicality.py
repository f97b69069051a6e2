"""Musicality: statistics a musician would recognise, and a classifier two-sample test.

Everything is computed from notes (``NoteEvent``: pitch, velocity, start and duration in
beats, 4/4), never from tokens, so real music, the shipped model and any other system are
measured the same way. A piece is looked at over its first ``bars`` bars: notes starting at or
after ``bars * 4`` beats are dropped and the rest are cut at that bar line (``clip``), so a
real piece and a generated one of the same length are compared on the same span.

Every statistic is one small function with its formula in the docstring. Where a statistic
is undefined (an empty piece, one note, no strong-beat onsets, fewer than two bars with
notes, ...) it is NaN, never an exception. ``features`` stacks them in the order of
``FEATURES`` for the two-sample test:

    two_sample_accuracy(real, generated, bars=8)   # random forest, balanced, k-fold CV: ~0.5 = indistinguishable
    real_vs_real_floor(real, bars=8)               # the same test between two random halves of real music
    compare(real, generated, bars=8, real_vas=..., generated_vas=...)   # everything above, by quadrant too
    python -m engine.training.musicality --bars 8  # real test pieces vs the shipped model, as a table

Conventions: the grid is 16th notes (``STEPS_PER_BEAT`` = 4 steps per beat); two onsets
closer than ``TOL`` (1/96 beat) count as simultaneous; "bar b" spans beats ``[4b, 4b + 4)``.
"""
from __future__ import annotations

import math
import sys
from typing import Iterable, Sequence

import numpy as np

from ..events import BEATS_PER_BAR, QUADRANT_NAMES, NoteEvent, quadrant

STEPS_PER_BEAT = 4                      # 16th-note grid
STEPS_PER_BAR = STEPS_PER_BEAT * BEATS_PER_BAR
TOL = 1.0 / 96.0                        # onsets closer than this (in beats) are simultaneous
MIDDLE_C = 60
STEP_MAX, LEAP_MIN = 2, 5               # top-voice intervals: step ≤ 2 semitones, leap ≥ 5
STRONG_BEATS = (0, 2)                   # beats 1 and 3 of a 4/4 bar (0-based beat in the bar)
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)

# (name, root pitch class, pitch classes) for the 12 major and 12 minor triads
TRIADS = [(f"{r}maj", r, frozenset({r, (r + 4) % 12, (r + 7) % 12})) for r in range(12)] + \
         [(f"{r}min", r, frozenset({r, (r + 3) % 12, (r + 7) % 12})) for r in range(12)]

# The feature vector of ``features``, in order (one statistic function each, see STATISTICS).
FEATURES = [
    "notes_per_bar", "pitch_range", "mean_pitch", "pitch_entropy", "pitch_class_entropy",
    "scale_share", "bar_repetition", "chroma_repetition", "chord_tone_share",
    "step_share", "leap_share", "top_voice_interval", "polyphony", "bass_share",
    "mean_duration", "mean_ioi", "ioi_std", "onbeat_share", "silence_share",
    "velocity_mean", "velocity_std",
]
# short labels for tables
LABELS = {
    "notes_per_bar": "notes per bar", "pitch_range": "pitch range (p5–p95, semitones)",
    "mean_pitch": "mean pitch (register, MIDI)", "pitch_entropy": "pitch entropy (bits)",
    "pitch_class_entropy": "pitch-class entropy (bits)", "scale_share": "note time in best major scale",
    "bar_repetition": "bar-to-bar repetition", "chroma_repetition": "chroma repetition (later vs earlier beats)",
    "chord_tone_share": "chord tones on beats 1 and 3", "step_share": "top voice: steps (≤ 2 st)",
    "leap_share": "top voice: leaps (≥ 5 st)", "top_voice_interval": "top voice: mean abs. interval (st)",
    "polyphony": "polyphony (notes sounding at onsets)", "bass_share": "notes below middle C",
    "mean_duration": "mean duration (beats)", "mean_ioi": "mean inter-onset interval (beats)",
    "ioi_std": "inter-onset interval std (beats)", "onbeat_share": "onsets on a beat",
    "silence_share": "silent 16ths", "velocity_mean": "velocity mean", "velocity_std": "velocity std",
}

NAN = float("nan")


# --- helpers ------------------------------------------------------------------------------

def clip(notes: Iterable[NoteEvent], bars: int | None) -> list[NoteEvent]:
    """The first ``bars`` bars: notes with 0 ≤ start < 4·bars, their end cut at 4·bars
    (``bars`` None: all notes, unchanged)."""
    notes = list(notes)
    if bars is None:
        return notes
    end = bars * BEATS_PER_BAR
    return [n if n.end <= end else NoteEvent(n.pitch, n.velocity, n.start, end - n.start, n.channel)
            for n in notes if 0 <= n.start < end - 1e-9]


def from_bar(notes: Iterable[NoteEvent], first: int) -> list[NoteEvent]:
    """The piece from its bar ``first`` (1-based) on, moved to start at beat 0: notes that start
    earlier are dropped."""
    shift = (first - 1) * BEATS_PER_BAR
    return [NoteEvent(n.pitch, n.velocity, n.start - shift, n.duration, n.channel) for n in notes if n.start >= shift - 1e-9]


def n_bars(notes: Sequence[NoteEvent], bars: int | None = None) -> int:
    """``bars`` if given, else the bars up to and including the one of the last onset (0 if empty)."""
    if bars is not None:
        return int(bars)
    return int(max(n.start for n in notes) // BEATS_PER_BAR) + 1 if notes else 0


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0


def _onset_times(notes: Sequence[NoteEvent]) -> np.ndarray:
    """Distinct onset times (beats), ascending; onsets within ``TOL`` of the previous one merge."""
    t = np.sort(np.array([n.start for n in notes], float))
    if len(t) == 0:
        return t
    keep = np.concatenate([[True], np.diff(t) > TOL])
    return t[keep]


def _arrays(notes: Sequence[NoteEvent]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pitches, starts, ends) as arrays."""
    a = np.array([(n.pitch, n.start, n.end) for n in notes], float).reshape(-1, 3)
    return a[:, 0], a[:, 1], a[:, 2]


def _unit(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (rows of zeros stay zero), so ``_unit(a) @ _unit(b).T`` is the
    cosine similarity of every pair of rows."""
    norm = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norm > 0, norm, 1.0)


def _nanmean(x) -> float:
    x = np.asarray(x, float)
    return float(np.nanmean(x)) if np.isfinite(x).any() else NAN


# --- density, pitch and register ----------------------------------------------------------

def notes_per_bar(notes: Sequence[NoteEvent], bars: int | None = None) -> float:
    """Notes per bar: len(notes) / bars (0 for an empty piece of known length; NaN if no bars)."""
    b = n_bars(notes, bars)
    return len(notes) / b if b > 0 else NAN


def pitch_range(notes: Sequence[NoteEvent], lo: float = 5, hi: float = 95) -> float:
    """Pitch range in semitones: P95(pitch) − P5(pitch) over notes (linear-interpolated percentiles)."""
    if not notes:
        return NAN
    p = np.array([n.pitch for n in notes], float)
    return float(np.percentile(p, hi) - np.percentile(p, lo))


def mean_pitch(notes: Sequence[NoteEvent]) -> float:
    """Register: mean MIDI pitch over notes (60 = middle C)."""
    return float(np.mean([n.pitch for n in notes])) if notes else NAN


def pitch_entropy(notes: Sequence[NoteEvent]) -> float:
    """Pitch entropy in bits: H = −Σ_p q(p)·log2 q(p), q(p) = share of notes with MIDI pitch p."""
    if not notes:
        return NAN
    return _entropy(np.bincount([n.pitch for n in notes], minlength=128).astype(float))


def pitch_class_entropy(notes: Sequence[NoteEvent]) -> float:
    """Pitch-class entropy in bits: H = −Σ_c q(c)·log2 q(c), q(c) = share of notes with pitch % 12 = c."""
    if not notes:
        return NAN
    return _entropy(np.bincount([n.pitch % 12 for n in notes], minlength=12).astype(float))


def scale_share(notes: Sequence[NoteEvent]) -> float:
    """Share of note time (Σ duration) whose pitch class lies in the best-fitting major scale
    (max over the 12 transpositions of {0, 2, 4, 5, 7, 9, 11}; relative minors are the same sets)."""
    if not notes:
        return NAN
    w = np.bincount([n.pitch % 12 for n in notes], weights=[max(n.duration, 0.0) for n in notes], minlength=12)
    if w.sum() <= 0:
        return NAN
    return float(max(w[[(t + s) % 12 for s in MAJOR_SCALE]].sum() for t in range(12)) / w.sum())


def bass_share(notes: Sequence[NoteEvent]) -> float:
    """Bass presence: share of notes with pitch < 60 (below middle C)."""
    return float(np.mean([n.pitch < MIDDLE_C for n in notes])) if notes else NAN


# --- repetition ---------------------------------------------------------------------------

def bar_matrix(notes: Sequence[NoteEvent], bar: int) -> np.ndarray:
    """Onset pattern of one bar: 16 × 12 binary matrix, M[s, c] = 1 if a note of pitch class c
    starts on 16th step s of the bar (its start rounded to the 16th grid)."""
    m = np.zeros((STEPS_PER_BAR, 12))
    lo = bar * BEATS_PER_BAR
    for n in notes:
        s = int(round((n.start - lo) * STEPS_PER_BEAT))
        if lo - TOL <= n.start < lo + BEATS_PER_BAR - TOL and 0 <= s < STEPS_PER_BAR:
            m[s, n.pitch % 12] = 1.0
    return m


def bar_repetition(notes: Sequence[NoteEvent], bars: int | None = None) -> float:
    """Bar-to-bar repetition: mean over bars b ≥ 2 of max_{c < b} cos(M_b, M_c), with M the
    16×12 onset-step × pitch-class matrix of ``bar_matrix``; for 0/1 matrices
    cos = |A ∩ B| / √(|A|·|B|). Bars without onsets are left out (as b and as c).
    1 = every bar repeats an earlier bar's rhythm and pitch classes exactly; NaN with < 2 bars
    holding notes."""
    ms = [m.ravel() for m in (bar_matrix(notes, b) for b in range(n_bars(notes, bars))) if m.any()]
    if len(ms) < 2:
        return NAN
    u = _unit(np.array(ms))
    sim = u @ u.T
    return float(np.mean([sim[b, :b].max() for b in range(1, len(ms))]))


def beat_chroma(notes: Sequence[NoteEvent], bars: int | None = None, window: float = 1.0) -> np.ndarray:
    """Chroma per window of ``window`` beats: (W × 12), C[w, c] = time that notes of pitch
    class c sound within [w·window, (w+1)·window), W = 4·bars / window."""
    w_count = int(math.ceil(n_bars(notes, bars) * BEATS_PER_BAR / window))
    c = np.zeros((w_count, 12))
    for n in notes:
        a, b = n.start, n.end
        for w in range(max(0, int(a // window)), min(w_count, int(math.ceil(b / window)))):
            overlap = min(b, (w + 1) * window) - max(a, w * window)
            if overlap > 0:
                c[w, n.pitch % 12] += overlap
    return c


def chroma_repetition(notes: Sequence[NoteEvent], bars: int | None = None, window: float = 1.0) -> float:
    """Chroma repetition: mean over the windows w of the later half (w ≥ W/2) that hold sound of
    max over the earlier half's sounding windows v of cos(C_w, C_v), C = ``beat_chroma``
    (one-beat windows ≈ half a second at 120 BPM). NaN if either half is silent."""
    c = beat_chroma(notes, bars, window)
    half = len(c) // 2
    early = c[:half][c[:half].any(axis=1)]
    late = c[half:][c[half:].any(axis=1)]
    if not len(early) or not len(late):
        return NAN
    return float((_unit(late) @ _unit(early).T).max(axis=1).mean())


# --- harmony ------------------------------------------------------------------------------

def best_triad(notes: Sequence[NoteEvent], lo: float, hi: float) -> frozenset | None:
    """The major or minor triad covering the most note time within [lo, hi): argmax over the 24
    triads T of Σ_{n: pc(n) ∈ T} |[start, end) ∩ [lo, hi)| (ties: the first, majors before
    minors, by root). None if nothing sounds."""
    w = np.zeros(12)
    for n in notes:
        overlap = min(n.end, hi) - max(n.start, lo)
        if overlap > 0:
            w[n.pitch % 12] += overlap
    if w.sum() <= 0:
        return None
    scores = [w[list(pcs)].sum() for _, _, pcs in TRIADS]
    return TRIADS[int(np.argmax(scores))][2]


def chord_tone_share(notes: Sequence[NoteEvent], bars: int | None = None, beats: Sequence[int] = STRONG_BEATS) -> float:
    """Chord tones on strong beats: among notes starting on the given beats of a bar (default
    beats 1 and 3), the share whose pitch class is in that bar's ``best_triad``. NaN if no note
    starts on those beats."""
    hits = total = 0
    for b in range(n_bars(notes, bars)):
        lo = b * BEATS_PER_BAR
        strong = [n for n in notes if any(abs(n.start - (lo + k)) < TOL for k in beats)]
        if not strong:
            continue
        triad = best_triad(notes, lo, lo + BEATS_PER_BAR)
        total += len(strong)
        hits += sum(n.pitch % 12 in triad for n in strong)
    return hits / total if total else NAN


# --- melody (top voice) -------------------------------------------------------------------

def top_voice(notes: Sequence[NoteEvent]) -> list[int]:
    """The melody line (skyline): at each distinct onset time t, the highest pitch among the notes
    starting at t — skipped when a higher note started earlier is still sounding at t (the
    melody is held above it)."""
    if not notes:
        return []
    p, s, e = _arrays(notes)
    out = []
    for t in _onset_times(notes):
        top = p[np.abs(s - t) <= TOL].max()
        held = p[(s < t - TOL) & (e > t + TOL)]
        if not len(held) or held.max() <= top:
            out.append(int(top))
    return out


def _intervals(notes: Sequence[NoteEvent]) -> np.ndarray:
    return np.abs(np.diff(np.array(top_voice(notes), float)))


def step_share(notes: Sequence[NoteEvent]) -> float:
    """Top-voice steps: share of successive top-voice intervals |Δp| ≤ 2 semitones (repeated
    notes count as steps). NaN with < 2 top-voice notes."""
    d = _intervals(notes)
    return float(np.mean(d <= STEP_MAX)) if len(d) else NAN


def leap_share(notes: Sequence[NoteEvent]) -> float:
    """Top-voice leaps: share of successive top-voice intervals |Δp| ≥ 5 semitones (a fourth or
    more). NaN with < 2 top-voice notes."""
    d = _intervals(notes)
    return float(np.mean(d >= LEAP_MIN)) if len(d) else NAN


def top_voice_interval(notes: Sequence[NoteEvent]) -> float:
    """Mean |Δp| in semitones between successive top-voice notes. NaN with < 2 top-voice notes."""
    d = _intervals(notes)
    return float(d.mean()) if len(d) else NAN


# --- texture and rhythm -------------------------------------------------------------------

def polyphony(notes: Sequence[NoteEvent]) -> float:
    """Mean simultaneous notes at onsets: mean over distinct onset times t of #{n: start ≤ t < end}."""
    if not notes:
        return NAN
    _, s, e = _arrays(notes)
    t = _onset_times(notes)[:, None]
    return float(((s[None, :] <= t + TOL) & (e[None, :] > t + TOL)).sum(axis=1).mean())


def mean_duration(notes: Sequence[NoteEvent]) -> float:
    """Mean note duration in beats."""
    return float(np.mean([n.duration for n in notes])) if notes else NAN


def mean_ioi(notes: Sequence[NoteEvent]) -> float:
    """Mean inter-onset interval in beats: mean of t_{k+1} − t_k over distinct onset times
    (chords count once). NaN with < 2 onsets."""
    d = np.diff(_onset_times(notes))
    return float(d.mean()) if len(d) else NAN


def ioi_std(notes: Sequence[NoteEvent]) -> float:
    """Standard deviation (population) of the inter-onset intervals of ``mean_ioi``, in beats
    (0 = an even pulse). NaN with < 2 onsets."""
    d = np.diff(_onset_times(notes))
    return float(d.std()) if len(d) else NAN


def onbeat_share(notes: Sequence[NoteEvent]) -> float:
    """Share of distinct onset times that fall on a beat (t mod 1 < TOL)."""
    t = _onset_times(notes)
    if not len(t):
        return NAN
    f = np.mod(t, 1.0)
    return float(np.mean((f < TOL) | (f > 1 - TOL)))


def silence_share(notes: Sequence[NoteEvent], bars: int | None = None) -> float:
    """Share of the piece's 16th steps (16·bars) during which no note sounds (a step counts as
    sounding if any note overlaps it). NaN if the piece has no bars."""
    steps = n_bars(notes, bars) * STEPS_PER_BAR
    if steps <= 0:
        return NAN
    on = np.zeros(steps, bool)
    for n in notes:
        a = max(0, int(math.floor(n.start * STEPS_PER_BEAT + 1e-9)))
        b = min(steps, int(math.ceil(n.end * STEPS_PER_BEAT - 1e-9)))
        on[a:max(b, a + 1)] = True
    return float(1.0 - on[:steps].mean())


def velocity_mean(notes: Sequence[NoteEvent]) -> float:
    """Mean MIDI velocity (1..127)."""
    return float(np.mean([n.velocity for n in notes])) if notes else NAN


def velocity_std(notes: Sequence[NoteEvent]) -> float:
    """Standard deviation (population) of MIDI velocity."""
    return float(np.std([n.velocity for n in notes])) if notes else NAN


# --- the feature vector -------------------------------------------------------------------

_BARRED = {"notes_per_bar", "bar_repetition", "chroma_repetition", "chord_tone_share", "silence_share"}
STATISTICS = {name: globals()[name] for name in FEATURES}


def statistics(notes: Iterable[NoteEvent], bars: int | None = None) -> dict:
    """Every statistic of ``FEATURES`` for the first ``bars`` bars of a piece (``clip``)."""
    notes = clip(notes, bars)
    return {k: (f(notes, bars) if k in _BARRED else f(notes)) for k, f in STATISTICS.items()}


def features(notes: Iterable[NoteEvent], bars: int | None = None) -> np.ndarray:
    """``statistics`` as a float vector in the order of ``FEATURES`` (NaN where undefined)."""
    s = statistics(notes, bars)
    return np.array([s[k] for k in FEATURES], float)


def feature_matrix(pieces: Sequence[Iterable[NoteEvent]], bars: int | None = None) -> np.ndarray:
    """(len(pieces) × len(FEATURES)) matrix of ``features``."""
    return np.array([features(p, bars) for p in pieces], float).reshape(len(pieces), len(FEATURES))


# --- the classifier two-sample test -------------------------------------------------------

def _two_sample(xa: np.ndarray, xb: np.ndarray, seed: int, folds: int, repeats: int, names: Sequence[str], trees: int = 200,
                columns: Sequence[str] = FEATURES) -> dict:
    """``two_sample_accuracy`` on feature matrices whose columns are ``columns`` (default ``FEATURES``), using ``names`` of them."""
    n = min(len(xa), len(xb))
    out = {"mean": NAN, "std": NAN, "n_a": int(len(xa)), "n_b": int(len(xb)), "n_per_class": n, "folds": 0, "repeats": repeats, "importance": {}}
    k = min(folds, n)
    if k < 2:
        return out
    from sklearn.ensemble import RandomForestClassifier  # the [train] extra
    from sklearn.model_selection import RepeatedStratifiedKFold
    rng = np.random.default_rng(seed)
    xa = xa[np.sort(rng.choice(len(xa), n, replace=False))]
    xb = xb[np.sort(rng.choice(len(xb), n, replace=False))]
    cols = [list(columns).index(c) for c in names]
    x = np.concatenate([xa, xb])[:, cols]
    # trees handle NaN natively; ±inf cannot occur but is mapped to NaN anyway
    x[~np.isfinite(x)] = np.nan
    y = np.r_[np.zeros(n, int), np.ones(n, int)]

    def forest():
        return RandomForestClassifier(n_estimators=trees, min_samples_leaf=2, random_state=seed, n_jobs=1)

    accs = []
    for tr, te in RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed).split(x, y):
        accs.append(float((forest().fit(x[tr], y[tr]).predict(x[te]) == y[te]).mean()))
    imp = forest().fit(x, y).feature_importances_
    order = np.argsort(-imp)
    out.update(mean=float(np.mean(accs)), std=float(np.std(accs)), folds=k,
               importance={names[i]: round(float(imp[i]), 4) for i in order[:8]})
    return out


def two_sample_accuracy(a_pieces: Sequence[Iterable[NoteEvent]], b_pieces: Sequence[Iterable[NoteEvent]],
                        bars: int | None = None, seed: int = 0, folds: int = 5, repeats: int = 2,
                        names: Sequence[str] | None = None, trees: int = 200) -> dict:
    """Classifier two-sample test: can a random forest tell set A from set B by ``features``?

    The larger set is subsampled (seeded) to the size n of the smaller, so chance is exactly
    0.5. Accuracy = share of held-out pieces classified correctly under stratified k-fold
    cross-validation (k = min(folds, n)), repeated ``repeats`` times with reshuffled folds;
    ``mean`` and ``std`` are over all k·repeats folds. 0.5 = indistinguishable, 1.0 = always
    told apart. The forest: ``trees`` trees, ≥ 2 pieces per leaf, ``random_state=seed``. ``importance``: the forest's top impurity importances when fit on all 2n pieces
    (what gives B away). ``names``: a subset of ``FEATURES`` to use. NaN with n < 2.

    Returns dict(mean, std, n_a, n_b, n_per_class, folds, repeats, importance)."""
    return _two_sample(feature_matrix(a_pieces, bars), feature_matrix(b_pieces, bars), seed, folds, repeats, list(names or FEATURES), trees)


def _floor(x: np.ndarray, seed: int, splits: int, folds: int, repeats: int, names: Sequence[str], trees: int = 200,
           columns: Sequence[str] = FEATURES, half: int | None = None) -> dict:
    """``real_vs_real_floor`` on a feature matrix (columns ``columns``); ``half``: pieces in each half
    (default, and at most, half of them)."""
    means, stds, res = [], [], None
    for s in range(splits):
        perm = np.random.default_rng(seed + 1000 + s).permutation(len(x))
        h = len(x) // 2 if half is None else min(int(half), len(x) // 2)
        res = _two_sample(x[perm[:h]], x[perm[h:2 * h]], seed + s, folds, repeats, names, trees, columns)
        means.append(res["mean"])
        stds.append(res["std"])
    out = dict(res or {})
    out.pop("importance", None)
    out.update(mean=_nanmean(means), std=_nanmean(stds), splits=splits, split_means=[round(m, 4) for m in means])
    return out


def real_vs_real_floor(pieces: Sequence[Iterable[NoteEvent]], bars: int | None = None, seed: int = 0,
                       splits: int = 3, folds: int = 5, repeats: int = 2, names: Sequence[str] | None = None,
                       trees: int = 200) -> dict:
    """The floor of ``two_sample_accuracy``: the same test between two random halves of one set
    (real music vs real music), averaged over ``splits`` random halvings. Expected ≈ 0.5; what a
    generated set scores above it is what tells it from real music. ``std``: mean fold std."""
    return _floor(feature_matrix(pieces, bars), seed, splits, folds, repeats, list(names or FEATURES), trees)


# --- summaries ----------------------------------------------------------------------------

def summarise(x: np.ndarray, names: Sequence[str] = FEATURES) -> dict:
    """Mean and std (population) of each column of a feature matrix whose columns are ``names``, NaN
    left out: ``{"n": rows, name: {"mean", "std"}}``."""
    out: dict = {"n": int(len(x))}
    for j, k in enumerate(names):
        col = x[:, j] if len(x) else np.array([])
        ok = np.isfinite(col)
        out[k] = {"mean": float(col[ok].mean()) if ok.any() else NAN, "std": float(col[ok].std()) if ok.any() else NAN}
    return out


def summary(pieces: Sequence[Iterable[NoteEvent]], bars: int | None = None) -> dict:
    """Mean and std (population) over pieces of each statistic of ``FEATURES``, ignoring NaN:
    ``{"n": pieces, name: {"mean": m, "std": s}, ...}``."""
    return summarise(feature_matrix(pieces, bars))


def _va(v) -> tuple[float, float]:
    return (float(v.valence), float(v.arousal)) if hasattr(v, "valence") else (float(v[0]), float(v[1]))


def by_quadrant(pieces: Sequence[Iterable[NoteEvent]], vas: Sequence, bars: int | None = None) -> dict:
    """``summary`` per Russell quadrant (``engine.events.quadrant`` of each piece's VA — a ``VA``
    or a (valence, arousal) pair): ``{1: summary, 2: ..., 3: ..., 4: ...}`` (n = 0 where empty)."""
    return _by_quadrant(feature_matrix(pieces, bars), vas)


def _by_quadrant(x: np.ndarray, vas: Sequence) -> dict:
    q = np.array([quadrant(*_va(v)) for v in vas], int)
    return {k: summarise(x[q == k]) for k in (1, 2, 3, 4)}


# --- comparing a system with real music ---------------------------------------------------

def compare(real: Sequence[Iterable[NoteEvent]], generated: Sequence[Iterable[NoteEvent]], bars: int | None = 8,
            seed: int = 0, real_vas: Sequence | None = None, generated_vas: Sequence | None = None,
            folds: int = 5, repeats: int = 2, floor_splits: int = 3, trees: int = 200) -> dict:
    """Generated music against real music, over the first ``bars`` bars of each piece:

    * ``two_sample``: ``two_sample_accuracy(real, generated)``; ``floor``: ``real_vs_real_floor(real)``;
    * ``real`` / ``generated``: ``summary`` of each; ``difference``: generated − real of each mean,
      and ``relative``: (generated − real) / |real| (the issue's "within 15%" check);
    * ``by_quadrant`` (when both VA lists are given): ``{q: {"real": summary, "generated": summary}}``.
    """
    xr, xg = feature_matrix(real, bars), feature_matrix(generated, bars)
    out = {
        "bars": bars,
        "two_sample": _two_sample(xr, xg, seed, folds, repeats, FEATURES, trees),
        "floor": _floor(xr, seed, floor_splits, folds, repeats, FEATURES, trees),
        "real": summarise(xr),
        "generated": summarise(xg),
    }
    out["difference"] = {k: out["generated"][k]["mean"] - out["real"][k]["mean"] for k in FEATURES}
    out["relative"] = {k: (out["difference"][k] / abs(out["real"][k]["mean"]) if out["real"][k]["mean"] else NAN) for k in FEATURES}
    if real_vas is not None and generated_vas is not None:
        qr, qg = _by_quadrant(xr, real_vas), _by_quadrant(xg, generated_vas)
        out["by_quadrant"] = {q: {"real": qr[q], "generated": qg[q]} for q in (1, 2, 3, 4)}
    return out


def _f(v: float, nd: int = 2) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{nd}f}"


def markdown(result: dict, names: Sequence[str] | None = None) -> str:
    """``compare``'s result as markdown: the two-sample line, the real-vs-generated table and,
    if present, one table per quadrant."""
    names = list(names or FEATURES)
    ts, fl = result["two_sample"], result["floor"]
    r, g = result["real"], result["generated"]
    lines = [
        f"Two-sample accuracy, real vs generated ({result['bars']} bars, {ts['n_per_class']} pieces each, "
        f"{ts['folds']}-fold × {ts['repeats']}): **{_f(ts['mean'], 3)} ± {_f(ts['std'], 3)}**; "
        f"real vs real floor: {_f(fl['mean'], 3)} ± {_f(fl['std'], 3)} (0.5 = indistinguishable).",
        "",
        f"| statistic | real (n={r['n']}) | generated (n={g['n']}) | generated − real | relative |",
        "|---|---|---|---|---|",
    ]
    for k in names:
        rel = result["relative"][k]
        lines.append(f"| {LABELS[k]} | {_f(r[k]['mean'])} ± {_f(r[k]['std'])} | {_f(g[k]['mean'])} ± {_f(g[k]['std'])} "
                     f"| {_f(result['difference'][k])} | {'–' if not np.isfinite(rel) else f'{rel:+.0%}'} |")
    if "by_quadrant" in result:
        lines += ["", "By quadrant (real / generated means):", "",
                  "| statistic | " + " | ".join(f"Q{q} {QUADRANT_NAMES[q]} (n={result['by_quadrant'][q]['real']['n']}/{result['by_quadrant'][q]['generated']['n']})" for q in (1, 2, 3, 4)) + " |",
                  "|---|---|---|---|---|"]
        for k in names:
            cells = [f"{_f(result['by_quadrant'][q]['real'][k]['mean'])} / {_f(result['by_quadrant'][q]['generated'][k]['mean'])}" for q in (1, 2, 3, 4)]
            lines.append(f"| {LABELS[k]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- real test music and the shipped model ------------------------------------------------

def real_test_pieces(root, bars: int, split: str = "test") -> tuple[list[list[NoteEvent]], list[tuple[float, float]]]:
    """The real pieces of ``split`` (``evaluate.reference_pieces``: first ``bars`` bars, ≥ 8 notes)
    and their labelled (valence, arousal)."""
    from .evaluate import reference_pieces

    ref = reference_pieces(root, bars, split)
    return [clip(n, bars) for _, n in ref], [(it.valence, it.arousal) for it, _ in ref]


def generate_for_images(images, root, bars: int, model_dir=None, log=None, **settings) -> tuple[list[list[NoteEvent]], list[tuple[float, float]]]:
    """One piece per image from the shipped model (or ``model_dir``), conditioned on the image's
    labelled VA as asked (intensity 1), seed = its index, default settings otherwise (temperature 1.0,
    top-p 0.95, key auto, tempo from arousal; ``settings`` overrides them): (pieces, label VAs)."""
    from ..events import VA
    from ..request import GenerationSettings
    from ..generation.runtime import Runtime

    rt = Runtime.load(model_dir)
    pieces, vas = [], []
    for k, im in enumerate(images):
        target = VA(im.valence, im.arousal)
        piece = rt.compose(GenerationSettings(bars=bars, seed=k, **{"intensity": 1.0, **settings}), rt.encode(root / im.path), target)
        pieces.append(list(piece.notes))
        vas.append((im.valence, im.arousal))
        if log and (k + 1) % 20 == 0:
            log(f"generated {k + 1}/{len(images)}")
    return pieces, vas


def measure(data: str | None = None, bars: int = 8, model_dir=None, n: int | None = None, seed: int = 0, log=None) -> dict:
    """Real test pieces vs the same number of pieces generated for test pictures
    (``evaluate.test_images``: seeded choice; label VA, seeds 0..N−1): ``compare``'s result,
    plus ``seconds`` spent generating."""
    import time

    from .dataset import data_dir
    from .evaluate import test_images

    root = data_dir(data)
    real, real_vas = real_test_pieces(root, bars)
    images = test_images(root, n or len(real))
    t0 = time.time()
    gen, gen_vas = generate_for_images(images, root, bars, model_dir, log)
    out = compare(real, gen, bars, seed=seed, real_vas=real_vas, generated_vas=gen_vas)
    out["generation_seconds"] = time.time() - t0
    return out


def main(argv=None) -> int:
    """``python -m engine.training.musicality [--data D] [--bars 8] [--model-dir M] [--json OUT]``."""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m engine.training.musicality", description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="data directory (default $SYNESTHETE_DATA or ../shared/data)")
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--model-dir", default=None, help="an exported model (default: the shipped one)")
    ap.add_argument("--n", type=int, default=None, help="pictures to generate for (default: as many as real test pieces)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the full result as JSON here")
    a = ap.parse_args(argv)
    res = measure(a.data, a.bars, a.model_dir, a.n, a.seed, log=lambda m: print(m, file=sys.stderr))
    print(markdown(res))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
