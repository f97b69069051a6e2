"""docs/MUSICALITY.md: real test music against each system, on notes, side by side (issue 13).

    python -m engine.training.musicality_report --system "shipped=engine/models" \\
        --system "shipped, top-p 0.8=engine/models:top_p=0.8" [--data PATH] [--bars 8] [--out docs/MUSICALITY.md --as NAME]

A system is ``NAME=MODEL_DIR[:setting=value,...]`` (settings of ``GenerationSettings``: top_p,
temperature, form). Each generates one piece per test picture, as many pictures as there are
real test pieces (``evaluate.test_images``, seed 0), conditioned on the picture's labelled VA,
seed = index, unranked. Against the real test pieces: the two-sample accuracy (0.5 =
indistinguishable; the real-vs-real floor beside it), the statistics the issue's targets name
with their relative difference, the judge's fidelity ratio (VA MAE to the labels over the same
to shuffled labels), and per quadrant for the last system.

The run is kept in a record (``--record``; with ``--out docs/MUSICALITY.md``, docs/records/musicality.json)
under ``--as NAME`` beside the runs already there, and docs/MUSICALITY.md is made from that record and its
template, docs/prose/musicality.md, which names the runs each table shows (``engine/training/reports.py``);
any other ``--out`` gets this run alone.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..music.judge import Judge
from . import musicality as M
from . import reports as R
from .evaluate import fidelity, judge_all

SHOWN = ["notes_per_bar", "pitch_range", "pitch_entropy", "bar_repetition", "step_share", "leap_share", "chord_tone_share", "mean_pitch"]
TARGETS = "two-sample ≤ 0.70; repetition, notes per bar and pitch range within 15% of real; pitch entropy within 0.3 bits"


def parse_system(text: str) -> tuple[str, str, dict]:
    """``NAME=MODEL_DIR[:setting=value,...]`` → (name, model dir, settings); the name holds no '='."""
    name, _, rest = text.partition("=")
    model_dir, _, opts = rest.partition(":")
    settings = {}
    for kv in filter(None, opts.split(",")):
        k, _, v = kv.partition("=")
        settings[k.strip()] = v.strip() if k.strip() == "form" else float(v)
    return name.strip(), model_dir.strip(), settings


def check_system(text: str) -> None:
    """Raise ``UsageError`` saying what is wrong with a ``NAME=MODEL_DIR[:setting=value,...]``
    system, before any generating: settings not numbers, no ``=``, a model directory that does not
    exist, an unknown setting, a value out of range."""
    from ..errors import SettingError, UsageError
    from ..request import GenerationSettings

    try:
        name, model_dir, settings = parse_system(text)
    except ValueError:
        raise UsageError(f"--musicality {text!r}: settings are SETTING=NUMBER (or form=NAME), comma-separated") from None
    if not name or "=" not in text:
        raise UsageError(f"--musicality {text!r}: give NAME=MODEL_DIR (an empty MODEL_DIR is the shipped model)")
    if model_dir and not Path(model_dir).is_dir():
        raise UsageError(f"--musicality {text!r}: no model directory {model_dir!r}")
    unknown = sorted(set(settings) - set(GenerationSettings.__dataclass_fields__))
    if unknown:
        raise UsageError(f"--musicality {text!r}: unknown setting {unknown[0]!r}")
    try:
        GenerationSettings(**settings)
    except SettingError as e:
        raise UsageError(f"--musicality {text!r}: {e}") from None


def meets(res: dict) -> dict:
    rel, diff = res["relative"], res["difference"]
    return {"two_sample": res["two_sample"]["mean"] <= 0.70,
            "repetition": abs(rel["bar_repetition"]) <= 0.15, "notes_per_bar": abs(rel["notes_per_bar"]) <= 0.15,
            "pitch_range": abs(rel["pitch_range"]) <= 0.15, "pitch_entropy": abs(diff["pitch_entropy"]) <= 0.3}


def run(data, systems: list[str], bars: int, log=print, first_bar: int = 1, split: str = "test") -> dict:
    """Each system against the real music of ``split``, over ``bars`` bars from bar ``first_bar`` of
    both (2 leaves out the real clips' lead-in, where most of them are still silent); ``split`` "val"
    is for choosing a setting, "test" for reporting it."""
    from .dataset import data_dir
    from .evaluate import test_images

    root = data_dir(data)
    span = bars + first_bar - 1
    real, real_vas = M.real_test_pieces(root, span, split)
    real = [M.clip(M.from_bar(p, first_bar), bars) for p in real]
    images = test_images(root, len(real), split)
    judge = Judge.load()
    out = {"bars": bars, "first_bar": first_bar, "split": split, "n_real": len(real), "systems": []}
    for text in systems:
        name, model_dir, settings = parse_system(text)
        t0 = time.time()
        gen, vas = M.generate_for_images(images, root, span, model_dir or None, **settings)
        gen = [M.clip(M.from_bar(p, first_bar), bars) for p in gen]
        res = M.compare(real, gen, bars, seed=0, real_vas=real_vas, generated_vas=vas)
        res.update(name=name, settings=settings, fidelity=fidelity(judge_all(gen, judge), vas), seconds=time.time() - t0, meets=meets(res))
        out["systems"].append(res)
        log(f"{name}: two-sample {res['two_sample']['mean']:.3f}, fidelity ratio {res['fidelity']['ratio']:.3f}")
    out["real"] = out["systems"][0]["real"] if out["systems"] else {}
    out["floor"] = out["systems"][0]["floor"] if out["systems"] else {}
    return out


# --- the report (engine/training/reports.py): blocks over a record {"runs": {NAME: run's result}} ---

def _runs(rec: dict) -> dict:
    return rec["runs"]


def _rows(rec: dict, rows: str | None) -> list[tuple[dict, dict]]:
    """(run, system) for each of ``rows``: ``RUN`` (its every system) or ``RUN.INDEX``, comma-separated;
    None: every system of a one-run record."""
    runs = _runs(rec)
    if rows is None:
        (run,) = runs.values()
        return [(run, s) for s in run["systems"]]
    out = []
    for item in rows.split(","):
        name, dot, k = item.partition(".")
        out += [(runs[name], runs[name]["systems"][int(k)])] if dot else [(runs[name], s) for s in runs[name]["systems"]]
    return out


def intro(rec: dict, run: str | None = None) -> str:
    rep = _runs(rec)[run] if run else next(iter(_runs(rec).values()))
    return ("Generated by `python -m engine.training.musicality_report` (`engine/training/musicality.py`; the same report from "
            "`synesthete evaluate --musicality NAME=MODEL_DIR[:SETTING=VALUE,...]`): every number is what the "
            "code printed. Real music: the {n} {split}-split pieces, {span}, in their own keys. Each system: one piece per "
            "{split} picture ({n} pictures), the same bars of it, labelled VA, seed = index, unranked. Two-sample accuracy: a random forest on 21 note "
            "statistics, balanced classes, 5-fold × 2 cross-validation (0.5 = indistinguishable); the real-vs-real floor is the same "
            "test between two random halves of the real pieces: {fl:.3f} ± {fs:.3f}. Fidelity ratio: the judge's VA MAE to the labels "
            "over its MAE to shuffled labels (lower follows the target better; the issue asks ≤ 0.75).").format(
                n=rep["n_real"], split=rep.get("split", "test"), fl=rep["floor"].get("mean", float("nan")), fs=rep["floor"].get("std", float("nan")),
                span=(f"first {rep['bars']} bars" if rep.get("first_bar", 1) == 1 else
                      f"bars {rep['first_bar']}–{rep['first_bar'] + rep['bars'] - 1} (the first left out: most real clips open "
                      "with a mostly silent lead-in there)"))


def targets(rec: dict) -> str:
    return f"Targets (issue 13): {TARGETS}."


def table(rec: dict, rows: str | None = None, bold: str = "") -> str:
    """Real music, then each system of ``rows`` (see ``_rows``): the two-sample test, the fidelity
    ratio and the statistics the targets name, relative to real music; the systems of ``bold`` in bold."""
    picked = _rows(rec, rows)
    first = picked[0][0]
    strong = {id(s) for _, s in _rows(rec, bold)} if bold else set()
    L = ["| system | two-sample acc ↓ | fidelity ratio ↓ | " + " | ".join(M.LABELS.get(k, k) for k in SHOWN) + " |", "|" + "---|" * (3 + len(SHOWN)),
         f"| real {first.get('split', 'test')} music | – | – | " + " | ".join(M._f(first["real"][k]["mean"]) for k in SHOWN) + " |"]
    for _, s in picked:
        name = f"**{s['name']}**" if id(s) in strong else s["name"]
        L.append(f"| {name} | {M._f(s['two_sample']['mean'], 3)} ± {M._f(s['two_sample']['std'], 3)} | {s['fidelity']['ratio']:.3f} | "
                 + " | ".join(f"{M._f(s['generated'][k]['mean'])} ({s['relative'][k]:+.0%})" for k in SHOWN) + " |")
    return "\n".join(L)


def targets_met(rec: dict, rows: str | None = None) -> str:
    """Which targets each system meets, one line each."""
    return "\n".join(f"- {s['name']}: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in s["meets"].items()) for _, s in _rows(rec, rows))


def importance(rec: dict, row: str | None = None, name: str | None = None) -> str:
    """The forest's five strongest clues against one system (default: the last of the record)."""
    s = _rows(rec, row)[-1][1]
    top = sorted(s["two_sample"]["importance"].items(), key=lambda kv: -kv[1])[:5]
    return f"What gives {name or s['name']} away (forest importance): " + ", ".join(f"{M.LABELS.get(k, k)} {v:.2f}" for k, v in top) + "."


def statistics(rec: dict, row: str | None = None) -> str:
    """Every statistic of one system beside real music, and by quadrant."""
    s = dict(_rows(rec, row)[-1][1])
    # M.markdown's first line (the two-sample test, left out here) reads these; a transcribed record may lack them
    s["two_sample"] = {"n_per_class": 0, "folds": 0, "repeats": 0, **s["two_sample"]}
    s.setdefault("floor", {"mean": float("nan"), "std": float("nan")})
    s.setdefault("bars", 0)
    if "by_quadrant" in s:
        s["by_quadrant"] = {int(q): v for q, v in s["by_quadrant"].items()}  # JSON keeps the quadrants as strings
    return M.markdown(s).split("\n\n", 1)[-1].rstrip("\n")


def last_name(rec: dict) -> str:
    return _rows(rec, None)[-1][1]["name"]


BLOCKS = {"intro": intro, "targets": targets, "table": table, "targets_met": targets_met, "importance": importance,
          "statistics": statistics, "last_name": last_name}
LAYOUT = """# Musicality

{{intro}}

{{targets}}

{{table}}

Relative differences to real music in brackets. Targets met:

{{targets_met}}

{{importance}}

## Every statistic, and by quadrant ({{last_name}})

{{statistics}}
"""


def markdown(rep: dict) -> str:
    """The report of one run alone (the record's layout without curated prose)."""
    return R.standalone("musicality", {"runs": {"this": rep}})


def write(rep: dict, out, record: str | None = None, name: str = "latest", log=print) -> None:
    """Keep the run and write ``out`` (docs/MUSICALITY.md from its template and record; ``reports.keep_and_publish``)."""
    R.keep_and_publish("musicality", rep, out, record, name, log=log)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.training.musicality_report", description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--system", action="append", required=True, help="NAME=MODEL_DIR[:setting=value,...]")
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--first-bar", type=int, default=1, help="compare from this bar on (2: without the real clips' lead-in bar)")
    ap.add_argument("--split", default="test", choices=("test", "val"), help="val: pictures and real pieces for choosing a setting")
    ap.add_argument("--out", default="docs/MUSICALITY.md", help="the report (docs/MUSICALITY.md: all its runs, from its template docs/prose/musicality.md)")
    ap.add_argument("--record", help="keep this run in this record (default with --out docs/MUSICALITY.md: docs/records/musicality.json)")
    ap.add_argument("--as", dest="name", default="latest", help="the run's name in the record, beside its other runs (the template names the runs it shows)")
    a = ap.parse_args(argv)
    if a.first_bar < 1:
        ap.error("--first-bar counts from 1")
    rep = run(a.data, a.system, a.bars, log=lambda m: print(m, file=sys.stderr), first_bar=a.first_bar, split=a.split)
    write(rep, a.out, a.record, a.name, log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
