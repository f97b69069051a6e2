"""Fit the image head's calibration on validation pictures and store it in a model's sidecar.

    python -m engine.training.calibrate [--model-dir engine/models] [--data PATH] [--dry-run]

Fits ``engine.calibration`` (a per-axis quantile mapping) from the model's raw VA on the
validation pictures to their labels, then reports the test pictures before and after: MAE,
the 5th–95th percentile span against the labels' span, and Spearman ρ (unchanged by a
monotone map). Writes the sidecar atomically unless ``--dry-run``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from .. import calibration as C
from ..runtime import MODEL_DIR, Runtime
from .dataset import data_dir, read_images
from .metrics import spearman


def raw_predictions(rt: Runtime, root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    imgs = sorted((i for i in read_images(root) if i.split == split), key=lambda i: i.path)
    raw = [rt.encode(root / i.path).raw_va for i in imgs]  # raw_va: before any calibration
    return np.array([[v.valence, v.arousal] for v in raw]), np.array([[i.valence, i.arousal] for i in imgs])


def report(pred: np.ndarray, labels: np.ndarray) -> dict:
    out = {"mae": float(np.abs(pred - labels).mean())}
    for i, axis in enumerate(C.AXES):
        p5, p95 = np.percentile(pred[:, i], [5, 95])
        l5, l95 = np.percentile(labels[:, i], [5, 95])
        out[axis] = {"mae": float(np.abs(pred[:, i] - labels[:, i]).mean()), "span": [float(p5), float(p95)],
                     "label_span": [float(l5), float(l95)], "spearman": spearman(labels[:, i], pred[:, i])}
    return out


def music_fidelity(rt: Runtime, root: Path, cal: dict, n: int, bars: int = 8) -> dict:
    """The default path end to end on ``n`` test pictures: music conditioned on the picture's VA
    (raw, then calibrated), judged against the label: judge MAE, shuffled-label MAE, their ratio."""
    from ..judge import Judge
    from ..request import GenerationSettings
    from .evaluate import test_images
    from .sweep import fidelity

    judge, images = Judge.load(), test_images(root, n)
    labels = [(i.valence, i.arousal) for i in images]
    out = {}
    for name, c in (("before", None), ("after", cal)):
        pieces = []
        for k, im in enumerate(images):
            enc = rt.encode(root / im.path)
            target = C.apply(c, enc.raw_va.valence, enc.raw_va.arousal)
            pieces.append(list(rt.compose(GenerationSettings(bars=bars, seed=k), enc, target).notes))
        out[name] = fidelity(pieces, labels, judge)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.training.calibrate", description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", default=str(MODEL_DIR))
    ap.add_argument("--data")
    ap.add_argument("--dry-run", action="store_true", help="report only; leave the sidecar as it is")
    ap.add_argument("--music", type=int, default=0, help="also measure the music end to end on this many test pictures")
    a = ap.parse_args(argv)
    root = data_dir(a.data)
    rt = Runtime.load(a.model_dir, verify=False)
    raw_val, lab_val = raw_predictions(rt, root, "val")
    cal = C.fit(raw_val, lab_val)
    raw_test, lab_test = raw_predictions(rt, root, "test")
    after = np.array([[v.valence, v.arousal] for v in (C.apply(cal, *x) for x in raw_test)])
    before = np.clip(raw_test, -1, 1)
    res = {"n_val": len(raw_val), "n_test": len(raw_test), "before": report(before, lab_test), "after": report(after, lab_test)}
    if a.music:
        res["music"] = music_fidelity(rt, root, cal, a.music)
    cal["test"] = {k: res[k] for k in ("before", "after", "music") if k in res}
    print(json.dumps(res, indent=1))
    if not a.dry_run:
        side_p = Path(a.model_dir) / "synesthete.json"
        side = json.loads(side_p.read_text())
        side["calibration"] = cal
        part = side_p.with_suffix(".json.part")
        part.write_text(json.dumps(side, indent=1))
        os.replace(part, side_p)
        print(f"wrote the calibration into {side_p}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
