"""``synesthete evaluate``: every trained run in ``runs/`` against the real test music → docs/RESULTS.md.

    synesthete evaluate --data PATH --runs runs --out docs/RESULTS.md [--samples 64] [--bars 8]

For each finished run (a directory with ``ckpt.pt`` and ``DONE``), music is generated for
the same ``--samples`` test images (chosen with seed 0), conditioned on each image's labelled
VA, seed = the image's index, temperature 1.0, top-p 0.95, key auto; **unranked** (one
sample per image, no selection by the judge). A second piece per image is conditioned on the
VA the model itself reads from the picture (the product's default path, where backbones
differ), judged against the image's label. Transformer runs are exported to ONNX and
sampled with the runtime; the LSTM baseline is sampled in PyTorch with the same sampler.
Results are cached per run in ``runs/<name>/eval.json`` (keyed by step, samples, bars), so a
rerun only computes what is new. The numbers are kept in a record (``--record``; with ``--out
docs/RESULTS.md``, docs/records/results.json, merged by system so runs kept elsewhere stay), and the
report is made from it: docs/RESULTS.md through its template docs/prose/results.md
(``engine/training/reports.py``), any other ``--out`` in this module's own ``LAYOUT``.
"""
from __future__ import annotations

import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

from .dataset import data_dir, read_images
from ..events import NoteEvent, quadrant
from ..music.judge import Judge
from ..music.keys import major_clarity
from ..generation.tokens import STEPS_PER_BAR, STEPS_PER_BEAT
from . import reports as R
from .metrics import mean_velocity, muspy_metrics, note_density, spearman

PAPER = {"polyphony_rate": 0.7818, "pitch_entropy": 3.0932, "groove_consistency": 0.9998}
ORDER = ["main", "va03", "ft01", "ft02", "ft02_nova", "ft03_va06", "ft03_nova", "no_va_loss", "lstm", "vgg16", "inception_v3", "layers1", "layers6", "paper"]
LABELS = {
    "main": "Transformer + VA loss (EfficientNet-Lite0, 3 layers) — shipped until va03",
    "va03": "the same with VA-loss weight 0.3 (va03) — shipped until ft01",
    "ft01": "va03's recipe from a decoder pretrained on music21's corpus (ft01) — shipped until ft02",
    "ft02": "ft01's recipe at d=256 x 4 layers, trained on a GPU: four corpus sets, best validation epoch (ft02) — shipped until ft03_va06",
    "ft02_nova": "ft02 without the VA loss",
    "ft03_va06": "ft02's pretrained decoder fine-tuned with density and touch controls, VA-loss weight 0.6 (ft03_va06) — shipped",
    "ft03_nova": "ft03_va06 without the VA loss",
    "no_va_loss": "without VA loss", "lstm": "LSTM baseline", "vgg16": "VGG16 backbone",
    "inception_v3": "InceptionV3 backbone", "layers1": "1 decoder layer", "layers6": "6 decoder layers",
    "paper": "paper preset (Adam 1e-5, 15 epochs)",
}
# bump when what is computed per run changes, so cached eval.json files are recomputed
EVAL_VERSION = 2
SIZE_BUDGET_MB = 40.0  # committed model files (issue 13)
METRICS = ["polyphony_rate", "pitch_entropy", "pitch_class_entropy", "groove_consistency", "polyphony_rate_16", "groove_consistency_16"]


def test_images(root: Path, n: int, split: str = "test"):
    """``n`` images of ``split`` (all when n ≤ 0), chosen with seed 0, in path order."""
    imgs = sorted((i for i in read_images(root) if i.split == split), key=lambda i: i.path)
    if n <= 0 or n >= len(imgs):
        return imgs
    idx = np.random.default_rng(0).choice(len(imgs), size=n, replace=False)
    return [imgs[i] for i in sorted(idx)]


def reference_pieces(root: Path, bars: int, split: str = "test"):
    """Real pieces of ``split`` (first ``bars`` bars, in their own keys, at least 8 notes): [(item, notes)]."""
    from .sequences import usable_pieces

    out = []
    for p in usable_pieces(root):
        if p.item.split != split:
            continue
        sel = p.notes[p.notes[:, 2] < bars * STEPS_PER_BAR]
        notes = [NoteEvent(int(a), int(b), c / STEPS_PER_BEAT, d / STEPS_PER_BEAT) for a, b, c, d in sel]
        if len(notes) >= 8:
            out.append((p.item, notes))
    return out


def fidelity(judged: np.ndarray, targets, seed: int = 1) -> dict:
    """The judge's VA MAE to the targets, the same to shuffled targets (what music that ignores its
    target scores), and their ratio (lower follows the target better; 1 = ignores it)."""
    t = np.asarray(targets, dtype=float)
    mae = float(np.abs(judged - t).mean())
    shuffled = float(np.abs(judged - t[np.random.default_rng(seed).permutation(len(t))]).mean())
    return {"va_mae": mae, "va_mae_shuffled": shuffled, "ratio": mae / shuffled if shuffled else float("nan")}


def judge_all(pieces, judge: Judge) -> np.ndarray:
    """(n, 2): the judge's VA of each piece."""
    return np.array([judge.predict(list(p)) for p in pieces], dtype=float).reshape(-1, 2)


def summarize(pieces: list[list[NoteEvent]], targets: np.ndarray | None, judge: Judge) -> dict:
    rows = [muspy_metrics(n) for n in pieces]
    out = {k: float(np.nanmean([r[k] for r in rows])) for k in METRICS}
    out["n"] = len(pieces)
    out["notes_per_piece"] = float(np.mean([len(n) for n in pieces]))
    if targets is not None:
        judged = judge_all(pieces, judge)
        out.update(fidelity(judged, targets))
        out["quadrant_acc"] = float(np.mean([quadrant(*j) == quadrant(*t) for j, t in zip(judged, targets)]))
        out["spearman_arousal_density"] = spearman(targets[:, 1], [note_density(n) for n in pieces])
        out["spearman_arousal_velocity"] = spearman(targets[:, 1], [mean_velocity(n) for n in pieces])
        out["spearman_valence_major"] = spearman(targets[:, 0], [major_clarity([x.pitch for x in n], [x.duration for x in n]) for n in pieces])
    return out


def generate_run(run: Path, images, root: Path, bars: int, log) -> dict:
    """Two pieces per image and what the model reads from it.

    ``label``: conditioned on the image's labelled VA (isolates the decoder). ``image``:
    conditioned on the VA the model's own image head reads from the picture — the product's
    default path, so it is where backbones differ. ``pred_va``: that read VA. ``ter``: token
    error rate over every sampled token. Transformer runs are exported and sampled with the
    product's runtime; the LSTM with PyTorch steps through the same ``compose`` loop."""
    from ..generation.compose import compose
    from ..events import VA
    from ..request import GenerationSettings, Plan
    from ..generation.tokens import token_error_rate
    from .torch_backend import load_checkpoint

    model, state = load_checkpoint(run / "ckpt.pt")
    out: dict = {"label": [], "image": [], "pred_va": []}
    errors = []
    encode_and_step = _ort_backend(run, state, log) if model.config.decoder == "transformer" else _torch_backend(model)
    for k, im in enumerate(images):
        # the model alone, as asked: intensity 1 (the product's default aims further, for pictures)
        s = GenerationSettings(bars=bars, seed=k, temperature=1.0, top_p=0.95, intensity=1.0)
        encoding, read, stepper = encode_and_step(root / im.path)
        for cond, target in (("label", VA(im.valence, im.arousal)), ("image", read)):
            piece = compose(lambda va: stepper(encoding, va, s), Plan(s, target))
            out[cond].append(list(piece.notes))
            errors.append(token_error_rate(list(piece.tokens)))
        out["pred_va"].append([read.valence, read.arousal])
        log(f"  {run.name}: {k + 1}/{len(images)}")
    out["ter"] = float(np.mean(errors)) if errors else float("nan")
    return out


def _ort_backend(run: Path, state: dict, log):
    """(image → (encoding, read VA, stepper factory)) through the exported ONNX files."""
    from ..generation.runtime import Runtime
    from .export import export

    onnx_dir = run / "onnx"
    side = onnx_dir / "synesthete.json"
    if not side.exists() or json.loads(side.read_text())["training"]["global_step"] != state["global_step"]:
        res = export(str(run / "ckpt.pt"), str(onnx_dir), rollout=64)
        if not res["ok"]:
            raise RuntimeError(f"{run}: ONNX parity failed: {res}")
    rt = Runtime.load(onnx_dir, verify=False)

    def encode(path):
        enc = rt.encode(path)
        return enc, enc.va, rt.stepper

    return encode


def _torch_backend(model):
    import torch

    from ..events import VA
    from .torch_backend import TorchEncoder, TorchStepper

    enc = TorchEncoder(model)

    def stepper(memory, target, settings=None):  # no controls here (the LSTM baseline)
        return TorchStepper(model, memory, torch.tensor([[target.valence, target.arousal]], dtype=torch.float32))

    def encode(path):
        memory, read = enc(path)
        read = np.clip(np.asarray(read, dtype=np.float32).reshape(2), -1, 1)
        return memory, VA(float(read[0]), float(read[1])), stepper

    return encode


def loss_curves(runs: Path, out_png: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    drawn = False
    for name, color in (("main", "#d9822b"), ("no_va_loss", "#888888"), ("lstm", "#3a7bd5")):
        f = runs / name / "steps.jsonl"
        if not f.exists():
            continue
        rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
        steps = np.array([r["step"] for r in rows])
        ce = np.array([r["ce"] for r in rows])
        k = 20
        smooth = np.convolve(ce, np.ones(k) / k, mode="valid") if len(ce) > k else ce
        ax.plot(steps[len(steps) - len(smooth):], smooth, color=color, label=LABELS[name].split(" (")[0].split(" —")[0])
        drawn = True
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xlabel("training step (batch of 16 pairs)")
    ax.set_ylabel("token cross-entropy (20-step mean)")
    ax.set_title("Training loss: Transformer vs LSTM")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
    return True


def fmt(v, nd=4):
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def run(args) -> int:
    import muspy
    import torch

    t_start = time.time()
    root = data_dir(args.data)
    runs = Path(args.runs)
    judge = Judge.load()
    images = test_images(root, args.samples)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    ref = reference_pieces(root, args.bars)
    ref_notes = [n for _, n in ref]
    ref_targets = np.array([[it.valence, it.arousal] for it, _ in ref])
    results = {"reference": summarize(ref_notes, ref_targets, judge)}
    # what an image head that ignores the picture scores: always the train images' mean VA
    train_mean = np.array([[i.valence, i.arousal] for i in read_images(root) if i.split == "train"]).mean(axis=0)
    test_va = np.array([[im.valence, im.arousal] for im in images])
    results["reference"]["image_va_mae_mean_baseline"] = float(np.abs(test_va - train_mean).mean())
    wall = {}
    for name in ORDER + sorted(p.name for p in runs.iterdir() if p.is_dir() and p.name not in ORDER) if runs.exists() else []:
        run_dir = runs / name
        if not (run_dir / "DONE").exists() or not (run_dir / "ckpt.pt").exists():
            continue
        from .train import load_state

        state = load_state(run_dir / "ckpt.pt")
        if state.get("train_config", {}).get("corpus"):
            log(f"{name}: a corpus pretraining run (no VA, no pictures): not a system to evaluate")
            continue
        step = state["global_step"]
        cache = run_dir / "eval.json"
        key = {"step": step, "samples": len(images), "bars": args.bars, "version": EVAL_VERSION}
        if cache.exists():
            c = json.loads(cache.read_text())
            if c.get("key") == key:
                results[name], wall[name] = {**c["result"], **training_record(run_dir, state)}, c["seconds"]
                log(f"{name}: cached")
                continue
        t0 = time.time()
        log(f"{name}: generating {len(images)} pieces")
        res = evaluate_run(run_dir, state, images, root, args.bars, judge, log)
        results[name], wall[name] = res, time.time() - t0
        tmp = cache.with_suffix(".part")
        tmp.write_text(json.dumps({"key": key, "result": res, "seconds": wall[name]}))
        tmp.replace(cache)
    curves = loss_curves(runs, Path(args.out).parent / "loss_curves.png")
    record = make_record(results, wall, images, ref, judge, args, curves, time.time() - t_start, muspy.__version__, torch.__version__)
    keep = R.record_path(args.out, getattr(args, "record", None))
    if keep:
        record = merge_record(R.read_record(keep) if Path(keep).exists() else {}, record)
        R.write_record(keep, record)
    R.publish("results", args.out, record, log=lambda m: print(m, file=sys.stderr))
    return 0


def evaluate_run(run_dir: Path, state: dict, images, root: Path, bars: int, judge: Judge, log) -> dict:
    """One finished run on the test images: the judge's fidelity from the labels and from the
    picture, the image head, MusPy statistics, model size and training time."""
    gen = generate_run(run_dir, images, root, bars, log)
    targets = np.array([[im.valence, im.arousal] for im in images])
    res = summarize(gen["label"], targets, judge)
    res["token_error_rate"] = gen["ter"]
    pred = np.array(gen["pred_va"])
    res["image_va_mae"] = float(np.abs(pred - targets).mean())
    res["image_va_quadrant_acc"] = float(np.mean([quadrant(*a) == quadrant(*b) for a, b in zip(pred, targets)]))
    e2e = summarize(gen["image"], targets, judge)
    res["e2e"] = {k: e2e[k] for k in ("va_mae", "va_mae_shuffled", "quadrant_acc")}
    cfg = state["model_config"]
    res["backbone"], res["decoder"], res["layers"] = cfg["backbone"], cfg["decoder"], cfg["n_dec_layers"]
    side = run_dir / "onnx" / "synesthete.json"
    if side.exists():
        files = json.loads(side.read_text())["files"]
        res["onnx_mb"] = {f: v["bytes"] / 1e6 for f, v in files.items()}
    return res | training_record(run_dir, state)


def training_record(run_dir: Path, state: dict) -> dict:
    """Training minutes and validation losses up to the checkpoint's epoch: a run that kept its
    best validation epoch (``best.pt``) ships that epoch's weights, not the last one's."""
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    upto = [m for m in metrics if m["epoch"] <= state.get("epoch", len(metrics))] or metrics
    return {"train_minutes": sum(m["seconds"] for m in upto) / 60.0, "val_ce": upto[-1].get("val_ce"),
            "val_image_va_l1": upto[-1].get("val_image_va_l1"), "device": state.get("device")}


# --- the record and the report (engine/training/reports.py) -------------------------------------

def make_record(results, wall, images, ref, judge, args, curves, seconds, muspy_v, torch_v) -> dict:
    """What RESULTS.md shows, as numbers: each system's result, its label and evaluation seconds, the
    setup, the judge's own test report and the loss curves' figures."""
    loss = {}
    if curves:
        for n in ("main", "no_va_loss", "lstm"):
            f = Path(args.runs) / n / "steps.jsonl"
            if f.exists():
                ce = [json.loads(x)["ce"] for x in f.read_text().splitlines() if x.strip()]
                if len(ce) >= 200:
                    loss[n] = [float(np.mean(ce[180:200])), float(np.mean(ce[-20:]))]
    return {
        "setup": {"data": Path(data_dir(args.data)).name, "n_images": len(images), "bars": args.bars, "n_reference": len(ref),
                  "python": platform.python_version(), "torch": torch_v, "muspy": muspy_v, "numpy": np.__version__,
                  "minutes": sum(wall.values()) / 60, "render_minutes": seconds / 60,
                  "command": f"synesthete evaluate --runs {args.runs} --out {args.out} --samples {args.samples} --bars {args.bars}"},
        "results": results, "labels": {n: LABELS[n] for n in results if n in LABELS}, "wall": wall,
        "judge": {k: judge.info[k] for k in ("test", "test_emopia_only", "test_mean_baseline", "emopia_published_classifier")},
        "loss_curves": loss if curves else None,
        "not_trained": [n for n in ORDER if n not in results],
    }


def merge_record(old: dict, new: dict) -> dict:
    """A record kept across invocations: each system's result, label and seconds from the newest
    invocation that evaluated it (runs kept elsewhere stay in the report); the setup, the judge and
    the loss curves from the newest."""
    out = dict(new)
    for k in ("results", "labels", "wall"):
        out[k] = {**old.get(k, {}), **new.get(k, {})}
    if new.get("loss_curves") is None and old.get("loss_curves"):
        out["loss_curves"] = old["loss_curves"]
    out["not_trained"] = [n for n in ORDER if n not in out["results"]]
    return out


def _names(rec: dict, systems: str | None = None, reference: bool = True) -> list[str]:
    """The systems a block shows: ``systems`` (comma-separated, in that order), else the reference,
    the known runs in ``ORDER`` and then any other, as evaluated."""
    results = rec["results"]
    if systems:
        return [n for n in systems.split(",") if n in results]
    names = [n for n in ["reference"] + ORDER if n in results] + [n for n in results if n not in ORDER and n != "reference"]
    return names if reference else [n for n in names if n != "reference"]


def _label(rec: dict, n: str, reference: str) -> str:
    return reference if n == "reference" else rec.get("labels", {}).get(n, LABELS.get(n, n))


def setup_section(rec: dict) -> str:
    """Data, test images, reference music, versions and the command."""
    s = rec["setup"]
    return "\n".join([
        "## Setup", "",
        f"- Data: `{s['data']}/` (OASIS + Emotion6 images, EMOPIA + VGMIDI MIDI; fixed splits from the data README).",
        f"- Test images: {s['n_images']} of the test split (all, or a subset chosen with seed 0); each run generates one {s['bars']}-bar piece per image, "
        "conditioned on the image's labelled VA as is (intensity 1), seed = image index, temperature 1.0, top-p 0.95, key auto; unranked.",
        f"- Reference: {s['n_reference']} real test-split MIDI pieces (beat-tracked / quantized like the training data), first {s['bars']} bars.",
        f"- Versions: Python {s['python']}, torch {s['torch']}, MusPy {s['muspy']}, numpy {s['numpy']}. Generation and judging took "
        f"{s['minutes']:.1f} min over all runs (each run's share is cached in its eval.json); this rendering pass {s['render_minutes']:.1f} min.",
        f"- Command: `{s['command']}`" + (f", {s['command_note']}" if s.get("command_note") else "")])


def paper_table_section(rec: dict, systems: str | None = None) -> str:
    """The paper's MusPy table, every system beside the reference."""
    results = rec["results"]
    L = ["## The paper's table (MusPy)", "",
         "Default grid: resolution 24, groove consistency with `measure_resolution=96`. 16-step grid: resolution 4, `measure_resolution=16`. "
         "Closer to the reference (real music) is better, not higher.", "",
         "| system | polyphony rate | pitch entropy | pitch-class entropy | groove consistency | polyphony (16-grid) | groove (16-grid) | notes/piece |",
         "|---|---|---|---|---|---|---|---|"]
    for n in _names(rec, systems):
        r = results[n]
        L.append(f"| {_label(rec, n, 'real test MIDI (reference)')} | " + " | ".join(fmt(r[k]) for k in METRICS) + f" | {r['notes_per_piece']:.0f} |")
    L.append(f"| paper (Kundu et al. 2024, reported) | {PAPER['polyphony_rate']} | {PAPER['pitch_entropy']} | – | {PAPER['groove_consistency']} | – | – | – |")
    L += ["", "How comparable: the paper reports its numbers without its data, splits, piece length or MusPy settings, so "
          "only the direction can be compared. Its groove consistency of 0.9998 means almost identical onset patterns from bar "
          "to bar — more regular than the real test music here (reference row) — and its pitch entropy is below real piano music's. "
          "We add the 16-step grid, where groove consistency separates systems more (polyphony is the same on both grids because "
          "every note here lies on the 16th-note grid). Compare each system to the reference row: "
          "closer is better."]
    return "\n".join(L)


def fidelity_section(rec: dict, systems: str | None = None) -> str:
    """Emotion fidelity by the independent judge, and the VA-loss and LSTM comparisons."""
    results = rec["results"]
    L = ["## Emotion fidelity (independent judge)", "",
         "The judge (`engine/music/judge.py`, ridge regression on musical features) is not the estimator the VA loss trains against "
         "(`engine/training/va_estimator.py`, a CNN over token embeddings). VA MAE to the conditioning target, the same against shuffled targets "
         "(what ignoring VA scores), quadrant accuracy, and Spearman correlations of the target with musical properties.", "",
         "| system | VA MAE ↓ | VA MAE, shuffled targets | quadrant acc ↑ | ρ(arousal, note density) | ρ(arousal, velocity) | ρ(valence, major clarity) |",
         "|---|---|---|---|---|---|---|"]
    shown = [n for n in _names(rec, systems) if "va_mae" in results[n]]
    for n in shown:
        r = results[n]
        L.append(f"| {_label(rec, n, 'real test MIDI (judge on real music)')} | {fmt(r['va_mae'], 3)} | {fmt(r['va_mae_shuffled'], 3)} | {fmt(r['quadrant_acc'], 3)} | "
                 f"{fmt(r['spearman_arousal_density'], 3)} | {fmt(r['spearman_arousal_velocity'], 3)} | {fmt(r['spearman_valence_major'], 3)} |")
    L += ["", "The reference row scores the judge on real test music against its labels (noisy, uncalibrated labels), "
          "so a generator can score below it."]
    if "main" in shown and "no_va_loss" in shown:
        a, b = results["main"], results["no_va_loss"]
        L += ["", f"**VA loss vs none.** With the VA loss the judge's VA MAE is {a['va_mae']:.3f} against {b['va_mae']:.3f} without it; "
              f"the gap to shuffled targets (how much the music follows *its* target) is {_gap(a):.3f} vs "
              f"{_gap(b):.3f}, and quadrant accuracy {a['quadrant_acc']:.3f} vs {b['quadrant_acc']:.3f}. "
              f"The price: validation token cross-entropy {_f(a.get('val_ce')):.3f} vs {_f(b.get('val_ce')):.3f}, "
              f"and MusPy statistics further from the reference (pitch entropy {a['pitch_entropy']:.2f} and {b['pitch_entropy']:.2f} "
              f"vs {results['reference']['pitch_entropy']:.2f} for real music). The VA-loss estimator and the judge are different models "
              "on different inputs, but both can only hear correlates such as loudness, density and mode; listening tests would be "
              "the stronger check."]
    if "main" in shown and "lstm" in shown:
        a, b = results["main"], results["lstm"]
        verdict = "beats" if b["va_mae"] < a["va_mae"] else "does not beat"
        L += ["", f"**Transformer vs LSTM.** The paper reports the Transformer beating an LSTM baseline. Here the LSTM (same data, tokens, "
              f"VA loss and preset) {verdict} the Transformer (main) on emotion fidelity: VA MAE {b['va_mae']:.3f} vs {a['va_mae']:.3f}, "
              f"quadrant accuracy {b['quadrant_acc']:.3f} vs {a['quadrant_acc']:.3f}, validation token CE {_f(b.get('val_ce')):.3f} "
              f"vs {_f(a.get('val_ce')):.3f}, in {_f(b.get('train_minutes')):.0f} vs {_f(a.get('train_minutes')):.0f} "
              "training minutes. We do not reproduce the paper's claim at this scale (6 epochs on 2 CPU cores, 3 k pairs)."]
    return "\n".join(L)


def _f(v) -> float:
    return float("nan") if v is None else v


def _gap(r: dict) -> float:
    """VA MAE to shuffled targets minus VA MAE: a record transcribed from a report (rounded figures)
    keeps the gap as that report showed it, since the difference of two rounded figures may not be."""
    return r.get("va_mae_gap", r["va_mae_shuffled"] - r["va_mae"])


def training_section(rec: dict, systems: str | None = None) -> str:
    """Training time, losses and convergence per run, and the runs not trained yet."""
    results, wall = rec["results"], rec.get("wall", {})
    L = ["## Training", "", "| run | trained on | train minutes | val token CE (the checkpoint's epoch) | val image-VA L1 | token error rate of samples | eval minutes |", "|---|---|---|---|---|---|---|"]
    for n in _names(rec, systems, reference=False):
        r = results[n]
        L.append(f"| {n} | {r.get('device') or '2 CPU cores'} | {fmt(r.get('train_minutes'), 1)} | {fmt(r.get('val_ce'), 3)} | {fmt(r.get('val_image_va_l1'), 3)} | {fmt(r.get('token_error_rate'), 4)} | {fmt(_f(wall.get(n)) / 60.0, 1)} |")
    if rec.get("not_trained") and not systems:
        L += ["", f"Not yet trained (queued in `scripts/train_all.sh`, resumable): {', '.join(rec['not_trained'])}."]
    return "\n".join(L)


def loss_curves_section(rec: dict) -> str:
    """The loss curves' picture (written beside the report) and their figures, when drawn."""
    if rec.get("loss_curves") is None:
        return ""
    L = ["![training loss curves](loss_curves.png)", "", "| run | token CE, mean of steps 181-200 | mean of the last 20 steps |", "|---|---|---|"]
    L += [f"| {n} | {a:.3f} | {b:.3f} |" for n, (a, b) in rec["loss_curves"].items()]
    return "\n".join(L)


def judge_section(rec: dict) -> str:
    """How well the judge itself reads the test split."""
    info = rec["judge"]
    L = ["## The judge on the test split", "",
         "| | VA MAE | valence sign acc | arousal sign acc | 4-quadrant acc | n |", "|---|---|---|---|---|---|"]
    for k, lab in (("test", "judge, all test pieces"), ("test_emopia_only", "judge, EMOPIA test clips"), ("test_mean_baseline", "predict the train mean")):
        r = info[k]
        L.append(f"| {lab} | {r['va_mae']:.3f} | {r['valence_acc']:.3f} | {r['arousal_acc']:.3f} | {r['quadrant_acc']:.3f} | {r['n']} |")
    p = info["emopia_published_classifier"]
    L.append(f"| EMOPIA's published classifier (real clips, their split) | – | {p['valence_acc']} | {p['arousal_acc']} | {p['quadrant_acc']} | – |")
    return "\n".join(L)


def backbone_section(rec: dict, systems: str | None = None) -> str:
    """From the picture, end to end: where backbones differ (the label-conditioned table above
    bypasses the image head), with model size against the shipping budget."""
    results = rec["results"]
    rows = [n for n in _names(rec, systems, reference=False) if "e2e" in results[n]]
    if not rows:
        return ""
    L = ["## From the picture, end to end (backbones)", "",
         "The tables above condition on each image's *labelled* VA, which bypasses the image head. Here the music is conditioned on "
         "the VA the model reads from the picture itself — what the app and `generate` do unless the user overrides VA — and judged "
         "against the image's label. Image-VA MAE is the image head alone on the test images. Model MB: the three ONNX files, fp32.", "",
         "| run | backbone | decoder | image-VA MAE ↓ | image-VA quadrant acc | music VA MAE ↓ | shuffled targets | music quadrant acc | model MB |",
         "|---|---|---|---|---|---|---|---|---|"]
    base = results["reference"].get("image_va_mae_mean_baseline")
    if base is not None:
        L.append(f"| (always the train images' mean VA) | – | – | {base:.3f} | – | – | – | – | – |")
    for n in rows:
        r = results[n]
        mb = sum(r["onnx_mb"].values()) if r.get("onnx_mb") else float("nan")
        L.append(f"| {n} | {r['backbone']} | {r['decoder']} x{r['layers']} | {r['image_va_mae']:.3f} | {r['image_va_quadrant_acc']:.3f} | "
                 f"{r['e2e']['va_mae']:.3f} | {r['e2e']['va_mae_shuffled']:.3f} | {r['e2e']['quadrant_acc']:.3f} | {fmt(mb, 1)} |")
    choice = backbone_choice({n: results[n] for n in rows})
    if choice:
        same, best, ship, size = choice["runs"], choice["best"], choice["ship"], choice["size_mb"]
        fits = [n for n in same if size[n] <= SIZE_BUDGET_MB]
        names = ", ".join(f"{n} ({results[n]['backbone']})" for n in same)
        line = (f"**Backbone choice.** Among {names}, trained with the same recipe, "
                f"the best end-to-end music VA MAE is {best}'s ({results[best]['e2e']['va_mae']:.3f}; image-VA MAE "
                f"{results[best]['image_va_mae']:.3f}) at {size[best]:.1f} MB.")
        if ship:
            line += (f" Within the {SIZE_BUDGET_MB:.0f} MB budget for committed model files the best is {ship} "
                     f"({results[ship]['backbone']}, {size[ship]:.1f} MB)"
                     + (", the shipped model's backbone." if ship == "main" else f"; the shipped model uses main's backbone ({results['main']['backbone']}) — see the model card for why."))
        over = [n for n in same if n not in fits]
        if over:
            line += " Over the budget in fp32: " + ", ".join(f"{n} ({size[n]:.1f} MB)" for n in over) + "."
        line += (" Each configuration is one training run with one seed; how much a reseed moves these numbers was not "
                 "measured, so differences of a few hundredths are not evidence either way.")
        L += ["", line]
    return "\n".join(L)


def backbone_choice(results: dict) -> dict | None:
    """The backbone runs (same recipe, only the CNN differs) with end-to-end results: the best
    by music VA MAE from the picture, the best within the size budget (None if none fits), and
    each run's ONNX size. None when fewer than two such runs exist."""
    runs = [n for n in ("main", "vgg16", "inception_v3") if n in results and "e2e" in results[n] and results[n].get("onnx_mb")]
    if len(runs) < 2:
        return None
    size = {n: sum(results[n]["onnx_mb"].values()) for n in runs}
    by_fidelity = sorted(runs, key=lambda n: results[n]["e2e"]["va_mae"])
    return {"runs": runs, "size_mb": size, "best": by_fidelity[0],
            "ship": next((n for n in by_fidelity if size[n] <= SIZE_BUDGET_MB), None)}


def depth_section(rec: dict, systems: str | None = None) -> str:
    results = rec["results"]
    rows = [n for n in (systems.split(",") if systems else ("layers1", "main", "layers6")) if n in results]
    if len(rows) < 2:
        return ""
    L = ["## Decoder depth", "", "| run | decoder layers | train minutes | val token CE ↓ | music VA MAE ↓ | quadrant acc | pitch entropy (reference "
         f"{results['reference']['pitch_entropy']:.2f}) |", "|---|---|---|---|---|---|---|"]
    for n in rows:
        r = results[n]
        L.append(f"| {n} | {r.get('layers', '?')} | {fmt(r.get('train_minutes'), 1)} | {fmt(r.get('val_ce'), 3)} | {r['va_mae']:.3f} | {r['quadrant_acc']:.3f} | {r['pitch_entropy']:.2f} |")
    return "\n".join(L)


def model_mb(rec: dict, system: str, spec: str = ".1f") -> str:
    """One run's ONNX files in MB (what the backbone table shows), for prose."""
    return R.number(float(sum(rec["results"][system]["onnx_mb"].values())), spec)


def summary_cells(rec: dict, system: str, bold: str = "") -> str:
    """One system's row of a summary table, without its name: polyphony rate, pitch entropy, notes per
    piece, the judge's VA MAE (shuffled), their ratio, quadrant accuracy and the three Spearman ρ; the
    cells named in ``bold`` (comma-separated keys) in bold. A template writes the name and the pipes around it."""
    r = rec["results"][system]
    cells = {"polyphony_rate": R.number(r["polyphony_rate"], ".3f"), "pitch_entropy": R.number(r["pitch_entropy"], ".3f"),
             "notes_per_piece": R.number(r["notes_per_piece"], ".0f"),
             "va_mae": f"{R.number(r['va_mae'], '.3f')} ({R.number(r['va_mae_shuffled'], '.3f')})",
             "ratio": "–" if system == "reference" else R.number(r["va_mae"] / r["va_mae_shuffled"], ".3f"),
             **{k: R.number(r[k], ".3f") for k in ("quadrant_acc", "spearman_arousal_density", "spearman_arousal_velocity", "spearman_valence_major")}}
    strong = set(filter(None, bold.split(",")))
    return " | ".join(f"**{v}**" if k in strong else v for k, v in cells.items())


BLOCKS = {"model_mb": model_mb, "summary_cells": summary_cells, "setup": setup_section, "paper_table": paper_table_section, "fidelity": fidelity_section, "backbones": backbone_section,
          "depth": depth_section, "training": training_section, "loss_curves": loss_curves_section, "judge": judge_section}
# a run's report alone (a candidate's, --out anywhere but docs/RESULTS.md): every block, no curated prose
LAYOUT = """# Results

Generated by `synesthete evaluate` from the runs' cached eval.json files: the tables are what the code printed.

{{setup}}

{{paper_table}}

{{fidelity}}

{{backbones}}

{{depth}}

{{training}}

{{loss_curves}}

{{judge}}
"""
