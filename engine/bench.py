"""``synesthete bench``: speed and memory of the product path, measured side by side in one run.

Sessions and weights are loaded before any timing; ONNX Runtime and PyTorch get the same
thread count, the same weights (the checkpoint the ONNX files were exported from), the same
KV-cache step and the same sampler (seeded nucleus sampling with the grammar mask), so the
ratio ``ort_vs_torch`` compares engines, not settings (decoding runs on one thread in both:
see ``engine.generation.runtime``). Each figure is the median of
``--repeats`` runs. Targets (2-core CPU): ORT ≥ 5x PyTorch eager, real-time factor ≥ 50,
first note ≤ 150 ms.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

from .errors import UsageError
from .generation.runtime import Runtime
from .generation.sampling import SamplingSettings, TokenStream
from .settings import DEFAULT_SPREAD, DEFAULT_TEMPERATURE, DEFAULT_TOP_P, GenerationSettings

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "coffee.jpg"
N_TOKENS = 256


def _tokens_per_s(make_stepper, repeats: int) -> float:
    rates = []
    for r in range(repeats):
        # a token count, not a piece length, ends the loop: huge ``bars`` keeps the grammar from closing it
        # the product's sampling defaults, so the octave spread's cost per pitch is counted
        stream = TokenStream(make_stepper(), SamplingSettings(bars=10**6, temperature=DEFAULT_TEMPERATURE, top_p=DEFAULT_TOP_P,
                                                              seed=r, mode="major", spread=DEFAULT_SPREAD))
        t0 = time.perf_counter()
        n = 0
        for _ in stream:
            n += 1
            if n >= N_TOKENS:
                break
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def measure(image: Path, checkpoint: Path | None, repeats: int) -> dict:
    threads = min(2, os.cpu_count() or 1)
    rt = Runtime.load(threads=threads)
    enc = rt.encode(image)  # warm-up
    res: dict = {"provider": rt.provider, "encoder_threads": threads, "decoder_threads": 1, "tokens_per_run": N_TOKENS, "repeats": repeats}
    enc_ms = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rt.encode(image)
        enc_ms.append(1000 * (time.perf_counter() - t0))
    res["image_encoder_ms"] = statistics.median(enc_ms)
    res["ort_tokens_per_s"] = _tokens_per_s(lambda: rt.stepper(enc, enc.va), repeats)
    first, rtf = [], []
    for r in range(repeats):
        s = GenerationSettings(bars=8, tempo=120.0, seed=r)
        t0 = time.perf_counter()
        gen = rt.notes(s, rt.encode(image))
        next(gen)
        first.append(1000 * (time.perf_counter() - t0))
        for _ in gen:
            pass
        rtf.append(s.beats * 60.0 / s.tempo / (time.perf_counter() - t0))
    res["first_note_ms"] = statistics.median(first)
    res["realtime_factor"] = statistics.median(rtf)
    res["model_bytes"] = sum((rt.model_dir / f).stat().st_size for f in rt.sidecar["files"])
    res["torch_tokens_per_s"] = res["torch_nocache_tokens_per_s"] = res["ort_vs_torch"] = None
    ckpt = checkpoint or (REPO / "runs" / "main" / "ckpt.pt")
    try:
        import torch

        from .training.torch_backend import TorchNoCacheStepper, TorchStepper, load_checkpoint

        torch.set_num_threads(1)  # the same single thread the ONNX decoder session uses
        model, state = load_checkpoint(ckpt)
        if state.get("data_hash") != rt.sidecar.get("training", {}).get("data_hash") or state.get("global_step") != rt.sidecar.get("training", {}).get("global_step"):
            res["torch_note"] = f"{ckpt} is not the checkpoint the ONNX files were exported from; torch figures skipped"
        else:
            mem_t, va_t = torch.from_numpy(enc.memory), torch.tensor([[enc.va.valence, enc.va.arousal]], dtype=torch.float32)
            res["torch_tokens_per_s"] = _tokens_per_s(lambda: TorchStepper(model, mem_t, va_t), repeats)
            res["torch_nocache_tokens_per_s"] = _tokens_per_s(lambda: TorchNoCacheStepper(model, mem_t, va_t), max(1, repeats // 2))
            res["ort_vs_torch"] = res["ort_tokens_per_s"] / res["torch_tokens_per_s"]
    except ImportError:
        res["torch_note"] = "torch not installed (base install); install the [train] extra for the PyTorch columns"
    except (FileNotFoundError, ValueError) as e:
        res["torch_note"] = str(e)
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return res


def run(args) -> int:

    image = Path(args.image) if args.image else EXAMPLE
    if not image.exists():
        raise UsageError(f"{image}: no such file")
    res = measure(image, Path(args.checkpoint) if args.checkpoint else None, max(1, args.repeats))
    if args.json:
        sys.stdout.write(json.dumps(res) + "\n")
        return 0
    f = lambda v, fmt: "n/a" if v is None else format(v, fmt)  # noqa: E731
    print(f"provider               {res['provider']} (image encoder {res['encoder_threads']} threads, decoder 1 thread, both engines)")
    print(f"ORT tokens/s           {f(res['ort_tokens_per_s'], '.0f')}")
    print(f"PyTorch tokens/s       {f(res['torch_tokens_per_s'], '.0f')} (KV cache), {f(res['torch_nocache_tokens_per_s'], '.0f')} (no cache)")
    print(f"ORT vs PyTorch         {f(res['ort_vs_torch'], '.2f')}x")
    print(f"image encoder          {res['image_encoder_ms']:.1f} ms")
    print(f"first note             {res['first_note_ms']:.1f} ms (image file → first note event)")
    print(f"real-time factor       {res['realtime_factor']:.1f}x (8 bars at 120 BPM, image encoder included)")
    print(f"model files            {res['model_bytes'] / 1e6:.1f} MB")
    print(f"peak RSS               {res['peak_rss_mb']:.0f} MB")
    if res.get("torch_note"):
        print(f"note: {res['torch_note']}")
    return 0
