"""docs/SONGS.md: 32-bar pieces against held-out real songs — form, melody, register, and a two-sample test that sees structure (issue #24, item 6).

    python -m engine.training.songs_report --system "free=engine/models:form=free" \\
        --system "phrases=engine/models:form=phrases" [--n 32] [--bars 32] [--split test] [--data PATH] [--out docs/SONGS.md --as NAME]
    synesthete evaluate --songs --musicality "free=:form=free" [--samples 32] [--bars 32] [--out docs/SONGS.md]

A system is ``NAME=MODEL_DIR[:setting=value,...]``, as in ``engine.training.musicality_report``.

Real songs: the ``split`` songs of POP909 and Pop1K7 (``engine/training/song_split.json``) that the
data directory holds (``<data>/corpus``), in 4/4, each from its first downbeat
(``form_stats.first_downbeat``: the bar line at or after its first onset, so a pickup is skipped) for
``bars`` bars of **4 beats** — a regular grid from that downbeat, as generated pieces have (POP909's
annotated bar lines are not always 4 beats: ``form_stats --uniform-bars`` is this grid). A song shorter
than ``bars`` such bars is left out (counted in the record). Notes are cut at the last bar line
(``musicality.clip``).

Each system: one piece of ``bars`` bars per picture of ``split`` (``evaluate.test_images``: n pictures,
seeded choice; n defaults to as many as there are real songs), made as ``musicality_report`` makes its
pieces (``musicality.generate_for_images``: the picture's labelled VA at intensity 1, seed = its index,
every other setting the product's default unless the system sets it).

Every piece, real or generated, is measured by the same code on the same grid (``piece_features``):

1. form (``engine.training.form_stats``): bars restating an earlier bar, similarity 4 and 8 bars back,
   form contrast, onsets per beat, and the similarity at every lag 1..8;
2. melody (the top line, ``form_stats.top_line``): steps, leaps, its height above the other notes,
   its onsets per beat;
3. register (``form_stats``): bars with a bass near the opening's, bars with a bass at or below E3, and
   how far the bars' lowest notes wander;
4. a two-sample test (``musicality._two_sample``: random forest, balanced classes, 5-fold × 2): each
   system against the real songs (both corpora pooled, and each corpus alone) on ``FEATURES`` — the 21
   note statistics of ``engine.training.musicality`` plus the form, top-line and register measures above and the
   lag profile 1..8 — and, for comparison, on the 21 note statistics alone. The real-vs-real floor of
   each: the same test between two random halves of those real songs, each half as large as a system's
   set (at most half the songs), over three halvings.

The run is kept in a record (``--record``; with ``--out docs/SONGS.md``, docs/records/songs.json) under
``--as NAME`` beside the runs already there; docs/SONGS.md is made from that record and its template,
docs/prose/songs.md, which names the runs its tables show (``engine/training/reports.py``); any other
``--out`` gets this run alone.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Iterable, Sequence

import numpy as np

from ..events import NoteEvent
from . import form_stats as FS
from . import musicality as M
from . import reports as R
from .musicality_report import _rows, check_system, parse_system

CORPORA = {"pop909": "POP909", "pop1k7": "Pop1K7"}
LAGS = tuple(range(1, 9))
FORM = ["restated", "sim_4", "sim_8", "contrast", "onsets_per_beat"]
MELODY = ["top_steps", "top_leaps", "top_register", "top_onsets_per_beat"]
REGISTER = ["bass_bars", "low_bars", "register_wander"]
STRUCTURE = ["restated", "contrast", "onsets_per_beat"] + MELODY + REGISTER + [f"sim_{k}" for k in LAGS]
FEATURES = list(M.FEATURES) + STRUCTURE       # what the forest sees (sim_4 and sim_8 are in the lag profile)
SCOPES = {  # the two-sample tests: (real songs, features)
    "all": (None, FEATURES), "POP909": ("POP909", FEATURES), "Pop1K7": ("Pop1K7", FEATURES), "notes_only": (None, list(M.FEATURES)),
}
LABELS = {**M.LABELS, **FS.LABELS, **{f"sim_{k}": f"sim@{k}" for k in LAGS},
          "sim_4": "similarity 4 bars back", "sim_8": "similarity 8 bars back"}
SHORT = {"restated": "restated bars", "sim_4": "sim@4", "sim_8": "sim@8", "contrast": "form contrast",
         "onsets_per_beat": "onsets per beat", "top_steps": "top line: steps (≤ 2 st)", "top_leaps": "top line: leaps (≥ 5 st)",
         "top_register": "top line above the rest (st)", "top_onsets_per_beat": "top line: onsets per beat",
         "bass_bars": "bars with a bass near the opening's", "low_bars": "bars with a bass ≤ E3",
         "register_wander": "bars' lowest notes: sd (st)"}
NAN = float("nan")


# --- measuring a piece --------------------------------------------------------------------

def piece_features(notes: Iterable[NoteEvent], bars: int) -> dict:
    """Every measure of ``FEATURES`` for the first ``bars`` 4-beat bars of a piece (beat 0 = its first
    bar line; notes clipped there, ``musicality.clip``): the 21 note statistics, the form and top-line
    measures of ``form_stats.statistics`` and ``sim_1`` .. ``sim_8`` (``form_stats.lag_profile``)."""
    notes = M.clip(notes, bars)
    out = M.statistics(notes, bars)
    fs = FS.statistics(notes, bars)
    out.update({k: fs[k] for k in STRUCTURE if k in fs})
    out.update({f"sim_{k}": v for k, v in FS.lag_profile(notes, bars, LAGS).items()})
    out["sim_4"], out["sim_8"] = fs["sim_4"], fs["sim_8"]
    return out


def feature_matrix(pieces: Sequence[Iterable[NoteEvent]], bars: int) -> np.ndarray:
    """(pieces × ``FEATURES``) of ``piece_features``."""
    return np.array([[f[k] for k in FEATURES] for f in (piece_features(p, bars) for p in pieces)], float).reshape(len(pieces), len(FEATURES))


def summary(x: np.ndarray) -> dict:
    """Mean and std (population) of each column of a ``feature_matrix``, NaN left out (``musicality.summarise``)."""
    return M.summarise(x, FEATURES)


# --- real songs ---------------------------------------------------------------------------

def real_songs(data, bars: int, split: str = "test") -> tuple[dict[str, list[list[NoteEvent]]], dict[str, dict]]:
    """The real songs of ``split`` per corpus ({"POP909": [notes, ...], "Pop1K7": [...]}), each from its
    first downbeat, clipped to ``bars`` 4-beat bars, and what was kept: {corpus: {"songs": in the split
    and here, "not_four_four": ..., "too_short": ..., "n": kept}}."""
    from .song_split import corpus_dir, song_ids, split_ids
    from .songs import load_songs

    root = corpus_dir(data)
    pieces, counts = {}, {}
    for corpus, name in CORPORA.items():
        here = set(song_ids(root, corpus))
        ids = [i for i in split_ids(split, corpus) if i in here]
        songs = load_songs(root, ids)
        kept, short = [], 0
        for s in (s for s in songs if s.four_four):
            first = FS.first_downbeat(s)
            if s.bar_lines(first)[-1] < bars * FS.BEATS_PER_BAR - 1e-9:
                short += 1
                continue
            kept.append(M.clip(s.events(first), bars))
        pieces[name] = kept
        counts[name] = {"songs": len(songs), "absent": len(split_ids(split, corpus)) - len(ids),
                        "not_four_four": sum(not s.four_four for s in songs), "too_short": short, "n": len(kept)}
    return pieces, counts


# --- the comparison -----------------------------------------------------------------------

def _scoped(real: dict[str, np.ndarray], corpus: str | None) -> np.ndarray:
    return real[corpus] if corpus else np.concatenate([real[c] for c in CORPORA.values()])


def floors(real: dict[str, np.ndarray], n: int, seed: int = 0, folds: int = 5, repeats: int = 2, splits: int = 3, trees: int = 200) -> dict:
    """The real-vs-real floor of each of ``SCOPES``: two random halves of those songs, ``n`` songs each
    (at most half of them), ``splits`` halvings."""
    return {scope: M._floor(_scoped(real, corpus), seed, splits, folds, repeats, names, trees, columns=FEATURES, half=n)
            for scope, (corpus, names) in SCOPES.items()}


def compare(real: dict[str, np.ndarray], generated: np.ndarray, seed: int = 0, folds: int = 5, repeats: int = 2, trees: int = 200) -> dict:
    """One system's ``feature_matrix`` against the real songs' (per corpus): ``summary`` and the
    two-sample test of each of ``SCOPES``."""
    return {"summary": summary(generated),
            "two_sample": {scope: M._two_sample(_scoped(real, corpus), generated, seed, folds, repeats, names, trees, columns=FEATURES)
                           for scope, (corpus, names) in SCOPES.items()}}


def run(data, systems: list[str], bars: int = 32, n: int = 0, split: str = "test", log=print, seed: int = 0,
        folds: int = 5, repeats: int = 2, floor_splits: int = 3, trees: int = 200) -> dict:
    """Each system's ``bars``-bar pieces for ``n`` pictures of ``split`` (0: as many as real songs)
    against that split's real songs: the record of one run."""
    from .dataset import data_dir
    from .evaluate import test_images

    t_start = time.time()
    root = data_dir(data)
    songs, counts = real_songs(data, bars, split)
    real = {name: feature_matrix(p, bars) for name, p in songs.items()}
    n_real = sum(len(p) for p in songs.values())
    images = test_images(root, n or n_real, split)
    out = {"bars": bars, "split": split, "grid": "4-beat bars from the first downbeat", "seed": seed, "n_real": n_real,
           "n_pictures": len(images), "corpora": counts, "features": FEATURES,
           "forest": {"trees": trees, "folds": folds, "repeats": repeats, "floor_splits": floor_splits},
           "machine": f"{os.cpu_count()} CPU cores",
           "real": {name: summary(x) for name, x in real.items()}, "systems": []}
    log(f"real {split} songs: " + ", ".join(f"{name} {c['n']}" for name, c in counts.items()) + f"; {len(images)} pictures")
    out["floor"] = floors(real, len(images), seed, folds, repeats, floor_splits, trees)
    for text in systems:
        name, model_dir, settings = parse_system(text)
        t0 = time.time()
        gen, _ = M.generate_for_images(images, root, bars, model_dir or None, log, **settings)
        seconds = time.time() - t0
        res = compare(real, feature_matrix(gen, bars), seed, folds, repeats, trees)
        res.update(name=name, settings=settings, n=len(gen), generation_seconds=seconds, seconds=time.time() - t0)
        out["systems"].append(res)
        log(f"{name}: two-sample {res['two_sample']['all']['mean']:.3f} (floor {out['floor']['all']['mean']:.3f}), "
            f"restated {res['summary']['restated']['mean']:.2f}, sim@4 {res['summary']['sim_4']['mean']:.2f}; "
            f"{len(gen)} pieces in {seconds:.0f} s")
    out["seconds"] = time.time() - t_start
    return out


# --- the report (engine/training/reports.py): blocks over a record {"runs": {NAME: run's result}} ---

def _run(rec: dict, run: str | None) -> dict:
    return rec["runs"][run] if run else next(iter(rec["runs"].values()))


def _f(v, nd: int = 2, sign: bool = False) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    v = v if round(v, nd) != 0 else 0.0  # no "−0.00"
    return f"{v:+.{nd}f}" if sign else f"{v:.{nd}f}"


def _cell(s: dict, k: str) -> str:
    return _f(s[k]["mean"], 2, sign=k == "contrast")


def intro(rec: dict, run: str | None = None) -> str:
    rep = _run(rec, run)
    c = rep["corpora"]
    gone = sum(v["too_short"] + v["not_four_four"] for v in c.values())
    return ("Generated by `python -m engine.training.songs_report` (the same report from `synesthete evaluate --songs "
            "--musicality NAME=MODEL_DIR[:SETTING=VALUE,...]`): every number is what the code printed. Real songs: the "
            "{split}-split songs of POP909 ({p}) and Pop1K7 ({k}) in 4/4 (`engine/training/song_split.json`), each from its first "
            "downbeat (the bar line at or after its first onset, so a pickup is skipped) for its first {bars} bars **of 4 beats** — "
            "the regular grid the generated pieces have, not POP909's annotated bar lines (`form_stats --uniform-bars`){gone}. "
            "Each system: one {bars}-bar piece per {split} picture ({n} pictures), conditioned on the picture's labelled VA at "
            "intensity 1, seed = index, every other setting the product's default unless the system names it, measured by "
            "the same code on the same grid (`engine/training/form_stats.py`).").format(
                split=rep["split"], p=c["POP909"]["n"], k=c["Pop1K7"]["n"], bars=rep["bars"], n=rep["n_pictures"],
                gone=f"; {gone} songs left out (not 4/4, or shorter)" if gone else "")


def _table(rec: dict, rows: str | None, keys: Sequence[str], labels: dict) -> str:
    picked = _rows(rec, rows)
    first = picked[0][0]
    L = ["| | pieces | " + " | ".join(labels.get(k, k) for k in keys) + " |", "|" + "---|" * (2 + len(keys))]
    for name, s in first["real"].items():
        L.append(f"| real {name} {first['split']} songs | {s['n']} | " + " | ".join(_cell(s, k) for k in keys) + " |")
    for _, s in picked:
        L.append(f"| {s['name']} | {s['summary']['n']} | " + " | ".join(_cell(s["summary"], k) for k in keys) + " |")
    return "\n".join(L)


def form_table(rec: dict, rows: str | None = None) -> str:
    """Real POP909, real Pop1K7, then each system of ``rows`` (``RUN`` or ``RUN.INDEX``, comma-separated):
    the form measures, means over the pieces where each is defined."""
    return _table(rec, rows, FORM, SHORT)


def melody_table(rec: dict, rows: str | None = None) -> str:
    """The same rows: the top line's statistics."""
    return _table(rec, rows, MELODY, SHORT)


def register_table(rec: dict, rows: str | None = None) -> str:
    """The same rows: the register measures (bass kept, low bass, wander)."""
    return _table(rec, rows, REGISTER, SHORT)


def lag_table(rec: dict, rows: str | None = None) -> str:
    """The same rows: similarity at each lag 1..8."""
    return _table(rec, rows, [f"sim_{k}" for k in LAGS], {f"sim_{k}": f"sim@{k}" for k in LAGS})


def _ts(t: dict) -> str:
    return f"{_f(t['mean'], 3)} ± {_f(t['std'], 3)} ({t['n_per_class']})"


def two_sample_table(rec: dict, rows: str | None = None) -> str:
    """The real-vs-real floor, then each system of ``rows``: accuracy ± sd over the folds (pieces per
    class) against the real songs pooled and each corpus alone, and on the 21 note statistics alone."""
    picked = _rows(rec, rows)
    fl = picked[0][0]["floor"]
    nf = len(picked[0][0].get("features", FEATURES))
    L = [f"| | real songs, {nf} features ↓ | POP909, {nf} features ↓ | Pop1K7, {nf} features ↓ | real songs, 21 note statistics ↓ |",
         "|---|---|---|---|---|",
         "| real vs real (floor) | " + " | ".join(_ts(fl[s]) for s in SCOPES) + " |"]
    for _, s in picked:
        L.append(f"| {s['name']} | " + " | ".join(_ts(s["two_sample"][sc]) for sc in SCOPES) + " |")
    return "\n".join(L)


def forest(rec: dict, run: str | None = None) -> str:
    rep = _run(rec, run)
    f = rep["forest"]
    return (f"Two-sample accuracy: a random forest ({f['trees']} trees) tells a system's pieces from real songs on "
            f"{len(rep['features'])} features — the 21 note statistics of [MUSICALITY.md](MUSICALITY.md), the form, top-line and "
            f"register measures above and the similarity at lags 1–8 — with balanced classes (the larger set subsampled to the smaller, "
            f"seeded), {f['folds']}-fold × {f['repeats']} cross-validation: mean ± sd over the folds, pieces per class in "
            f"brackets (0.5 = indistinguishable). The floor is the same test between two random halves of the real songs, each "
            f"half as large as a system's set (at most half the songs), averaged over {f['floor_splits']} halvings.")


def importance(rec: dict, row: str | None = None, name: str | None = None) -> str:
    """The forest's five strongest clues against one system (default: the last), on all features against the pooled songs."""
    s = _rows(rec, row)[-1][1]
    top = sorted(s["two_sample"]["all"]["importance"].items(), key=lambda kv: -kv[1])[:5]
    return f"What gives {name or s['name']} away (forest importance): " + ", ".join(f"{LABELS.get(k, k)} {v:.2f}" for k, v in top) + "."


def timing(rec: dict, rows: str | None = None) -> str:
    picked = _rows(rec, rows)
    where = picked[0][0].get("machine")
    return "Generation: " + "; ".join(f"{s['name']} {s['n']} pieces in {s['generation_seconds']:.0f} s" for _, s in picked) + \
        (f" ({where})." if where else ".")


BLOCKS = {"intro": intro, "form_table": form_table, "melody_table": melody_table, "register_table": register_table, "lag_table": lag_table,
          "two_sample_table": two_sample_table, "forest": forest, "importance": importance, "timing": timing}
def title(rec: dict, run: str | None = None) -> str:
    return f"# Songs ({_run(rec, run)['bars']} bars)"


BLOCKS["title"] = title
LAYOUT = """{{title}}

{{intro}}

## Form

{{form_table}}

## Melody (the top line)

{{melody_table}}

## Register

{{register_table}}

## Similarity by lag

{{lag_table}}

## Two-sample test

{{forest}}

{{two_sample_table}}

{{importance}}

{{timing}}
"""


def markdown(rep: dict) -> str:
    """The report of one run alone (the record's layout without curated prose)."""
    return R.standalone("songs", {"runs": {"this": rep}})


def write(rep: dict, out, record: str | None = None, name: str = "latest", log=print) -> None:
    """Keep the run and write ``out`` (docs/SONGS.md from its template and record; ``reports.keep_and_publish``)."""
    R.keep_and_publish("songs", rep, out, record, name, log=log)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.training.songs_report", description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--system", action="append", required=True, help="NAME=MODEL_DIR[:setting=value,...]")
    ap.add_argument("--bars", type=int, default=32)
    ap.add_argument("-n", "--n", type=int, default=0, help="pictures (pieces per system); 0: as many as real songs")
    ap.add_argument("--split", default="test", choices=("test", "val"), help="val: songs and pictures for choosing a setting")
    ap.add_argument("--out", default="docs/SONGS.md", help="the report (docs/SONGS.md: all its runs, from its template docs/prose/songs.md)")
    ap.add_argument("--record", help="keep this run in this record (default with --out docs/SONGS.md: docs/records/songs.json)")
    ap.add_argument("--as", dest="name", default="latest", help="the run's name in the record (the template names the runs it shows)")
    a = ap.parse_args(argv)
    for text in a.system:
        check_system(text)
    if a.bars < 2:
        ap.error("--bars: at least 2 (form compares bars; 9 or more for the whole lag profile)")
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    rep = run(a.data, a.system, a.bars, a.n, a.split, log=log)
    write(rep, a.out, a.record, a.name, log=log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
