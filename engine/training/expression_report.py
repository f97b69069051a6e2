"""Does the picture's emotion reach the notes at a fixed tempo, and does an arc move bar by bar?

    python -m engine.training.expression_report --strengths 0 1 [--intensities 1 2] [--varieties 0 1] --out docs/EXPRESSION.md --as NAME

For each expression strength (``engine.generation.expression``; 0 = no bias, while the context still lets
go where an arc turns), on the test pictures:
the default path (the picture's calibrated VA, the default intensity, key auto, one seed per picture,
8 bars) at a fixed ``--tempo`` (as in a DAW, where the project sets the tempo), scored against
the pictures' *labels*: ρ(arousal, notes per piece), ρ(arousal, mean velocity), ρ(valence,
major clarity), the judge's VA MAE to the labels over its MAE to shuffled labels, and notes per
bar. Then the emotion arc (-0.8,-0.8) → (0.8,0.8) over 8 bars on a few pictures and seeds:
Spearman of bar index against notes and mean velocity per bar, averaged.

The run is kept in a record (``--record``; with ``--out docs/EXPRESSION.md``, docs/records/expression.json)
under ``--as NAME`` beside the runs already there, and docs/EXPRESSION.md is made from that record and its
template, docs/prose/expression.md, which names the runs each table shows (``engine/training/reports.py``);
any other ``--out`` gets this run alone.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..events import VA
from ..music.judge import Judge
from ..music.keys import major_clarity
from ..settings import DEFAULT_INTENSITY, DEFAULT_VARIETY, GenerationSettings
from ..generation.runtime import Runtime
from . import reports as R
from .dataset import data_dir
from .evaluate import fidelity, judge_all, test_images
from .metrics import spearman

ARC = (VA(-0.8, -0.8), VA(0.8, 0.8))


def default_path(rt: Runtime, images, root: Path, strength: float, tempo: float, bars: int, intensity: float = DEFAULT_INTENSITY,
                 variety: float = DEFAULT_VARIETY, seed: int | None = None) -> dict:
    """``seed`` None: each picture its own seed (its index), so pieces also differ by their seeded
    variety offsets; a number: every picture that one seed, as a user keeping the default seed does
    (the offset is then one shift for all, and only the picture moves the music)."""
    pieces, labels = [], []
    for k, im in enumerate(images):
        enc = rt.encode(root / im.path)
        s = GenerationSettings(bars=bars, seed=k if seed is None else seed, tempo=tempo, expression=strength, intensity=intensity, variety=variety)
        pieces.append(list(rt.compose(s, enc).notes))
        labels.append((im.valence, im.arousal))
    t = np.array(labels)
    judged = judge_all([p if p else [] for p in pieces], Judge.load())
    fid = fidelity(judged, t)
    return {"rho_arousal_notes": spearman(t[:, 1], [len(p) for p in pieces]),
            "rho_arousal_velocity": spearman(t[:, 1], [np.mean([n.velocity for n in p]) if p else 0 for p in pieces]),
            "rho_valence_major": spearman(t[:, 0], [major_clarity([n.pitch for n in p], [n.duration for n in p]) for p in pieces]),
            "fidelity_ratio": fid["ratio"], "va_mae": fid["va_mae"],
            "notes_per_bar": float(np.mean([len(p) for p in pieces]) / bars),
            "empty_bars": float(np.mean([sum(1 for b in range(bars) if not any(b * 4 <= n.start < b * 4 + 4 for n in p)) / bars
                                         for p in pieces]))}


def arc_response(rt: Runtime, images, root: Path, strength: float, tempo: float, seeds: int, bars: int = 8) -> dict:
    rd, rv = [], []
    for im in images:
        enc = rt.encode(root / im.path)
        for seed in range(seeds):
            s = GenerationSettings(bars=bars, seed=seed, tempo=tempo, arc=ARC, expression=strength)
            notes = rt.compose(s, enc, ARC[0]).notes
            per = [[n for n in notes if b * 4 <= n.start < b * 4 + 4] for b in range(bars)]
            rd.append(spearman(range(bars), [len(x) for x in per]))
            rv.append(spearman(range(bars), [np.mean([n.velocity for n in x]) if x else 0 for x in per]))
    return {"arc_rho_density": float(np.nanmean(rd)), "arc_rho_velocity": float(np.nanmean(rv)), "arc_pieces": len(rd)}


def real_bar_response(root: Path, min_range: float = 0.2) -> dict:
    """How real music moves with its own per-bar arousal (``vgmidi_bars.csv``): within each piece
    whose annotated arousal spans at least ``min_range``, Spearman of bar arousal against notes and
    mean velocity per bar (bars of the file's time signature, bar 1 = the first), averaged."""
    import csv

    from ..files.midi_io import MidiError, read_midi

    rows: dict[str, list[tuple[int, float]]] = {}
    with open(root / "vgmidi_bars.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            rows.setdefault(r["path"], []).append((int(r["bar"]), float(r["arousal"])))
    rd, rv = [], []
    for path, bars in rows.items():
        ar = dict(bars)
        if max(ar.values()) - min(ar.values()) < min_range:
            continue
        try:
            piece = read_midi(root / path)
        except MidiError:
            continue
        sig = piece.time_signatures[0] if piece.time_signatures else (0.0, 4, 4)
        bar_beats = sig[1] * 4 / sig[2]
        per = {b: [n for n in piece.notes if (b - 1) * bar_beats <= n.start_beat < b * bar_beats] for b in ar}
        keys = [b for b in sorted(ar) if per[b]]
        if len(keys) < 4:
            continue
        rd.append(spearman([ar[b] for b in keys], [len(per[b]) for b in keys]))
        rv.append(spearman([ar[b] for b in keys], [np.mean([n.velocity for n in per[b]]) for b in keys]))
    return {"real_rho_density": float(np.nanmean(rd)), "real_rho_velocity": float(np.nanmean(rv)), "real_pieces": len(rd)}


def setting_rows(rt: Runtime, images, root: Path, a, setting: str, values) -> list[dict]:
    """The default path (expression strength 1) at each value of one ``default_path`` setting."""
    rows = []
    for k in values:
        r = default_path(rt, images, root, 1.0, a.tempo, a.bars, **{setting: int(k) if setting == "seed" else k})
        print(f"{setting}={k:g} " + " ".join(f"{key}={v:.3f}" for key, v in r.items()), file=sys.stderr)
        rows.append({"value": k, **r})
    return rows


# --- the report (engine/training/reports.py): blocks over a record {"runs": {NAME: run}} ---------

def _run(rec: dict, run: str | None) -> dict:
    runs = rec["runs"]
    return runs[run] if run else runs[next(iter(runs))] if len(runs) == 1 else runs[run]


def intro(rec: dict, run: str | None = None, seconds: str = "yes") -> str:
    r = _run(rec, run)
    arc = r["arc"]
    return (f"Made by `python -m engine.training.expression_report` on {r['n_images']} {r['split']} pictures, "
            f"{r['bars']} bars at a fixed {r['tempo']:g} BPM, seed = the picture's index, the shipped model"
            + (f" ({r['seconds']:.0f} s)" if seconds == "yes" else "") + ". Default path: the picture's own (calibrated) VA at the default "
            f"intensity ({r['intensity']:g}); scored against its labels. "
            f"Arc: ({arc[0][0]:g},{arc[0][1]:g}) → ({arc[1][0]:g},{arc[1][1]:g}) over {r['bars']} bars, "
            f"{r['strengths'][0]['arc_pieces']} pieces ({r['arc_pictures']} pictures × {r['arc_seeds']} seeds).")


def strengths_table(rec: dict, run: str | None = None) -> str:
    """Each expression strength: the default path and the arc."""
    L = ["| strength | ρ(arousal, notes) | ρ(arousal, velocity) | ρ(valence, major) | judge MAE / shuffled | notes per bar | empty bars | arc ρ(bar, notes) | arc ρ(bar, velocity) |",
         "|---|---|---|---|---|---|---|---|---|"]
    for r in _run(rec, run)["strengths"]:
        L.append(f"| {r['strength']:g} | {r['rho_arousal_notes']:.3f} | {r['rho_arousal_velocity']:.3f} | {r['rho_valence_major']:.3f} | "
                 f"{r['fidelity_ratio']:.3f} | {r['notes_per_bar']:.1f} | {r['empty_bars']:.3f} | {r['arc_rho_density']:.2f} | {r['arc_rho_velocity']:.2f} |")
    return "\n".join(L)


CAPTIONS = {"intensity": "The default path at other intensities (`--intensity`; {pictures}):",
            "variety": "The default path at other variety settings (`--variety`: each piece's own density and touch around its mood's; {pictures}):",
            "seed": "The default path with one seed for every picture ({pictures}): as a user who keeps the seed renders picture after "
                    "picture; each seed's variety offset is then one shift for all pieces:"}


def setting_table(rec: dict, setting: str, run: str | None = None) -> str:
    """The default path at each value of ``setting`` (intensity, variety, seed), with its caption; nothing when not measured."""
    r = _run(rec, run)
    if not r.get(f"by_{setting}"):
        return ""
    head = "seed for every picture" if setting == "seed" else setting
    L = [CAPTIONS[setting].format(pictures=f"expression strength 1, the same {r['n_images']} {r['split']} pictures"), "",
         f"| {head} | ρ(arousal, notes) | ρ(arousal, velocity) | ρ(valence, major) | judge MAE | judge MAE / shuffled | notes per bar |",
         "|---|---|---|---|---|---|---|"]
    for x in r[f"by_{setting}"]:
        L.append(f"| {x['value']:g} | {x['rho_arousal_notes']:.3f} | {x['rho_arousal_velocity']:.3f} | {x['rho_valence_major']:.3f} | "
                 f"{x['va_mae']:.3f} | {x['fidelity_ratio']:.3f} | {x['notes_per_bar']:.1f} |")
    return "\n".join(L)


def defaults_table(rec: dict, run: str | None = None) -> str:
    """The default path (one seed per picture) beside one seed for every picture; bold where the default path does best."""
    r = _run(rec, run)
    rows = [("one seed per picture", r["strengths"][0])] + [(f"seed {x['value']:g} for every picture", x) for x in r.get("by_seed", [])]
    cols = [("rho_arousal_notes", max), ("rho_arousal_velocity", max), ("rho_valence_major", max), ("fidelity_ratio", min)]
    best = {k: pick(x[k] for _, x in rows) for k, pick in cols}
    L = ["| | ρ(arousal, notes) | ρ(arousal, velocity) | ρ(valence, major) | judge MAE / shuffled | notes per bar |", "|---|---|---|---|---|---|"]
    for i, (name, x) in enumerate(rows):
        cells = [f"**{x[k]:.3f}**" if i == 0 and x[k] == best[k] else f"{x[k]:.3f}" for k, _ in cols]
        L.append(f"| {name} | " + " | ".join(cells) + f" | {x['notes_per_bar']:.1f} |")
    return "\n".join(L)


def real(rec: dict, run: str | None = None) -> str:
    """How strongly real music couples density and touch to its own bar-by-bar arousal (VGMIDI)."""
    x = _run(rec, run).get("real")
    if not x:
        return ""
    return (f"Real music for comparison: in the {x['real_pieces']} VGMIDI pieces whose annotated arousal moves by 0.2 or more "
            f"over their bars (`vgmidi_bars.csv`), Spearman of each bar's arousal against its notes is {x['real_rho_density']:.2f} "
            f"and against its mean velocity {x['real_rho_velocity']:.2f} (averaged over pieces). Those arcs are smaller and slower "
            "than the test arc's, and VGMIDI velocities are often flat, so the numbers say how strongly real music couples density "
            "and touch to arousal bar by bar, not a target for the arc.")


def path_cells(rec: dict, point: str, run: str | None = None, bold: str = "") -> str:
    """One measurement of the default path (``point``: ``strengths.0``, ``by_seed.1``, ... inside the run),
    as a summary table's cells without its name: judge MAE / shuffled, ρ(arousal, notes), ρ(arousal,
    velocity), ρ(valence, major); the cells named in ``bold`` (comma-separated keys) in bold."""
    x = R.lookup(_run(rec, run), point)
    strong = set(filter(None, bold.split(",")))
    keys = ("fidelity_ratio", "rho_arousal_notes", "rho_arousal_velocity", "rho_valence_major")
    return " | ".join(f"**{R.number(x[k], '.3f')}**" if k in strong else R.number(x[k], ".3f") for k in keys)


BLOCKS = {"path_cells": path_cells, "intro": intro, "strengths_table": strengths_table, "setting_table": setting_table, "defaults_table": defaults_table, "real": real}
LAYOUT = """# Arousal in the notes (expression strength)

{{intro}}

{{strengths_table}}

{{setting_table setting=intensity}}

{{setting_table setting=variety}}

{{setting_table setting=seed}}

{{real}}
"""


def measure(a) -> dict:
    """One run of the report, as its record keeps it."""
    root = data_dir(a.data)
    images = test_images(root, a.n, a.split)
    rt = Runtime.load(a.model_dir)
    t0 = time.time()
    rows = []
    for k in a.strengths:
        r = {"strength": k, **default_path(rt, images, root, k, a.tempo, a.bars),
             **arc_response(rt, images[:: max(1, len(images) // a.arc_pictures)][: a.arc_pictures], root, k, a.tempo, a.arc_seeds)}
        rows.append(r)
        print(" ".join(f"{key}={v:.3f}" if isinstance(v, float) else f"{key}={v}" for key, v in r.items()), file=sys.stderr)
    run = {"split": a.split, "n_images": len(images), "bars": a.bars, "tempo": a.tempo, "intensity": DEFAULT_INTENSITY,
           "arc": [[ARC[0].valence, ARC[0].arousal], [ARC[1].valence, ARC[1].arousal]], "arc_pictures": a.arc_pictures,
           "arc_seeds": a.arc_seeds, "strengths": rows,
           # every other setting at its default then (GenerationSettings)
           "settings": {k: getattr(GenerationSettings(), k) for k in ("variety", "dynamics", "spread", "temperature", "top_p")}}
    for setting, values in (("intensity", a.intensities), ("variety", a.varieties), ("seed", a.fixed_seeds)):
        if values:
            run[f"by_{setting}"] = setting_rows(rt, images, root, a, setting, values)
    run["real"] = real_bar_response(root)
    run["seconds"] = time.time() - t0
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--model-dir")
    ap.add_argument("--strengths", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--tempo", type=float, default=110.0)
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("-n", type=int, default=0, help="pictures (0 = all)")
    ap.add_argument("--split", default="test", help="the pictures' split: test (report) or val (choosing the strength)")
    ap.add_argument("--arc-pictures", type=int, default=6)
    ap.add_argument("--arc-seeds", type=int, default=4)
    ap.add_argument("--intensities", type=float, nargs="+",
                    help="also the default path at these intensities (expression strength 1): how far from neutral to aim")
    ap.add_argument("--varieties", type=float, nargs="+",
                    help="also report the default path at these variety settings (expression strength 1)")
    ap.add_argument("--fixed-seeds", type=int, nargs="+",
                    help="also the default path with one seed for every picture (0 is the product's default seed)")
    ap.add_argument("--out", help="write a markdown report here (docs/EXPRESSION.md: all its runs, from its template docs/prose/expression.md)")
    ap.add_argument("--record", help="keep this run in this record (default with --out docs/EXPRESSION.md: docs/records/expression.json)")
    ap.add_argument("--as", dest="name", default="latest",
                    help="the run's name in the record, beside its other runs (the template names the runs it shows)")
    a = ap.parse_args(argv)
    run = measure(a)
    keep = R.record_path(a.out, a.record)
    if keep:
        R.store_run(keep, a.name, run)
        print(f"kept the run as {a.name!r} in {keep}", file=sys.stderr)
    text = R.standalone("expression", {"runs": {a.name: run}})
    if a.out:
        R.publish("expression", a.out, {"runs": {a.name: run}}, log=lambda m: print(m, file=sys.stderr))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
