"""Export a trained checkpoint to the ONNX files the runtime (and the app) uses.

    python export_onnx.py --checkpoint runs/main/ckpt.pt --out engine/models

Writes ``image_encoder.onnx`` (image (1,3,S,S) → memory (1,M,d), image VA (1,2); the
backbone included), ``decoder_prep.onnx`` (memory, conditioning VA — and, for a decoder trained with
controls, its k controls (1,k): density, touch and, with 3, range — → VA embedding and every layer's cross-attention K/V:
computed once per piece), ``decoder_step.onnx`` (one token with
an explicit KV cache: token (1,1), pos (1,), va_emb, cross_k, cross_v, past_k, past_v
(L,1,H,T,hs) → logits (1,V), new_k, new_v with T+1),
and ``synesthete.json`` (vocabulary, grid, block size, preprocessing, model version, hash of
the training data list, file sizes and SHA-256, export settings, and the controls' VA map).

Parity: on a real image (or a fixed random one) the fp32 export must give the same image VA
(within 1e-3) and the same tokens in a 256-token greedy rollout as PyTorch; otherwise the
script exits 1 and prints the worst difference.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from ..generation.controls import Controls
from ..generation.runtime import MODEL_VERSION, sha256_file

OPSET = 17


def export(checkpoint: str, out: str, image: str | None = None, rollout: int = 256) -> dict:
    """Export ``checkpoint`` into ``out`` (three ONNX files + sidecar), only if parity holds."""
    import torch

    from .backbones import SPECS, build_backbone
    from .torch_backend import load_checkpoint

    model, state = load_checkpoint(checkpoint)
    if model.config.decoder != "transformer":
        raise ValueError("only the Transformer decoder is exported (the LSTM is an evaluation baseline)")
    spec = SPECS[model.config.backbone]
    # EfficientNet-Lite uses ReLU6 (exports as is); never call its set_swish(), which would
    # swap the trained activation for swish.
    backbone = build_backbone(model.config.backbone)
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix="synesthete-export-", dir=outdir))
    paths = [tmpdir / n for n in ("image_encoder.onnx", "decoder_prep.onnx", "decoder_step.onnx")]
    t0 = time.time()
    export_graphs(model, backbone, spec, *paths)
    export_s = time.time() - t0
    parity = check_parity(model, backbone, *paths, spec, image, rollout)
    if not (parity["va_max_abs_diff"] <= 1e-3 and parity["stages_max_rel_diff"] <= 1e-3 and parity["tokens_equal"]):
        print(f"parity FAILED: image VA max |diff| {parity['va_max_abs_diff']:.2e}, stages {parity['stages_max_rel_diff']:.2e}, first token mismatch at {parity['first_mismatch']}, worst logit diff {parity['logits_max_abs_diff']:.2e}", file=sys.stderr)
        for f in tmpdir.iterdir():
            f.unlink()
        tmpdir.rmdir()
        return {"ok": False, **parity}
    sidecar = describe(model.config, spec, state, {"opset": OPSET, "precision": "fp32", "torch": torch.__version__,
                                                   "seconds": round(export_s, 1), "parity": parity})
    if model.config.controls:  # the map the decoder was trained with; control_fit may refit it and add a spread
        sidecar["controls"] = Controls({"map": model.decoder.control_map.numpy()}).to_dict()
    for f in paths:
        sidecar["files"][f.name] = {"bytes": f.stat().st_size, "sha256": sha256_file(f)}
        os.replace(f, outdir / f.name)
    tmpdir.rmdir()
    write_sidecar(outdir, sidecar)
    return {"ok": True, **parity, "out": str(outdir)}


def write_sidecar(model_dir, sidecar: dict) -> Path:
    """``synesthete.json`` in ``model_dir``, replaced atomically (never half written)."""
    side = Path(model_dir) / "synesthete.json"
    part = side.with_suffix(".json.part")
    part.write_text(json.dumps(sidecar, indent=1))
    os.replace(part, side)
    return side


def update_sidecar(model_dir, **fields) -> Path:
    """Set ``fields`` in the sidecar of ``model_dir`` (calibration, VA head), the rest as it is."""
    side = json.loads((Path(model_dir) / "synesthete.json").read_text())
    side.update(fields)
    return write_sidecar(model_dir, side)


def export_graphs(model, backbone, spec, enc_p: Path, prep_p: Path, step_p: Path) -> None:
    """The image encoder, the per-piece decoder prep and the KV-cached decoder step as ONNX."""
    import torch

    dec, c = model.decoder, model.config

    class Prep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dec = dec

        def forward(self, memory, va, *controls):
            # with controls the graph takes them as an input: the runtime adds each piece's own
            # offset to the sidecar's map (engine.generation.controls), which a baked-in buffer could not
            return self.dec.prepare(memory, torch.cat([va, *controls], dim=-1))

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dec = dec

        def forward(self, token, pos, va_emb, cross_k, cross_v, past_k, past_v):
            return self.dec.step(token, pos, va_emb, cross_k, cross_v, past_k, past_v)

    prep, step = Prep().eval(), Step().eval()
    x = torch.randn(1, 3, spec.size, spec.size)
    with torch.no_grad():
        export_image_encoder(backbone, model.encoder, x, enc_p)
        memory, va = model.encoder(backbone(x))
        ctl = (dec.control_map[0] + va @ dec.control_map[1:],) if c.controls else ()
        torch.onnx.export(prep, (memory, va, *ctl), str(prep_p), input_names=["memory", "va", *(["controls"] if ctl else [])],
                          output_names=["va_emb", "cross_k", "cross_v"], opset_version=OPSET, dynamo=False)
        va_emb, ck, cv = prep(memory, va, *ctl)
        pk = torch.zeros(c.n_dec_layers, 1, c.n_heads, 3, c.d_model // c.n_heads)
        torch.onnx.export(
            step, (torch.tensor([[5]]), torch.tensor([3]), va_emb, ck, cv, pk, pk.clone()), str(step_p),
            input_names=["token", "pos", "va_emb", "cross_k", "cross_v", "past_k", "past_v"], output_names=["logits", "new_k", "new_v"],
            dynamic_axes={"past_k": {3: "past"}, "past_v": {3: "past"}, "new_k": {3: "total"}, "new_v": {3: "total"}},
            opset_version=OPSET, dynamo=False,
        )


def describe(c, spec, state: dict, export_info: dict) -> dict:
    """The sidecar the runtime checks before loading: vocabulary, grid, config, provenance."""
    from ..generation import tokens as T

    return {
        "format": "synesthete-onnx", "model_version": MODEL_VERSION,
        "vocab": T.VOCAB, "grid": {"steps_per_beat": T.STEPS_PER_BEAT, "beats_per_bar": T.BEATS_PER_BAR},
        "block_size": c.block_size, "model_config": c.to_dict(),
        "preprocess": {"size": spec.size, "mean": list(spec.mean), "std": list(spec.std)},
        "training": {"data_hash": state.get("data_hash"), "pairs": state.get("pairs"), "epochs": state.get("epoch"),
                     "global_step": state.get("global_step"), "train_config": state.get("train_config"), "torch": state.get("torch"),
                     "device": state.get("device")},
        "export": export_info,
        "files": {},
    }


def export_image_encoder(backbone, encoder, x, path: Path) -> None:
    """image (1,3,S,S) → memory, va, pooled (and, for EfficientNet-Lite, ``stages``) as one ONNX graph.

    A plain backbone is traced together with the encoder. A TorchScript backbone (the FID
    InceptionV3 ships as one) cannot be called inside a trace, so it is exported on its own
    from its script graph, the encoder head is traced on its feature map, and the two graphs
    are joined on that map with ``onnx.compose``.
    """
    import onnx
    import onnx.compose
    import torch

    class Head(torch.nn.Module):
        """fmap → memory, va, and the map averaged over its grid (``pooled``: what the image VA
        head reads beside the memory, engine.picture.image_stats)."""

        def __init__(self):
            super().__init__()
            self.enc = encoder

        def forward(self, fmap):
            memory, va = self.enc(fmap)
            return memory, va, fmap.mean(dim=(2, 3))

    names = ["memory", "va", "pooled"]
    scripted = any(isinstance(m, torch.jit.ScriptModule) for m in backbone.modules())
    if not scripted:
        staged = hasattr(backbone, "forward_with_stages")

        class Encoder(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone, self.head = backbone, Head()

            def forward(self, image):
                if staged:  # mid-level statistics for the image VA head as a fourth output (``stages``)
                    fmap, stages = self.backbone.forward_with_stages(image)
                    return (*self.head(fmap), stages)
                return self.head(self.backbone(image))

        torch.onnx.export(Encoder().eval(), (x,), str(path), input_names=["image"], output_names=[*names, *(["stages"] if staged else [])],
                          opset_version=OPSET, dynamo=False)
        return
    bb_p, head_p = path.with_name("backbone.part.onnx"), path.with_name("head.part.onnx")
    torch.onnx.export(torch.jit.script(backbone), (x,), str(bb_p), input_names=["image"], output_names=["fmap"], opset_version=OPSET, dynamo=False)
    torch.onnx.export(Head().eval(), (backbone(x),), str(head_p), input_names=["fmap"], output_names=names, opset_version=OPSET, dynamo=False)
    bb, head = onnx.load(str(bb_p)), onnx.load(str(head_p))
    # both graphs name their nodes and weights independently; a prefix keeps them apart
    head = onnx.compose.add_prefix(head, "head/", rename_inputs=False, rename_outputs=False)
    onnx.save(onnx.compose.merge_models(bb, head, io_map=[("fmap", "fmap")]), str(path))
    bb_p.unlink()
    head_p.unlink()


def check_parity(model, backbone, enc_p, prep_p, step_p, spec, image, rollout) -> dict:
    """The same image and the same greedy rollout through PyTorch and the ONNX files."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from ..picture.images import load_image, preprocess
    from ..generation.runtime import OrtStepper
    from ..generation.sampling import SamplingSettings, TokenStream
    from .torch_backend import TorchStepper

    if image:
        x = preprocess(load_image(image), spec.size, spec.mean, spec.std)
    else:
        x = np.random.default_rng(0).normal(size=(1, 3, spec.size, spec.size)).astype(np.float32)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    enc = ort.InferenceSession(str(enc_p), so, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(step_p), so, providers=["CPUExecutionProvider"])
    prep = ort.InferenceSession(str(prep_p), so, providers=["CPUExecutionProvider"])
    mem_o, va_o = enc.run(["memory", "va"], {"image": x})
    with torch.no_grad():
        mem_t, va_t = model.encoder(backbone(torch.from_numpy(x)))
    va_diff = float(np.abs(va_o - va_t.numpy()).max())
    if "stages" in [o.name for o in enc.get_outputs()]:  # what the image VA head reads must match too
        with torch.no_grad():
            stages_t = backbone.forward_with_stages(torch.from_numpy(x))[1].numpy()
        stages_o = enc.run(["stages"], {"image": x})[0]
        stages_diff = float(np.abs(stages_o - stages_t).max() / (np.abs(stages_t).max() + 1e-9))
    else:
        stages_diff = 0.0
    settings = SamplingSettings(bars=10**6, temperature=0.0, top_p=1.0, seed=0, mode="major")  # rollout length decides, not bars
    ts = TorchStepper(model, mem_t, va_t)
    ctl = Controls({"map": model.decoder.control_map.numpy()}) if model.config.controls else None
    os_ = OrtStepper(prep, dec, mem_o, va_o, model.config, ctl)
    # The same rollout through both: compare the logits at every step, and the greedy tokens.
    worst, toks_t, toks_o = 0.0, [], []

    class Recorder:
        def __init__(self, inner, sink):
            self.inner, self.sink, self.block_size = inner, sink, inner.block_size

        def reset(self):
            self.inner.reset()

        def step(self, token, pos):
            out = self.inner.step(token, pos)
            self.sink.append(out)
            return out

    lt, lo = [], []
    for toks, stepper, sink in ((toks_t, ts, lt), (toks_o, os_, lo)):
        for tok, _ in TokenStream(Recorder(stepper, sink), settings):
            toks.append(tok)
            if len(toks) >= rollout:
                break
    n = min(len(lt), len(lo))
    worst = float(max((np.abs(a - b).max() for a, b in zip(lt[:n], lo[:n])), default=0.0))
    mism = next((i for i, (a, b) in enumerate(zip(toks_t, toks_o)) if a != b), None)
    return {"va_max_abs_diff": va_diff, "stages_max_rel_diff": stages_diff, "logits_max_abs_diff": worst, "tokens_equal": toks_t == toks_o, "first_mismatch": mism, "rollout_tokens": len(toks_t)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="export a Synesthete checkpoint to ONNX (+ parity check)")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--image", help="image for the parity check (default: a fixed random input)")
    ap.add_argument("--rollout", type=int, default=256)
    a = ap.parse_args(argv)
    try:
        res = export(a.checkpoint, a.out, a.image, a.rollout)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
