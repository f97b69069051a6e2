"""A better image VA: a ridge head over the encoder's pooled memory and colour statistics.

    python -m engine.training.va_head [--data PATH] [--report docs/IMAGE_VA.md] [--ship]

Features per picture (``engine.image_stats``): the shipped image encoder's memory pooled over
its tokens (mean and standard deviation) and ten colour/texture statistics. Ridge regression,
one per axis, fitted on the train split, its strength chosen on validation by mean absolute
error; compared on the test split with the encoder's own VA head and with each feature group
alone. ``--ship`` writes the head into the model sidecar (``va_head``); run
``python -m engine.training.calibrate`` afterwards, since calibration maps the head's output.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..image_stats import STAT_NAMES, VAHead
from ..images import load_image, preprocess
from ..runtime import MODEL_DIR, Runtime
from .dataset import data_dir, read_images
from .metrics import spearman

ALPHAS = (1.0, 10.0, 100.0, 1000.0, 3000.0, 10000.0, 30000.0, 100000.0)


def features(rt: Runtime, root: Path, images, log=print) -> tuple[np.ndarray, np.ndarray]:
    """(features, the encoder's own raw VA) for every picture."""
    feats, own = [], []
    for k, im in enumerate(images):
        img = load_image(root / im.path)
        memory, va = rt.encoder.run(None, {"image": preprocess(img, rt.size, rt.mean, rt.std)})
        feats.append(VAHead.features(memory, img))
        own.append(va[0])
        if (k + 1) % 200 == 0:
            log(f"features {k + 1}/{len(images)}")
    return np.array(feats, np.float32), np.array(own, np.float32)


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> dict:
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - y.mean(axis=0)))
    return {"mean": mean, "scale": scale, "weights": w, "bias": y.mean(axis=0)}


def predict(head: dict, x: np.ndarray) -> np.ndarray:
    return (x - head["mean"]) / head["scale"] @ head["weights"] + head["bias"]


def scores(pred: np.ndarray, y: np.ndarray) -> dict:
    return {"mae": float(np.abs(pred - y).mean()), "rho_valence": spearman(y[:, 0], pred[:, 0]),
            "rho_arousal": spearman(y[:, 1], pred[:, 1])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--report")
    ap.add_argument("--ship", action="store_true", help="write the head into engine/models/synesthete.json")
    a = ap.parse_args(argv)
    t0 = time.time()
    root = data_dir(a.data)
    rt = Runtime.load()
    items = {s: [i for i in read_images(root) if i.split == s] for s in ("train", "val", "test")}
    data = {}
    for split, ims in items.items():
        x, own = features(rt, root, ims, log=lambda m: print(f"{split}: {m}", file=sys.stderr))
        data[split] = (x, own, np.array([(i.valence, i.arousal) for i in ims], np.float32))
    d = len(data["train"][0][0]) - len(STAT_NAMES)
    groups = {"memory pooled": slice(0, d), "colour statistics": slice(d, None), "memory + colour": slice(0, None)}
    rows, best = [], None
    for name, cols in groups.items():
        xtr, _, ytr = data["train"]
        fits = [(alpha, fit_ridge(xtr[:, cols], ytr, alpha)) for alpha in ALPHAS]
        alpha, head = min(fits, key=lambda f: scores(predict(f[1], data["val"][0][:, cols]), data["val"][2])["mae"])
        row = {"features": name, "alpha": alpha, "n": int(xtr[:, cols].shape[1]),
               **{f"{s}_{k}": v for s in ("val", "test") for k, v in scores(predict(head, data[s][0][:, cols]), data[s][2]).items()}}
        rows.append(row)
        if name == "memory + colour":
            best = head
    own = {"features": "the encoder's own VA head (shipped)", "alpha": None, "n": None,
           **{f"{s}_{k}": v for s in ("val", "test") for k, v in scores(data[s][1], data[s][2]).items()}}
    rows.insert(0, own)
    lines = ["# Image VA: the encoder's head against a ridge head with colour statistics", "",
             f"Made by `python -m engine.training.va_head` ({time.time() - t0:.0f} s): {len(items['train'])} train, "
             f"{len(items['val'])} val, {len(items['test'])} test pictures. Ridge strength chosen on val by MAE "
             f"from {ALPHAS}. Raw outputs (before the quantile calibration, which keeps rank order).", "",
             "| features | ridge α | val MAE | val ρ valence | val ρ arousal | test MAE | test ρ valence | test ρ arousal |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['features']} | {r['alpha'] if r['alpha'] is not None else '–'} | {r['val_mae']:.3f} | {r['val_rho_valence']:.3f} | "
                     f"{r['val_rho_arousal']:.3f} | {r['test_mae']:.3f} | {r['test_rho_valence']:.3f} | {r['test_rho_arousal']:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.report:
        Path(a.report).write_text(text)
    if a.ship:
        from .export import update_sidecar

        head = {k: np.asarray(v, np.float64).round(6).tolist() for k, v in best.items()}
        head["features"] = f"memory mean+sd ({d}) + {', '.join(STAT_NAMES)}"
        side_p = update_sidecar(MODEL_DIR, va_head=head)
        print(f"wrote the VA head into {side_p}; now refit the calibration", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
