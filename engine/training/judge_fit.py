"""Fit the judge on the train split of midi.csv, choose ridge strength on val, report on test.

    python -m engine.training.judge_fit [--data PATH] [--out engine/models/judge.json]

Pieces that fail the beat-tracking sanity check are left out, as in training.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from .dataset import data_dir, load_pieces, read_midis
from ..events import quadrant
from ..music.judge import JUDGE_PATH, Judge, features
from ..generation.tokens import STEPS_PER_BEAT

EMOPIA_PUBLISHED = {"quadrant_acc": 0.684, "arousal_acc": 0.882, "valence_acc": 0.833}


def piece_features(pieces) -> np.ndarray:
    return np.stack([features(p.notes[:, 0], p.notes[:, 1], p.notes[:, 2] / STEPS_PER_BEAT, p.notes[:, 3] / STEPS_PER_BEAT) for p in pieces])


def scores(pred: np.ndarray, y: np.ndarray) -> dict:
    q_pred = np.array([quadrant(v, a) for v, a in pred])
    q_true = np.array([quadrant(v, a) for v, a in y])
    return {
        "va_mae": float(np.abs(pred - y).mean()),
        "valence_mae": float(np.abs(pred[:, 0] - y[:, 0]).mean()),
        "arousal_mae": float(np.abs(pred[:, 1] - y[:, 1]).mean()),
        "valence_acc": float(((pred[:, 0] >= 0) == (y[:, 0] >= 0)).mean()),
        "arousal_acc": float(((pred[:, 1] >= 0) == (y[:, 1] >= 0)).mean()),
        "quadrant_acc": float((q_pred == q_true).mean()),
        "n": int(len(y)),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--out", default=str(JUDGE_PATH))
    args = ap.parse_args(argv)
    root = data_dir(args.data)
    items = read_midis(root)
    pieces = [p for p in load_pieces(root, items) if p.ok and len(p.notes) >= 8]
    by = {s: [p for p in pieces if p.item.split == s] for s in ("train", "val", "test")}
    x = {s: piece_features(v) for s, v in by.items()}
    y = {s: np.array([[p.item.valence, p.item.arousal] for p in v]) for s, v in by.items()}
    best = None
    for alpha in (0.1, 1.0, 3.0, 10.0, 30.0, 100.0):
        j = Judge.fit(x["train"], y["train"], alpha)
        mae = np.abs(j.predict_features(x["val"]) - y["val"]).mean()
        if best is None or mae < best[0]:
            best = (mae, alpha)
    alpha = best[1]
    judge = Judge.fit(np.concatenate([x["train"]]), y["train"], alpha)
    mean_pred = np.tile(y["train"].mean(0), (len(y["test"]), 1))
    report = {
        "alpha": alpha,
        "trained_on": f"midi.csv train split, {len(by['train'])} pieces passing the beat-tracking check",
        "test": scores(judge.predict_features(x["test"]), y["test"]),
        "test_mean_baseline": scores(mean_pred, y["test"]),
        "test_emopia_only": scores(judge.predict_features(x["test"][[p.item.source == 'emopia' for p in by['test']]]), y["test"][[p.item.source == 'emopia' for p in by['test']]]),
        "emopia_published_classifier": EMOPIA_PUBLISHED,
    }
    judge.info = report
    judge.save(args.out)
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
