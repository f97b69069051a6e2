"""Write engine/models/MODEL_CARD.md from the shipped model's own records.

    python scripts/model_card.py [--run runs/main] [--pretrain-run DIR]

Every number comes from a file the code wrote: the ONNX sidecar (export, parity, training config,
calibration, VA head, controls), the judge's own test report, the run's metrics.jsonl and checkpoint,
its eval.json (written by ``synesthete evaluate``) and the pretraining run's records. They are kept
together in docs/records/model_card.json (the runs are not committed), and the card is made from that
record and its template, docs/prose/model_card.md, where the card's hand-written text lives
(``engine/training/reports.py``; ``python -m engine.training.reports`` makes it again without the runs).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "engine" / "models"
RECORD = ROOT / "docs" / "records" / "model_card.json"
SIZE_BUDGET_MB = 40.0  # committed model files (issue 13; engine.training.evaluate.SIZE_BUDGET_MB)


# --- the record: what the card reads, gathered from the runs, the sidecar and the judge -------------

def _pretraining(tc: dict, pre_run: Path | None = None) -> dict | None:
    """The pretraining run the shipped run started from (``train --init``), from its own records
    (``pre_run``: where that run's directory is kept here, when not at the path it was read from)."""
    init = tc.get("init")
    if not init:
        return None
    pre = pre_run or (ROOT / init).parent  # an absolute path stays itself
    out: dict = {"init": init, "kept_as": str(pre.relative_to(ROOT)) if pre_run else None}
    mpath = pre / "metrics.jsonl"
    if mpath.exists():
        pm = [json.loads(x) for x in mpath.read_text().splitlines() if x.strip()]
        from engine.training.train import load_state
        ps = load_state(pre / "ckpt.pt")
        pc = ps["train_config"]
        corpus = f"`{pc.get('corpus') or '?'}`"
        pack = json.loads((pre / "pack.json").read_text()) if (pre / "pack.json").exists() else None
        if pc.get("corpus") == "all" and pack:  # every set of the training pack it read
            corpus = f"`{','.join(pack['corpus_sets'])}`" + (f" (at most {pack['corpus_cap']:,} windows of each)" if pack.get("corpus_cap") else "")
        best = min(pm, key=lambda m: m["val_ce"])
        out.update(corpus=corpus, epochs=len(pm), steps=pm[-1]["global_step"], batch=pc["batch_size"],
                   minutes=sum(m["seconds"] for m in pm) / 60, device=ps.get("device"), best_val_ce=best["val_ce"], best_epoch=best["epoch"])
    return out


def collect(run: Path, pre_run: Path | None = None) -> dict:
    """Everything the card shows, from the files the code wrote."""
    side = json.loads((MODELS / "synesthete.json").read_text())
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    ev = json.loads((run / "eval.json").read_text())["result"] if (run / "eval.json").exists() else None
    trained = None
    if side["model_config"].get("controls"):
        import torch

        trained = torch.load(run / "ckpt.pt", map_location="cpu", weights_only=False)["model"]["decoder.control_map"].float().numpy().tolist()
    backbones = {}
    for name in ("main", "vgg16", "inception_v3"):
        f = run.parent / name / "eval.json"
        if f.exists():
            backbones[name] = json.loads(f.read_text())["result"]
    cal, head = side.get("calibration"), side.get("va_head")
    return {
        "run": run.name,
        "sidecar": {"model_config": side["model_config"], "vocab_size": len(side["vocab"]), "files": side["files"], "export": side["export"],
                    "training": side["training"], "controls": side.get("controls"),
                    "calibration": {"n": cal["n"], "fitted_on": cal["fitted_on"], "music": cal.get("test", {}).get("music")} if cal else None,
                    "va_head": {"features": head["features"], "test": head.get("test")} if head else None},
        "judge": {"bytes": (MODELS / "judge.json").stat().st_size,
                  "info": {k: v for k, v in json.loads((MODELS / "judge.json").read_text())["info"].items()
                           if k in ("alpha", "trained_on", "test", "test_mean_baseline", "emopia_published_classifier")}},
        "metrics": metrics, "eval": ev, "pretraining": _pretraining(side["training"]["train_config"], pre_run),
        "trained_control_map": trained, "backbones": backbones,
    }


# --- the card's parts (engine/training/reports.py): docs/prose/model_card.md places them ------------

def what_it_is(rec: dict) -> str:
    mc, side = rec["sidecar"]["model_config"], rec["sidecar"]
    return (f"The CNN-Transformer of Kundu et al. (2024), as built in `engine/training/model.py`: a frozen {mc['backbone']} "
            f"backbone ({mc['feat_tokens']} feature-map tokens of {mc['feat_channels']} channels) → projection → "
            f"{mc['n_enc_layers']} Transformer encoder layer(s), d_model {mc['d_model']} → image memory and an image-VA head; "
            f"a music decoder of {mc['n_dec_layers']} Transformer layers (self-attention, cross-attention over the memory plus a VA token, "
            f"{mc['n_heads']} heads, feed-forward {mc['d_ff']}), block size {mc['block_size']} tokens, tied output embedding, "
            f"over the {side['vocab_size']}-token REMI-style vocabulary of `engine/generation/tokens.py`.")


def files(rec: dict) -> str:
    L = ["| file | bytes | sha256 |", "|---|---|---|"]
    L += [f"| `{name}` | {f['bytes']:,} | `{f['sha256'][:16]}…` |" for name, f in rec["sidecar"]["files"].items()]
    L.append(f"| `judge.json` (the music-VA judge, numpy) | {rec['judge']['bytes']:,} | – |")
    return "\n".join(L)


def total(rec: dict) -> str:
    size = sum(f["bytes"] for f in rec["sidecar"]["files"].values()) + rec["judge"]["bytes"]
    return f"Total committed model files: {size / 1e6:.1f} MB (budget {SIZE_BUDGET_MB:g} MB)."


def parity(rec: dict) -> str:
    ex = rec["sidecar"]["export"]
    p = ex["parity"]
    return (f"Export parity ({ex['torch']}, opset {ex['opset']}): image VA max |Δ| {p['va_max_abs_diff']:.1e}, "
            f"logits max |Δ| {p['logits_max_abs_diff']:.1e} over a {p['rollout_tokens']}-token greedy rollout, tokens equal: {p['tokens_equal']}.")


def data(rec: dict) -> str:
    tr = rec["sidecar"]["training"]
    return (f"- Data: image–MIDI pairs made by capacity-limited VA matching (`engine/training/pairing.py`) — {tr['pairs']} train pairs; "
            f"training-data hash `{tr['data_hash']}` (over the pair list).")


def preset(rec: dict) -> str:
    tr, metrics = rec["sidecar"]["training"], rec["metrics"]
    tc = tr["train_config"]
    return (f"- Preset `{tc['preset']}`: {tc['optimizer']} lr {tc['lr']} ({tc['schedule']}, warm-up {tc['warmup_steps']} steps, min {tc['min_lr']}), "
            f"batch {tc['batch_size']}, "
            + (f"{tc['epochs']} epochs ({tr['global_step']} steps)" if tr["epochs"] >= tc["epochs"] else
               f"the weights of epoch {tr['epochs']} ({tr['global_step']} steps), the lowest validation loss of a {tc['epochs']}-epoch "
               f"cosine schedule that ran {len(metrics)} epochs")
            + f", weight decay {tc['weight_decay']}, VA-loss weight {tc['va_loss_weight']}, conditioning-VA noise σ {tc['va_noise']}, "
            f"seed {tc['seed']}; torch {tr['torch']}, {tr.get('device') or '2 CPU cores'}.")


def pretraining(rec: dict) -> str:
    p = rec["pretraining"]
    if not p:
        return "- Trained from scratch (no pretraining)."
    line = f"- Started from the weights of `{p['init']}`" + (f" (kept as `{p['kept_as']}`)" if p.get("kept_as") else "")
    if "epochs" in p:
        line += (f": the decoder pretrained on music21's corpus sets {p['corpus']} (`engine/training/corpus.py`: Bach chorales, "
                 f"folk tunes, classical keyboard and chamber pieces, Renaissance polyphony; key-normalised, neutral conditioning), "
                 f"{p['epochs']} epochs, {p['steps']} steps of batch {p['batch']}, {p['minutes']:.1f} "
                 f"minutes on {p.get('device') or 'the CPU'}; its held-out token CE {p['best_val_ce']:.3f} (epoch {p['best_epoch']}). "
                 "The corpus ships inside music21 (BSD-3-Clause software); its `corpus/license.txt` says the compositions are out of "
                 "US copyright or licensed for use, and that some encodings restrict commercial use — another reason these weights are "
                 "for research and personal use.")
    return line


def wall_time(rec: dict) -> str:
    epochs = rec["sidecar"]["training"]["epochs"]
    return (f"- Wall time: {sum(m['seconds'] for m in rec['metrics'][:epochs]) / 60:.1f} minutes of training to the shipped epoch "
            "(features cached beforehand).")


def epochs(rec: dict) -> str:
    shipped, metrics = rec["sidecar"]["training"]["epochs"], rec["metrics"]
    L = ["| epoch | train token CE | train VA loss | train image-VA L1 | val token CE | val image-VA L1 | seconds |", "|---|---|---|---|---|---|---|"]
    for m in metrics:
        mark = "**" if m["epoch"] == shipped and len(metrics) > shipped else ""
        L.append(f"| {mark}{m['epoch']}{mark} | {m['train_ce']:.3f} | {m['train_va_loss']:.3f} | {m['train_image_va_l1']:.3f} | {mark}{m['val_ce']:.3f}{mark} | {m['val_image_va_l1']:.3f} | {m['seconds']:.0f} |")
    return "\n".join(L)


def results(rec: dict) -> str:
    """The run's own evaluation (eval.json), or nothing."""
    ev = rec["eval"]
    if not ev:
        return ""
    return "\n".join([
        f"## Results on the test split (from `synesthete evaluate`; this model's full tables: docs/results/{rec['run']}.md; "
        "the paper's table and ablations: docs/RESULTS.md)", "",
        f"- {ev['n']} pieces of 8 bars, one per test image, unranked, conditioned on the image's labelled VA.",
        f"- Judge VA MAE to the target {ev['va_mae']:.3f} vs {ev['va_mae_shuffled']:.3f} with shuffled targets; quadrant accuracy {ev['quadrant_acc']:.3f}.",
        *([f"- From the picture itself (conditioned on the VA the image head reads, as `generate` does without --valence/--arousal): "
           f"judge VA MAE to the image's label {ev['e2e']['va_mae']:.3f} vs {ev['e2e']['va_mae_shuffled']:.3f} shuffled, quadrant accuracy "
           f"{ev['e2e']['quadrant_acc']:.3f}; the image head alone: VA MAE {ev['image_va_mae']:.3f}, quadrant accuracy {ev['image_va_quadrant_acc']:.3f}."]
          if "e2e" in ev else []),
        f"- Spearman ρ: target arousal vs note density {ev['spearman_arousal_density']:.3f}, vs velocity {ev['spearman_arousal_velocity']:.3f}; "
        f"target valence vs major-key clarity {ev['spearman_valence_major']:.3f}.",
        f"- MusPy: polyphony rate {ev['polyphony_rate']:.3f}, pitch entropy {ev['pitch_entropy']:.3f}, pitch-class entropy {ev['pitch_class_entropy']:.3f}, "
        f"groove consistency {ev['groove_consistency']:.4f} (16-step grid: {ev['groove_consistency_16']:.3f})."])


def judge(rec: dict) -> str:
    j = rec["judge"]["info"]
    t = j["test"]
    return (f"Ridge regression (α = {j['alpha']}) on 14 musical features, trained on {j['trained_on']}. "
            f"Test split: VA MAE {t['va_mae']:.3f} (mean baseline {j['test_mean_baseline']['va_mae']:.3f}), "
            f"4-quadrant accuracy {t['quadrant_acc']:.3f} (baseline {j['test_mean_baseline']['quadrant_acc']:.3f}; "
            f"EMOPIA's published classifier {j['emopia_published_classifier']['quadrant_acc']} on its own split).")


def why_backbone(rec: dict) -> str:
    """The backbone comparison from the runs' eval.json files, chosen by the same rule as docs/RESULTS.md."""
    from engine.training.evaluate import backbone_choice

    shipped, results = rec["sidecar"]["model_config"]["backbone"], rec["backbones"]
    choice = backbone_choice(results)
    if choice is None:
        return (f"The backbone comparison is in docs/RESULTS.md (\"From the picture, end to end\" and \"Backbone choice\"): the same "
                f"recipe with VA-loss weight 1.0 and only the frozen CNN changed, where {shipped} gave the best end-to-end fidelity "
                "within the size budget. Those runs' directories are not kept with this card, so it does not repeat their numbers.")
    L = ["Same recipe (fast preset, 3 decoder layers), only the frozen CNN differs; test images; music conditioned on the VA the model "
         "reads from the picture and judged against the image's label (docs/RESULTS.md, \"From the picture, end to end\"):", "",
         "| run | backbone | image-VA MAE | music VA MAE | music quadrant acc | ONNX MB (fp32) |", "|---|---|---|---|---|---|"]
    for name in choice["runs"]:
        r = results[name]
        L.append(f"| {name} | {r['backbone']} | {r['image_va_mae']:.3f} | {r['e2e']['va_mae']:.3f} | {r['e2e']['quadrant_acc']:.3f} | "
                 f"{choice['size_mb'][name]:.1f} |")
    best, ship = choice["best"], choice["ship"]
    L += ["", f"Best end-to-end fidelity: {results[best]['backbone']} ({results[best]['e2e']['va_mae']:.3f}). "
          + (f"Best within the {SIZE_BUDGET_MB:.0f} MB budget: {results[ship]['backbone']}. " if ship else "")
          + f"Shipped: {shipped}."]
    return "\n".join(L)


def calibration(rec: dict) -> str:
    cal = rec["sidecar"]["calibration"]
    if not cal:
        return ""
    m = cal.get("music")
    return "\n".join(["## Calibration of the image head", "",
                      f"A per-axis quantile mapping (`engine/picture/calibration.py`), fitted on {cal['n']} {cal['fitted_on']} pictures and stored in "
                      "`synesthete.json`, spreads the image head's VA as the labels spread (docs/CALIBRATION.md)"
                      + (f": from the picture, the music's judge VA MAE over its shuffled-label MAE goes from {m['before']['ratio']:.3f} to "
                         f"{m['after']['ratio']:.3f} on the test pictures." if m else ".")])


def va_head(rec: dict) -> str:
    head = rec["sidecar"]["va_head"]
    if not head:
        return ""
    return "\n".join(["## The image VA head (`va_head` in `synesthete.json`)", "",
                      f"The picture's VA comes from a ridge regression (`engine/picture/image_stats.py`, fitted by `engine/training/va_head.py` on the "
                      f"train pictures, strength and feature groups chosen on validation) over {head['features']} — the encoder's own VA "
                      "head is not used."
                      + (" On the {n} test pictures, before calibration (the encoder's own head → this one): ρ arousal {e[rho_arousal]:.3f} → "
                         "{c[rho_arousal]:.3f}, ρ valence {e[rho_valence]:.3f} → {c[rho_valence]:.3f}, VA MAE {e[mae]:.3f} → {c[mae]:.3f} "
                         "(docs/IMAGE_VA.md). Image arousal remains the weak link.".format(n=head["test"]["n"], e=head["test"]["encoder_head"], c=head["test"]["chosen"])
                         if head.get("test") else " Its scores: docs/IMAGE_VA.md.")])


def controls(rec: dict) -> str:
    """What the density and touch controls are: the map trained with (the checkpoint's) and the one
    the product asks with, plus each piece's spread (the sidecar's, fitted by control_fit)."""
    if not rec["sidecar"]["model_config"].get("controls"):
        return ""
    from engine.generation.controls import DENSITY_REF, TOUCH_REF, TOUCH_SCALE, apply_control_map

    trained = np.asarray(rec["trained_control_map"], np.float64)
    ctl = rec["sidecar"].get("controls") or {}
    m = np.asarray(ctl.get("map", trained), np.float64)
    spread = np.asarray(ctl.get("spread", [0.0, 0.0]), np.float64)

    def formula(x):
        return (f"density = {x[0, 0]:.3f} {x[1, 0]:+.3f}·valence {x[2, 0]:+.3f}·arousal, touch = {x[0, 1]:.3f} {x[1, 1]:+.3f}·valence "
                f"{x[2, 1]:+.3f}·arousal")

    def at(v, a):
        d, t = apply_control_map(m, [v, a])[0][:2]
        return f"{DENSITY_REF * 2 ** d:.0f} notes a bar, velocity {TOUCH_REF + TOUCH_SCALE * t:.0f}"

    return "\n".join(["## Density and touch controls", "",
                      "Beside the VA the decoder hears two numbers (`engine/training/controls.py`): density = log2(notes per bar / 12) and "
                      "touch = (mean velocity − 72) / 24. In training they are each window's own, so the model learns to play what it is told. "
                      f"The map from VA it was trained with (fitted on the training pieces, `decoder.control_map`): {formula(trained)}.", "",
                      "At inference `decoder_prep.onnx` takes the controls as an input and the runtime fills it from the sidecar's `controls` "
                      "(`engine/generation/controls.py`), fitted by `python -m engine.training.control_fit` so that what the model *plays* matches real "
                      f"music (bars 2–9 of the training pieces): ask {formula(m)} — e.g. excited (0.5, 0.5): {at(0.5, 0.5)}; "
                      f"sad (−0.5, −0.5): {at(-0.5, -0.5)}. Each piece also departs from its mood's by a seeded offset of spread "
                      f"{spread[0]:.3f} (density) and {spread[1]:.3f} (touch) per unit of `--variety` (default 1: the spread of real pieces "
                      "around their mood, less what the model's own sampling already adds)."])


def default(rec: dict, setting: str) -> str:
    """A setting's default in the product (``GenerationSettings``), as the card names it."""
    from engine.request import GenerationSettings

    return f"{getattr(GenerationSettings(), setting):g}"


def settings(rec: dict) -> str:
    """The generation settings a user can give, one row each, made from ``engine.settings.SETTINGS``."""
    from engine.settings import SETTINGS

    def shown(s) -> str:
        if s.default is None:
            return "from the arousal"
        if isinstance(s.default, bool):
            return "off" if not s.default else "on"
        return "none" if s.default == () else f"{s.default:g}" if isinstance(s.default, (int, float)) else str(s.default)

    def span(s) -> str:
        if s.choices:
            return ", ".join(s.choices)
        if s.lo is None or s.name == "seed":
            return ""
        return f"({s.lo:g}, {s.hi:g}]" if s.lo_open else f"{s.lo:g}..{s.hi:g}"

    rows = ["| flag | default | range | what it does |", "|---|---|---|---|"]
    rows += [f"| `{s.flag}` | {shown(s)} | {span(s)} | {s.help.split(' (default')[0].replace('|', '/')} |" for s in SETTINGS]
    return "\n".join(rows)


BLOCKS = {"what_it_is": what_it_is, "files": files, "total": total, "parity": parity, "data": data, "preset": preset,
          "pretraining": pretraining, "wall_time": wall_time, "epochs": epochs, "results": results, "judge": judge,
          "why_backbone": why_backbone, "calibration": calibration, "va_head": va_head, "controls": controls, "settings": settings, "default": default}
LAYOUT = "\n\n".join("{{%s}}" % b for b in BLOCKS if b != "default") + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=str(ROOT / "runs" / "main"))
    ap.add_argument("--pretrain-run", help="the pretraining run's directory, when it is kept elsewhere than its --init path")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from engine.training import reports as R

    R.write_record(RECORD, collect(Path(a.run), Path(a.pretrain_run).resolve() if a.pretrain_run else None))
    print(f"wrote {RECORD.relative_to(ROOT)}")
    R.publish("model_card", MODELS / "MODEL_CARD.md", {})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
