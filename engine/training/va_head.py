"""A better image VA: a ridge head over pooled backbone features, the encoder's memory and colour statistics.

    python -m engine.training.va_head [--data PATH] [--model-dir DIR] [--report docs/IMAGE_VA.md] [--ship]

Feature groups per picture (``engine.picture.image_stats.feature_groups``): the frozen backbone's feature
map averaged over its grid (the encoder graph's ``pooled`` output — ImageNet features, trained on
a million pictures, where the encoder's memory was trained on 2,000 for music), the encoder's
memory pooled over its tokens (mean and standard deviation), ten colour/texture statistics, and
(for EfficientNet-Lite, the encoder graph's ``stages`` output) the last block of each of the
backbone's seven stages pooled by mean and standard deviation — the mid-level texture and edge
statistics that the last map has abstracted away.
Ridge regression, one per axis, fitted on the train split for each combination of groups, its
strength chosen on validation by mean absolute error; the combination shipped is the one with the
lowest validation MAE, reported on the test split beside the encoder's own VA head.
``--ship`` writes the head into the model sidecar (``va_head``); run
``python -m engine.training.calibrate`` afterwards, since calibration maps the head's output.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..picture.image_stats import INPUTS, feature_groups
from ..picture.images import load_image
from ..generation.runtime import MODEL_DIR, Runtime
from . import reports as R
from .dataset import data_dir, read_images
from .metrics import spearman

GROUP_NAMES = {"backbone": "backbone pooled", "memory": "memory pooled", "colour": "colour statistics",
               "stages": "backbone stages pooled (mean, sd)"}
assert set(GROUP_NAMES) == set(INPUTS)
ALPHAS = (1.0, 10.0, 100.0, 1000.0, 3000.0, 10000.0, 30000.0, 100000.0)


def features(rt: Runtime, root: Path, images, log=print) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """({group: features}, the encoder's own raw VA) for every picture."""
    groups: dict[str, list] = {}
    own = []
    if "pooled" not in [o.name for o in rt.encoder.get_outputs()]:
        raise SystemExit("the image encoder has no 'pooled' output: re-export the model (export_onnx.py)")
    for k, im in enumerate(images):
        img = load_image(root / im.path)
        out = rt.encoder_outputs(img)
        for name, x in feature_groups(out, img).items():
            groups.setdefault(name, []).append(x)
        own.append(out["va"][0])
        if (k + 1) % 200 == 0:
            log(f"features {k + 1}/{len(images)}")
    return {n: np.array(v, np.float32) for n, v in groups.items()}, np.array(own, np.float32)


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


def per_source(pred: np.ndarray, y: np.ndarray, sources: list[str]) -> dict[str, dict]:
    """``scores`` for the pictures of each source, with their count, in name order."""
    src = np.array(sources)
    return {s: {"n": int((src == s).sum()), **scores(pred[src == s], y[src == s])} for s in sorted(set(sources))}


def intro(rec: dict) -> str:
    n = rec["n"]
    return (f"Made by `python -m engine.training.va_head` ({rec['seconds']:.0f} s): {n['train']} train, {n['val']} val, {n['test']} test "
            f"pictures. Ridge strength chosen on val by MAE from {tuple(rec['alphas'])}; the combination with the lowest val MAE is "
            "shipped (**bold**). Raw outputs (before the quantile calibration, which keeps rank order).")


def heads_table(rec: dict) -> str:
    """Every feature combination on val and test, the encoder's own head first, the shipped one in bold."""
    L = ["| features | dims | ridge α | val MAE | val ρ valence | val ρ arousal | test MAE | test ρ valence | test ρ arousal |",
         "|---|---|---|---|---|---|---|---|---|"]
    for r in rec["rows"]:
        name = f"**{r['features']}**" if r.get("chosen") else r["features"]
        L.append(f"| {name} | {r['n'] or '–'} | {r['alpha'] if r['alpha'] is not None else '–'} | {r['val_mae']:.3f} | {r['val_rho_valence']:.3f} | "
                 f"{r['val_rho_arousal']:.3f} | {r['test_mae']:.3f} | {r['test_rho_valence']:.3f} | {r['test_rho_arousal']:.3f} |")
    return "\n".join(L)


def sources_table(rec: dict) -> str:
    """The chosen head on the test pictures of each source."""
    return "\n".join(["| source | pictures | MAE | ρ valence | ρ arousal |", "|---|---|---|---|---|"]
                     + [f"| {src} | {r['n']} | {r['mae']:.3f} | {r['rho_valence']:.3f} | {r['rho_arousal']:.3f} |" for src, r in rec["by_source"].items()])


def chosen(rec: dict, key: str, spec: str = ".3f") -> str:
    """One figure of the shipped head (e.g. ``test_rho_arousal``), for prose."""
    return R.number(next(r for r in rec["rows"] if r.get("chosen"))[key], spec)


# the report's parts (engine/training/reports.py): docs/prose/image_va.md places them in docs/IMAGE_VA.md
BLOCKS = {"intro": intro, "heads_table": heads_table, "sources_table": sources_table, "chosen": chosen}
LAYOUT = """# Image VA: the encoder's head against ridge heads over backbone, memory, stage and colour features

{{intro}}

{{heads_table}}

The chosen head on the test pictures of each source (the two sources' arousal ratings are not equally predictable from a picture):

{{sources_table}}
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--report", help="write the report here (docs/IMAGE_VA.md: from its template, docs/prose/image_va.md)")
    ap.add_argument("--record", help="keep the numbers here (default with --report docs/IMAGE_VA.md: docs/records/image_va.json)")
    ap.add_argument("--model-dir", default=str(MODEL_DIR), help="the model whose encoder is read and whose sidecar --ship writes")
    ap.add_argument("--ship", action="store_true", help="write the head into the model's synesthete.json")
    a = ap.parse_args(argv)
    t0 = time.time()
    root = data_dir(a.data)
    rt = Runtime.load(a.model_dir)
    items = {s: [i for i in read_images(root) if i.split == s] for s in ("train", "val", "test")}
    data = {}
    for split, ims in items.items():
        x, own = features(rt, root, ims, log=lambda m: print(f"{split}: {m}", file=sys.stderr))
        data[split] = (x, own, np.array([(i.valence, i.arousal) for i in ims], np.float32))
    combos = [("backbone",), ("memory",), ("colour",), ("backbone", "colour"), ("memory", "colour"), ("backbone", "memory", "colour")]
    if "stages" in data["train"][0]:  # an encoder that gives its stages' statistics (EfficientNet-Lite)
        combos += [("stages",), ("stages", "colour"), ("backbone", "stages"), ("backbone", "stages", "colour"),
                   ("backbone", "memory", "stages", "colour")]
    rows, heads = [], {}
    for inputs in combos:
        cols = {s: np.concatenate([data[s][0][g] for g in inputs], axis=1) for s in data}
        ytr = data["train"][2]
        fits = [(alpha, fit_ridge(cols["train"], ytr, alpha)) for alpha in ALPHAS]
        alpha, head = min(fits, key=lambda f: scores(predict(f[1], cols["val"]), data["val"][2])["mae"])
        row = {"features": " + ".join(GROUP_NAMES[g] for g in inputs), "inputs": inputs, "alpha": alpha, "n": int(cols["train"].shape[1]),
               **{f"{s}_{k}": v for s in ("val", "test") for k, v in scores(predict(head, cols[s]), data[s][2]).items()}}
        rows.append(row)
        heads[inputs] = head
    chosen = min(rows, key=lambda r: r["val_mae"])
    best, best_inputs = heads[chosen["inputs"]], chosen["inputs"]
    own = {"features": "the encoder's own VA head", "alpha": None, "n": None,
           **{f"{s}_{k}": v for s in ("val", "test") for k, v in scores(data[s][1], data[s][2]).items()}}
    rows.insert(0, own)
    cols = np.concatenate([data["test"][0][g] for g in best_inputs], axis=1)
    by_source = per_source(predict(best, cols), data["test"][2], [i.source for i in items["test"]])
    record = {"seconds": time.time() - t0, "n": {s: len(items[s]) for s in items}, "alphas": list(ALPHAS),
              "rows": [{k: (list(v) if k == "inputs" else v) for k, v in r.items()} | {"chosen": r is chosen} for r in rows],
              "by_source": by_source}
    text = R.standalone("image_va", record)
    print(text)
    keep = R.record_path(a.report, a.record)
    if keep:
        R.write_record(keep, record)
    if a.report:
        R.publish("image_va", a.report, record, log=lambda m: print(m, file=sys.stderr))
    if a.ship:
        from .export import update_sidecar

        head = {k: np.asarray(v, np.float64).round(6).tolist() for k, v in best.items()}
        head["inputs"] = list(best_inputs)
        head["test"] = {"chosen": {k: round(chosen[f"test_{k}"], 4) for k in ("mae", "rho_valence", "rho_arousal")},
                        "encoder_head": {k: round(own[f"test_{k}"], 4) for k in ("mae", "rho_valence", "rho_arousal")},
                        "n": len(items["test"]),
                        "by_source": {src: {k: round(v, 4) for k, v in r.items()} for src, r in by_source.items()}}
        head["features"] = " + ".join(f"{GROUP_NAMES[g]} ({data['train'][0][g].shape[1]})" for g in best_inputs)
        side_p = update_sidecar(a.model_dir, va_head=head)
        print(f"wrote the VA head into {side_p}; now refit the calibration", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
