"""How well the music follows the chords asked for, and how well a rewritten span fits its piece.

    python -m engine.training.chords_eval --out docs/CHORDS.md      # ~5 min on 2 CPU cores

Four measures, on pictures of the test split the model never saw (``evaluate.test_images``), the
shipped model and default settings (the picture's own VA, as ``generate`` reads it):

1. **Chords followed.** ``n`` random progressions of 8 bars, one chord a bar, each chord drawn
   independently: a root from the 12, a quality from the major and minor triads (weight 0.7) or
   the sevenths 7, maj7 and m7 (0.3). A piece per progression (picture k of the test pictures,
   seed k); each bar's chord recognised from its notes (``engine.music.chords.recognise``:
   duration-weighted pitch classes, 84 templates, the root in the bass) and compared with the one
   asked: root and quality (``same_harmony``), and root alone; by the asked chord's quality.
   Reference: the same recogniser on the held-out POP909 test songs against their own chord
   labels, per bar (``form_stats.song_statistics``: its chord_match / chord_root_match over 32 bars).
2. **Emotion kept.** ``emotion_n`` of those progressions played for an excited and a sad test
   picture (``emotion_pictures``): the judge's (``engine.music.judge``) valence and arousal of each
   piece; the mean gap per axis, beside the same seeds without chords.
3. **Round trip.** Each piece of (1) written as ``generate`` writes it, read back by
   ``--chords-from``'s reader (``progression_from_midi``): the share of bars whose recovered chord has
   the asked root and quality.
4. **Rewritten bars.** ``revise_n`` 8-bar pieces (a test picture each, seed k) with bars 4–5
   rewritten (``engine.generation.revise``, seed k + 1): a classifier two-sample test
   (``musicality._two_sample``: a random forest on ``musicality.FEATURES`` of 2-bar windows,
   5-fold, 2 repeats) between the rewritten windows and a window of the same piece around them
   (bars 2–3 or 6–7, alternately); 0.5 = they cannot be told apart. And the seam: new notes
   sounding past the span's end (hanging), kept notes changed (must be 0), the original's notes
   cut short at the seam.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ..events import BEATS_PER_BAR, NoteEvent
from ..music.chords import NAMES, SUFFIX, Chord, parse_progression, per_bar, per_beat, recognise_bars

QUALITY_WEIGHTS = {"maj": 0.35, "min": 0.35, "7": 0.1, "maj7": 0.1, "min7": 0.1}
BARS = 8


def random_progression(rng: np.random.Generator, bars: int = BARS) -> str:
    """One chord a bar: a uniform root, a quality by ``QUALITY_WEIGHTS``."""
    qs, ws = list(QUALITY_WEIGHTS), np.array(list(QUALITY_WEIGHTS.values()))
    return " ".join(NAMES[int(rng.integers(12))] + SUFFIX[qs[int(rng.choice(len(qs), p=ws / ws.sum()))]] for _ in range(bars))


def bar_hits(notes: Sequence[NoteEvent], asked: Sequence[Chord]) -> list[tuple[str, bool, bool]]:
    """(asked quality, same root and quality, same root) for each bar."""
    got = recognise_bars(notes, len(asked))
    return [(a.quality, g.same_harmony(a), g.root == a.root) for g, a in zip(got, asked)]


def _share(rows, col: int, quality: str | None = None) -> float:
    sel = [r[col] for r in rows if quality is None or r[0] == quality]
    return float(np.mean(sel)) if sel else float("nan")


def follow(rt, pictures, root: Path, n: int, seed: int, log=print) -> tuple[dict, list]:
    from ..settings import GenerationSettings

    rng = np.random.default_rng(seed)
    rows, trips, pieces = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(n):
            text = random_progression(rng)
            pic = pictures[k % len(pictures)]
            piece = rt.piece(rt.plan(GenerationSettings(bars=BARS, seed=k, chords=text), [rt.encode(root / pic.path)]))
            asked = [c for c, _ in parse_progression(text)]
            rows += bar_hits(piece.notes, asked)
            path = piece.write(Path(tmp) / f"{k}.mid")
            from ..music.chords import progression_from_midi

            back_bars = per_bar(per_beat(parse_progression(progression_from_midi(path))))
            trips += [g.same_harmony(a) for g, a in zip(back_bars, asked)]
            pieces.append(text)
            if (k + 1) % 10 == 0:
                log(f"chords followed: {k + 1}/{n}")
    out = {"progressions": n, "bars": len(rows), "chord": _share(rows, 1), "root": _share(rows, 2),
           "by_quality": {q: {"bars": sum(r[0] == q for r in rows), "chord": _share(rows, 1, q), "root": _share(rows, 2, q)}
                          for q in QUALITY_WEIGHTS},
           "round_trip": float(np.mean(trips)) if trips else float("nan")}
    return out, pieces


def _quadrant(v: float, a: float) -> int:
    return (1 if a >= 0 else 4) if v >= 0 else (2 if a >= 0 else 3)


def emotion_pictures(rt, pictures, root: Path):
    """(excited, sad, their encodings): among the pictures labelled excited (both valence and arousal
    positive) that the product (``Runtime.encode``) also reads as excited, the one it reads most so
    (largest valence + arousal); likewise the most sad. A picture the product misreads would measure
    the image head, not whether the chords keep the emotion."""
    encs = {p.path: rt.encode(root / p.path) for p in pictures}
    read = lambda p: encs[p.path].va
    agree = [p for p in pictures if _quadrant(p.valence, p.arousal) == _quadrant(read(p).valence, read(p).arousal)]
    excited = max((p for p in agree if _quadrant(p.valence, p.arousal) == 1), key=lambda p: read(p).valence + read(p).arousal)
    sad = min((p for p in agree if _quadrant(p.valence, p.arousal) == 3), key=lambda p: read(p).valence + read(p).arousal)
    return excited, sad, encs


def emotion(rt, pictures, root: Path, progressions: Sequence[str], log=print) -> dict:
    from ..settings import GenerationSettings

    excited, sad, encs = emotion_pictures(rt, pictures, root)
    judged = {}
    for name, pic in (("excited", excited), ("sad", sad)):
        enc = encs[pic.path]
        held, free = [], []
        for k, text in enumerate(progressions):
            for chords, out in ((text, held), ("", free)):
                piece = rt.piece(rt.plan(GenerationSettings(bars=BARS, seed=k, chords=chords), [enc]))
                out.append(rt.judge.predict(list(piece.notes)))
        judged[name] = {"picture": pic.path, "label": [pic.valence, pic.arousal], "picture_va": [enc.va.valence, enc.va.arousal],
                        "judge": np.mean(held, axis=0).tolist(), "judge_without_chords": np.mean(free, axis=0).tolist()}
        log(f"emotion: {name} done")
    gap = (np.array(judged["excited"]["judge"]) - np.array(judged["sad"]["judge"])).tolist()
    gap_free = (np.array(judged["excited"]["judge_without_chords"]) - np.array(judged["sad"]["judge_without_chords"])).tolist()
    return {"progressions": len(progressions), **judged, "gap_valence": gap[0], "gap_arousal": gap[1],
            "gap_valence_without_chords": gap_free[0], "gap_arousal_without_chords": gap_free[1]}


def _window(notes: Sequence[NoteEvent], first_bar: int, bars: int = 2) -> list[NoteEvent]:
    """The notes starting in bars ``first_bar``.. (1-based) moved to beat 0, cut at the window's end."""
    lo, hi = (first_bar - 1) * BEATS_PER_BAR, (first_bar - 1 + bars) * BEATS_PER_BAR
    return [NoteEvent(n.pitch, n.velocity, n.start - lo, min(n.end, hi) - n.start) for n in notes if lo <= n.start < hi]


def rewrites(rt, pictures, root: Path, n: int, seed: int, log=print) -> dict:
    from ..settings import GenerationSettings
    from .musicality import FEATURES, _two_sample, features

    new, around = [], []
    hanging = changed = cut = 0
    for k in range(n):
        pic = pictures[k % len(pictures)]
        enc = rt.encode(root / pic.path)
        piece = rt.piece(rt.plan(GenerationSettings(bars=BARS, seed=k), [enc]))
        rev = rt.revise(GenerationSettings(seed=k + 1), [enc], piece.notes, 4, 5)
        lo, hi = rev.span
        hanging += sum(n_.end > hi + 1e-9 for n_ in rev.new)
        outside = sorted((n_.pitch, n_.velocity, n_.start, n_.duration) for n_ in piece.notes if not lo <= n_.start < hi)
        kept = sorted((n_.pitch, n_.velocity, n_.start, n_.duration) for n_ in rev.notes if not lo <= n_.start < hi)
        changed += int(outside != kept)
        # a kept note sounding into the span, struck again there by the take before it ends: cut short
        cut += sum(1 for a in rev.notes if a.start < lo < a.end
                   for b in rev.new if b.pitch == a.pitch and b.start < a.end)
        new.append(features(_window(rev.notes, 4), 2))
        around.append(features(_window(rev.notes, 2 if k % 2 == 0 else 6), 2))
        if (k + 1) % 10 == 0:
            log(f"rewritten: {k + 1}/{n}")
    test = _two_sample(np.array(new), np.array(around), seed, 5, 2, list(FEATURES))
    return {"pieces": n, "span": "bars 4-5 of 8", "two_sample": test, "hanging_notes": int(hanging),
            "pieces_with_kept_notes_changed": int(changed), "kept_notes_struck_again": int(cut)}


def reference(data, split: str = "test", log=print) -> dict:
    """The recogniser against POP909's own labels on the held-out songs (32 bars from the first downbeat)."""
    from .form_stats import song_statistics
    from .songs import corpus_dir, load_songs, split_ids

    root = corpus_dir(data)
    songs = [s for s in load_songs(root, [i for i in split_ids(split) if i.startswith("pop909")]) if s.meter == "4/4"]
    from .form_stats import chord_agreement

    rows = [song_statistics(s, 32) for s in songs]
    chord = float(np.nanmean([r["chord_match"] for r in rows]))
    root_ = float(np.nanmean([r["chord_root_match"] for r in rows]))
    spans = chord_agreement(songs)
    return {"songs": len(rows), "corpus": "POP909", "split": split, "chord": chord, "root": root_,
            "majmin_spans": spans["majmin_triad"][0], "majmin_spans_n": spans["majmin_triad"][1]}


def run(data=None, n: int = 50, emotion_n: int = 50, revise_n: int = 50, seed: int = 0, model_dir=None, log=print) -> dict:
    from ..generation.runtime import Runtime
    from .dataset import data_dir
    from .evaluate import test_images

    t0 = time.time()
    root = data_dir(data)
    rt = Runtime.load(model_dir)
    pictures = test_images(root, max(n, revise_n))
    followed, progressions = follow(rt, pictures, root, n, seed, log)
    out = {"model": rt.model_id, "pictures": len(pictures), "seed": seed, "followed": followed,
           "emotion": emotion(rt, pictures, root, progressions[:emotion_n], log),
           "rewrites": rewrites(rt, pictures, root, revise_n, seed, log),
           "reference": reference(data, log=log)}
    out["seconds"] = round(time.time() - t0, 1)
    return out


# --- the report ----------------------------------------------------------------------------

def _rec(rec: dict, run: str | None) -> dict:
    runs = rec.get("runs", {})
    return runs[run or "latest"] if (run or "latest") in runs else next(iter(runs.values()))


def _p(v) -> str:
    return "–" if v is None or v != v else f"{v:.0%}"


def follow_table(rec: dict, run: str | None = None) -> str:
    r = _rec(rec, run)
    f, ref = r["followed"], r["reference"]
    lines = ["| asked | bars | chord (root and quality) | root |", "|---|---|---|---|"]
    names = {"maj": "major triads", "min": "minor triads", "7": "dominant sevenths", "maj7": "major sevenths", "min7": "minor sevenths"}
    for q, row in f["by_quality"].items():
        lines.append(f"| {names[q]} | {row['bars']} | {_p(row['chord'])} | {_p(row['root'])} |")
    lines.append(f"| **all** ({f['progressions']} progressions) | {f['bars']} | **{_p(f['chord'])}** | **{_p(f['root'])}** |")
    lines.append(f"| real songs, each bar against its labelled chord ({ref['corpus']} {ref['split']}, {ref['songs']} songs × 32 bars) | – | "
                 f"{_p(ref['chord'])} | {_p(ref['root'])} |")
    lines.append(f"| real songs, each labelled major or minor span, root and third ({ref['majmin_spans_n']} spans) | – | "
                 f"{_p(ref['majmin_spans'])} | – |")
    return "\n".join(lines)


def emotion_table(rec: dict, run: str | None = None) -> str:
    e = _rec(rec, run)["emotion"]
    lines = ["| picture | its label (V, A) | as the product reads it | judge's VA of the music over the chords | the same seeds without chords |",
             "|---|---|---|---|---|"]
    for name in ("excited", "sad"):
        x = e[name]
        lines.append(f"| {name}: `{Path(x['picture']).name}` | {x['label'][0]:+.2f}, {x['label'][1]:+.2f} | "
                     f"{x['picture_va'][0]:+.2f}, {x['picture_va'][1]:+.2f} | {x['judge'][0]:+.2f}, {x['judge'][1]:+.2f} | "
                     f"{x['judge_without_chords'][0]:+.2f}, {x['judge_without_chords'][1]:+.2f} |")
    lines.append(f"| **gap** (valence, arousal) | | | **{e['gap_valence']:+.2f}, {e['gap_arousal']:+.2f}** | "
                 f"{e['gap_valence_without_chords']:+.2f}, {e['gap_arousal_without_chords']:+.2f} |")
    return "\n".join(lines)


def rewrite_table(rec: dict, run: str | None = None) -> str:
    w = _rec(rec, run)["rewrites"]
    t = w["two_sample"]
    imp = ", ".join(f"{k} {v:.2f}" for k, v in list(t.get("importance", {}).items())[:3])
    return "\n".join([
        "| measure | value |", "|---|---|",
        f"| pieces ({w['span']}) | {w['pieces']} |",
        f"| two-sample accuracy, rewritten bars vs the bars around them | {t['mean']:.3f} ± {t['std']:.3f} |",
        f"| what the forest leaned on most | {imp} |",
        f"| new notes sounding past the span | {w['hanging_notes']} |",
        f"| pieces whose kept notes changed | {w['pieces_with_kept_notes_changed']} |",
        f"| kept notes struck again inside the span before they end | {w['kept_notes_struck_again']} |"])


def intro(rec: dict, run: str | None = None) -> str:
    r = _rec(rec, run)
    return (f"Model `{r['model']}`; {r['pictures']} test pictures; measured in {r['seconds']:.0f} s "
            f"(`python -m engine.training.chords_eval`, seed {r['seed']}).")


BLOCKS = {"follow_table": follow_table, "emotion_table": emotion_table, "rewrite_table": rewrite_table, "intro": intro}
LAYOUT = """# Chords and rewritten bars

{{intro}}

## Chords followed

{{follow_table}}

## Emotion over the same chords

{{emotion_table}}

## Rewritten bars

{{rewrite_table}}
"""


def main(argv=None) -> int:
    from .reports import keep_and_publish

    ap = argparse.ArgumentParser(prog="python -m engine.training.chords_eval", description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="data directory (default: $SYNESTHETE_DATA or ../shared/data)")
    ap.add_argument("-n", type=int, default=50, help="random progressions (default 50)")
    ap.add_argument("--emotion-n", type=int, default=50, help="progressions of (1) played for the two pictures (default 50: all)")
    ap.add_argument("--revise-n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model-dir")
    ap.add_argument("--out", default="docs/CHORDS.md")
    ap.add_argument("--record", help="keep the run in this record (default: the committed one when --out is docs/CHORDS.md)")
    ap.add_argument("--as", dest="name", default="latest")
    a = ap.parse_args(argv)
    rep = run(a.data, a.n, a.emotion_n, a.revise_n, a.seed, a.model_dir, log=lambda m: print(m, file=sys.stderr))
    keep_and_publish("chords", rep, a.out, a.record, a.name, log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
