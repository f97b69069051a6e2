"""A larger corpus for pretraining the decoder: the scores that ship inside the ``music21`` package.

    python -m engine.training.corpus                 # parse, tokenize, cache (cache/corpus/)
    python -m engine.training.corpus --sets bach     # one set
    synesthete train --corpus bach,folk --out runs/pre   # pretrain on it (engine.training.train)

The VA-labelled data holds about 1,000 usable pieces; the decoder learns melody, voice leading
and repetition poorly from that alone (docs/MUSICALITY.md: the top voice leaps where real music
steps). ``music21`` installs offline and carries, under its ``corpus`` folder, Bach's chorales
(four-part harmony: stepwise voices, a chord on every beat) and several thousand folk tunes
(Essen, O'Neill's 1850, Ryan's Mammoth, Nottingham: melodies built from steps and repeated
phrases), keyboard and chamber pieces (``classical``: Beethoven to Joplin — accompaniment figures
and bass lines) and Renaissance vocal polyphony (``renaissance``: Palestrina, Josquin,
Monteverdi — independent stepwise voices). They go through the same path as the training pieces: onto the 16th grid, transposed
to C major / A minor by the same key estimate (so transposition augmentation would be undone —
the representation is key-normalised), and cut into the same bar-aligned windows.

What is kept: pieces whose every time signature has a 2- or 4-quarter bar (4/4, 2/4, 2/2: a
16-step token bar holds two 2/4 bars; the Renaissance set's 4/2 bars split into two token bars), with at least 95% of onsets on the 16th grid (triplets
are dropped) and at least 4 bars. The scores have no dynamics, so velocities are drawn per piece
(seeded by its name) around a mezzo-forte, with the top note of each onset a step louder — the
loss sees a plausible, uninformative velocity rather than one constant.

Cache: ``cache/corpus/<set>.npz`` (windows as one int16 array plus offsets) and ``<set>.json``
(counts, skip reasons), keyed by the music21 version and ``CORPUS_VERSION``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dataset import cache_dir
from .sequences import piece_windows, read_window_cache, save_window_cache
from ..music.keys import estimate_key
from ..generation.tokens import STEPS_PER_BEAT

CORPUS_VERSION = 1
SETS = {
    "bach": ("bach",),
    "folk": ("essenFolksong", "oneills1850", "ryansMammoth", "nottingham-dataset"),
    # keyboard and chamber writing: accompaniment figures, bass lines, idiomatic piano textures
    "classical": ("beethoven", "chopin", "corelli", "cpebach", "handel", "haydn", "joplin", "mozart",
                  "schubert", "schumann_clara", "schumann_robert", "weber", "airdsAirs", "miscFolk"),
    # vocal polyphony in 2/2: independent, stepwise voices over long harmonies
    "renaissance": ("palestrina", "josquin", "monteverdi"),
}
# Bar lengths (quarters) a set may use. A 16-step token bar holds one 4/4 bar or two 2/4 bars;
# the Renaissance scores are barred in 4/2, which splits into two token bars the same way.
BARS = {"renaissance": {2.0, 4.0, 8.0}}
DEFAULT_BARS = {2.0, 4.0}
ON_GRID = 0.95
MIN_BARS = 4
BASE_VELOCITIES = (56, 64, 72, 80, 88)
TOP_ACCENT = 12


@dataclass
class CorpusPiece:
    """What ``piece_windows`` needs of a piece: grid notes (pitch, velocity, start, duration) and its key."""

    name: str
    notes: np.ndarray
    tonic: int
    mode: str


def _bar_quarters(score) -> set[float]:
    return {float(ts.barDuration.quarterLength) for ts in score.recurse().getElementsByClass("TimeSignature")}


def _pickup(score) -> float:
    """Quarters missing from an anacrusis, so that bar lines fall on multiples of the bar."""
    for part in score.parts if hasattr(score, "parts") and len(score.parts) else [score]:
        measures = part.getElementsByClass("Measure")
        if len(measures):
            return float(measures[0].paddingLeft or 0.0)
    return 0.0


def score_to_piece(score, name: str, allowed: set[float] = DEFAULT_BARS) -> tuple[CorpusPiece | None, str]:
    """A music21 score → a ``CorpusPiece`` on the 16th grid, or (None, why it was skipped)."""
    bars = _bar_quarters(score)
    if not bars or not bars <= allowed:
        return None, "meter"
    shift = _pickup(score)
    score = score.stripTies(inPlace=False)
    raw: list[tuple[int, float, float]] = []
    for el in score.flatten().notes:
        ql = float(el.quarterLength)
        if ql <= 0:  # grace notes
            continue
        for p in getattr(el, "pitches", ()):
            raw.append((int(p.midi), float(el.offset) + shift, ql))
    if not raw:
        return None, "empty"
    starts = np.array([s for _, s, _ in raw]) * STEPS_PER_BEAT
    if np.mean(np.abs(starts - np.round(starts)) < 1e-3) < ON_GRID:
        return None, "off grid"
    rng = np.random.default_rng(int(hashlib.sha1(name.encode()).hexdigest()[:8], 16))
    base = int(rng.choice(BASE_VELOCITIES))
    notes = {}
    for pitch, start, ql in raw:
        s, d = int(round(start * STEPS_PER_BEAT)), max(1, int(round(ql * STEPS_PER_BEAT)))
        if s >= 0 and ((pitch, s) not in notes or notes[(pitch, s)][3] < d):
            notes[(pitch, s)] = [pitch, base, s, d]
    top: dict[int, int] = {}
    for pitch, s in notes:
        top[s] = max(top.get(s, 0), pitch)
    for (pitch, s), n in notes.items():
        n[1] = min(127, base + TOP_ACCENT) if pitch == top[s] else base
    arr = np.array(sorted(notes.values(), key=lambda n: (n[2], n[0])), dtype=np.int32)
    if arr[:, 2].max() // (4 * STEPS_PER_BEAT) + 1 < MIN_BARS:
        return None, "short"
    tonic, mode, _ = estimate_key(arr[:, 0], arr[:, 3])
    return CorpusPiece(name, arr, tonic, mode), "ok"


def _scores(path: Path):
    """(name, score) for every work in one corpus file (an .abc file may hold hundreds)."""
    from music21 import converter, stream

    parsed = converter.parse(str(path))
    if isinstance(parsed, stream.Opus):
        for i, s in enumerate(parsed.scores):
            yield f"{path.name}#{i}", s
    else:
        yield path.name, parsed


def _file_windows(args: tuple[str, int, str]) -> tuple[list[np.ndarray], dict[str, int]]:
    path, block_size, set_name = args
    counts: dict[str, int] = {}
    out: list[np.ndarray] = []
    try:
        for name, score in _scores(Path(path)):
            try:
                piece, why = score_to_piece(score, name, BARS.get(set_name, DEFAULT_BARS))
            except Exception:  # a malformed score in the corpus: skip it, count it
                piece, why = None, "unreadable"
            counts[why] = counts.get(why, 0) + 1
            if piece is not None:
                out += piece_windows(piece, block_size)
    except Exception:
        counts["unreadable"] = counts.get("unreadable", 0) + 1
    return out, counts


def corpus_files(set_name: str) -> list[Path]:
    from music21 import corpus

    files: list[Path] = []
    for composer in SETS[set_name]:
        files += [Path(p) for p in corpus.getComposer(composer) if Path(p).suffix in (".mxl", ".xml", ".krn", ".abc")]
    return sorted(files)


def parse_spec(spec: str) -> tuple[str, int]:
    """'bach' → ('bach', 0); 'bach:8' → the first 8 files of it (quick runs, tests); 'pop909' and
    'pop1k7' are the pop-piano songs (``engine.training.song_corpus``), ':N' their first N songs."""
    from .song_corpus import SETS as SONG_SETS

    name, _, n = spec.strip().partition(":")
    if (name not in SETS and name not in SONG_SETS) or (n and not n.isdigit()):
        raise ValueError(f"unknown corpus set {spec!r}: use one of {', '.join((*SETS, *SONG_SETS))}, optionally with :FILES")
    return name, int(n or 0)


def cache_paths(set_name: str, block_size: int, limit: int = 0) -> tuple[Path, Path]:
    import music21

    d = cache_dir() / "corpus"
    stem = f"{set_name}-v{CORPUS_VERSION}-m21_{music21.__version__}-b{block_size}" + (f"-n{limit}" if limit else "")
    return d / f"{stem}.npz", d / f"{stem}.json"


def build(set_name: str, block_size: int = 512, workers: int = 2, limit: int = 0) -> tuple[Path, dict]:
    """Parse one set (its first ``limit`` files if given), cache its windows; returns (npz path,
    summary). Reuses a finished cache."""
    npz, meta = cache_paths(set_name, block_size, limit)
    if npz.exists() and meta.exists():
        return npz, json.loads(meta.read_text())
    files = corpus_files(set_name)[: limit or None]
    windows: list[np.ndarray] = []
    counts: dict[str, int] = {}
    # spawned, not forked: the caller (training, a test run) already holds torch's and onnxruntime's
    # thread pools, and a forked child can wait forever on a lock one of their threads held
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        for i, (wins, cnt) in enumerate(pool.map(_file_windows, [(str(f), block_size, set_name) for f in files], chunksize=4)):
            windows += wins
            for k, v in cnt.items():
                counts[k] = counts.get(k, 0) + v
            if (i + 1) % 100 == 0:
                print(f"{set_name}: {i + 1}/{len(files)} files, {len(windows)} windows", file=sys.stderr)
    summary = {"set": set_name, "files": len(files), "pieces": counts, "windows": len(windows), "tokens": sum(len(w) for w in windows)}
    save_window_cache(npz, meta, windows, summary)
    return npz, summary


def load_windows(specs, block_size: int = 512, workers: int | None = None) -> list[np.ndarray]:
    """Every cached window of the named sets (``parse_spec`` form; built on first use)."""
    from . import song_corpus

    out: list[np.ndarray] = []
    for spec in specs:
        name, limit = parse_spec(spec)
        if name in song_corpus.SETS:
            out += song_corpus.load_windows(name, block_size, limit)
            continue
        npz, _ = build(name, block_size, workers or os.cpu_count() or 1, limit)
        out += read_window_cache(npz)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="engine.training.corpus", description="tokenize music21's corpus for pretraining")
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}; SET:N takes its first N files")
    ap.add_argument("--block-size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    try:
        specs = [parse_spec(s) for s in args.sets.split(",")]
    except ValueError as e:
        ap.error(str(e))
    for name, limit in specs:
        _, summary = build(name, args.block_size, args.workers, limit)
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
