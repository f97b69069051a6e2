"""Does the picture's emotion reach the notes at a fixed tempo, and does an arc move bar by bar?

    python -m engine.training.expression_report --strengths 0 1 [--intensities 1 2] [--varieties 0 1] --out docs/EXPRESSION.md

For each expression strength (``engine.expression``; 0 = no bias, while the context still lets
go where an arc turns), on the test pictures:
the default path (the picture's calibrated VA, the default intensity, key auto, one seed per picture,
8 bars) at a fixed ``--tempo`` (as in a DAW, where the project sets the tempo), scored against
the pictures' *labels*: ρ(arousal, notes per piece), ρ(arousal, mean velocity), ρ(valence,
major clarity), the judge's VA MAE to the labels over its MAE to shuffled labels, and notes per
bar. Then the emotion arc (-0.8,-0.8) → (0.8,0.8) over 8 bars on a few pictures and seeds:
Spearman of bar index against notes and mean velocity per bar, averaged.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..events import VA
from ..judge import Judge
from ..keys import major_clarity
from ..request import DEFAULT_INTENSITY, DEFAULT_VARIETY, GenerationSettings
from ..runtime import Runtime
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

    from ..midi_io import MidiError, read_midi

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


def setting_table(rt: Runtime, images, root: Path, a, setting: str, values, caption: str) -> list[str]:
    """The default path (expression strength 1) at each value of one ``default_path`` setting, as markdown lines."""
    head = "seed for every picture" if setting == "seed" else setting
    lines = ["", caption, "",
             f"| {head} | ρ(arousal, notes) | ρ(arousal, velocity) | ρ(valence, major) | judge MAE | judge MAE / shuffled | notes per bar |",
             "|---|---|---|---|---|---|---|"]
    for k in values:
        r = default_path(rt, images, root, 1.0, a.tempo, a.bars, **{setting: int(k) if setting == "seed" else k})
        print(f"{setting}={k:g} " + " ".join(f"{key}={v:.3f}" for key, v in r.items()), file=sys.stderr)
        lines.append(f"| {k:g} | {r['rho_arousal_notes']:.3f} | {r['rho_arousal_velocity']:.3f} | {r['rho_valence_major']:.3f} | "
                     f"{r['va_mae']:.3f} | {r['fidelity_ratio']:.3f} | {r['notes_per_bar']:.1f} |")
    return lines


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
    ap.add_argument("--out", help="write a markdown report here")
    a = ap.parse_args(argv)
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
    lines = [
        "# Arousal in the notes (expression strength)", "",
        f"Made by `python -m engine.training.expression_report` on {len(images)} {a.split} pictures, "
        f"{a.bars} bars at a fixed {a.tempo:g} BPM, seed = the picture's index, the shipped model "
        f"({time.time() - t0:.0f} s). Default path: the picture's own (calibrated) VA at the default intensity "
        f"({DEFAULT_INTENSITY:g}); scored against its labels. "
        f"Arc: ({ARC[0].valence:g},{ARC[0].arousal:g}) → ({ARC[1].valence:g},{ARC[1].arousal:g}) over {a.bars} bars, "
        f"{rows[0]['arc_pieces']} pieces ({a.arc_pictures} pictures × {a.arc_seeds} seeds).", "",
        "| strength | ρ(arousal, notes) | ρ(arousal, velocity) | ρ(valence, major) | judge MAE / shuffled | notes per bar | empty bars | arc ρ(bar, notes) | arc ρ(bar, velocity) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['strength']:g} | {r['rho_arousal_notes']:.3f} | {r['rho_arousal_velocity']:.3f} | {r['rho_valence_major']:.3f} | "
                     f"{r['fidelity_ratio']:.3f} | {r['notes_per_bar']:.1f} | {r['empty_bars']:.3f} | {r['arc_rho_density']:.2f} | {r['arc_rho_velocity']:.2f} |")
    pictures = f"expression strength 1, the same {len(images)} {a.split} pictures"
    if a.intensities:
        lines += setting_table(rt, images, root, a, "intensity", a.intensities,
                               f"The default path at other intensities (`--intensity`; {pictures}):")
    if a.varieties:
        lines += setting_table(rt, images, root, a, "variety", a.varieties,
                               f"The default path at other variety settings (`--variety`: each piece's own density and touch "
                               f"around its mood's; {pictures}):")
    if a.fixed_seeds:
        lines += setting_table(rt, images, root, a, "seed", a.fixed_seeds,
                               f"The default path with one seed for every picture ({pictures}): as a user who keeps the seed "
                               "renders picture after picture; each seed's variety offset is then one shift for all pieces:")
    real = real_bar_response(root)
    lines += ["", f"Real music for comparison: in the {real['real_pieces']} VGMIDI pieces whose annotated arousal moves by 0.2 or more "
              f"over their bars (`vgmidi_bars.csv`), Spearman of each bar's arousal against its notes is {real['real_rho_density']:.2f} "
              f"and against its mean velocity {real['real_rho_velocity']:.2f} (averaged over pieces). Those arcs are smaller and slower "
              "than the test arc's, and VGMIDI velocities are often flat, so the numbers say how strongly real music couples density "
              "and touch to arousal bar by bar, not a target for the arc."]
    text = "\n".join(lines) + "\n"
    if a.out:
        Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
