"""Decoding sweep: temperature, top-p and form on validation pictures, judged on musicality and
emotion fidelity together (issue 13, "decoding").

    python -m engine.training.sweep [--data PATH] [--model-dir DIR] [--n 60] [--bars 8] [--out docs/DECODING.md]

For each decoding setting, one piece per validation picture (labelled VA, seed = its index,
otherwise default settings) is compared with the real validation pieces: the classifier
two-sample accuracy (``musicality.two_sample_accuracy``; 0.5 = indistinguishable) and the
statistics the issue names, and the judge's VA MAE against the labels relative to shuffled
labels (fidelity; lower is better, 1.0 = the music ignores its target). The rule, fixed before
looking: the lowest two-sample accuracy among settings whose fidelity ratio is at most 0.75.
The test split is not touched, so the chosen default can then be reported on it unbiased.
"""
from __future__ import annotations

import argparse
import sys
import time

from ..events import VA
from ..music.judge import Judge
from ..request import GenerationSettings
from . import musicality as M
from . import reports as R
from .evaluate import fidelity, judge_all

GRID = [dict(temperature=t, top_p=p, form="free") for t in (1.0, 0.9, 0.8, 0.7) for p in (0.95, 0.9, 0.8)]
FORMS = [dict(form="phrases")]  # tried on top of the best free settings
SHOWN = ["notes_per_bar", "pitch_range", "pitch_entropy", "bar_repetition", "step_share", "leap_share", "chord_tone_share"]
FIDELITY_LIMIT = 0.75


def generate(rt, encodings, images, bars: int, **kw) -> list:
    return [list(rt.compose(GenerationSettings(bars=bars, seed=k, **{"intensity": 1.0, **kw}), enc, VA(im.valence, im.arousal)).notes)
            for k, (enc, im) in enumerate(zip(encodings, images))]


def score(real, pieces, vas, judge, bars: int) -> dict:
    ts = M.two_sample_accuracy(real, pieces, bars=bars, seed=0)
    stats = M.summary(pieces, bars)
    return {"two_sample": ts["mean"], "two_sample_std": ts["std"], "fidelity": fidelity(judge_all(pieces, judge), vas),
            "stats": {k: stats[k]["mean"] for k in M.FEATURES}}


def grid(temperatures=None, top_ps=None) -> list[dict]:
    """The free-form settings to sweep: the default grid, or every given temperature × top-p."""
    if not temperatures and not top_ps:
        return GRID
    return [dict(temperature=t, top_p=p, form="free") for t in (temperatures or [1.0]) for p in (top_ps or [0.95])]


def run(data: str | None, model_dir, n: int, bars: int, log=print, settings: list[dict] | None = None, forms: bool = True) -> dict:
    from ..generation.runtime import Runtime
    from .dataset import data_dir
    from .evaluate import reference_pieces, test_images

    root = data_dir(data)
    real = [M.clip(notes, bars) for _, notes in reference_pieces(root, bars, split="val")]
    images = test_images(root, n, split="val")
    rt, judge = Runtime.load(model_dir), Judge.load()
    encodings = [rt.encode(root / im.path) for im in images]
    vas = [(im.valence, im.arousal) for im in images]
    real_stats = M.summary(real, bars)
    rows = []
    t0 = time.time()

    def one(kw):
        r = {"settings": kw, **score(real, generate(rt, encodings, images, bars, **kw), vas, judge, bars)}
        rows.append(r)
        log(f"{kw}: two-sample {r['two_sample']:.3f}, fidelity ratio {r['fidelity']['ratio']:.3f}")

    for kw in settings or GRID:
        one(kw)
    ok = [r for r in rows if r["fidelity"]["ratio"] <= FIDELITY_LIMIT] or rows
    for best in sorted(ok, key=lambda r: r["two_sample"])[:2] if forms else []:
        for f in FORMS:
            one({**best["settings"], **f})
    ok = [r for r in rows if r["fidelity"]["ratio"] <= FIDELITY_LIMIT]
    chosen = min(ok, key=lambda r: r["two_sample"]) if ok else None
    return {"n_images": len(images), "n_real": len(real), "bars": bars, "seconds": time.time() - t0, "rows": rows,
            "real": {k: real_stats[k]["mean"] for k in M.FEATURES}, "chosen": chosen["settings"] if chosen else None,
            "floor": M.real_vs_real_floor(real, bars=bars, seed=0)["mean"]}


def intro(res: dict) -> str:
    return (f"Made by `python -m engine.training.sweep`: {res['n_images']} validation pictures (labelled VA, seed = index, "
            f"{res['bars']} bars) against {res['n_real']} real validation pieces. Two-sample accuracy: random forest on note statistics, "
            f"0.5 = indistinguishable (real vs real here: {res['floor']:.3f}). Fidelity ratio: the judge's VA MAE to the labels over "
            f"its MAE to shuffled labels. Rule fixed beforehand: the lowest two-sample accuracy with fidelity ratio ≤ {FIDELITY_LIMIT}."
            + (f" Sweep time {res['seconds'] / 60:.1f} min." if "seconds" in res else ""))


def table(res: dict) -> str:
    """Every setting swept beside real validation music, the chosen one marked."""
    head = "| temperature | top-p | form | two-sample acc ↓ | fidelity ratio ↓ | " + " | ".join(M.LABELS.get(k, k) for k in SHOWN) + " |"
    L = [head, "|" + "---|" * (5 + len(SHOWN)),
         "| real validation music | – | – | – | – | " + " | ".join(f"{res['real'][k]:.2f}" for k in SHOWN) + " |"]
    for r in res["rows"]:
        s = r["settings"]
        mark = " **(chosen)**" if s == res["chosen"] else ""
        L.append(f"| {s['temperature']} | {s['top_p']} | {s['form']}{mark} | {r['two_sample']:.3f} ± {r['two_sample_std']:.3f} | "
                 f"{r['fidelity']['ratio']:.3f} | " + " | ".join(f"{r['stats'][k]:.2f}" for k in SHOWN) + " |")
    return "\n".join(L)


def chosen(res: dict) -> str:
    return f"Chosen: {res['chosen']}." if res["chosen"] else "No setting kept the fidelity ratio within the limit."


# the report's parts (engine/training/reports.py): docs/prose/decoding.md places them in docs/DECODING.md
BLOCKS = {"intro": intro, "table": table, "chosen": chosen}
LAYOUT = "# Decoding sweep\n\n{{intro}}\n\n{{table}}\n\n{{chosen}}\n"


def markdown(res: dict) -> str:
    """The report of one sweep alone (the record's layout without curated prose)."""
    return R.standalone("decoding", res)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.training.sweep", description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--model-dir")
    ap.add_argument("--n", type=int, default=60, help="validation pictures (default 60)")
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--out", default="docs/DECODING.md", help="the report (docs/DECODING.md: from its template, docs/prose/decoding.md)")
    ap.add_argument("--json", "--record", dest="json", help="also write the raw results (the report's record) here; "
                    "default with --out docs/DECODING.md: docs/records/decoding.json")
    ap.add_argument("--temperature", type=float, nargs="+", help="sweep these temperatures (× --top-p) instead of the default grid")
    ap.add_argument("--top-p", type=float, nargs="+", help="sweep these top-p values (× --temperature) instead of the default grid")
    ap.add_argument("--no-forms", action="store_true", help="skip the phrase-form rows")
    a = ap.parse_args(argv)
    res = run(a.data, a.model_dir, a.n, a.bars, log=lambda m: print(m, file=sys.stderr),
              settings=grid(a.temperature, a.top_p), forms=not a.no_forms)
    keep = R.record_path(a.out, a.json)
    if keep:
        R.write_record(keep, res)
    R.publish("decoding", a.out, res, log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
