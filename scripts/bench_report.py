"""docs/BENCHMARKS.md and README.md's speed table, from what `synesthete bench --json` printed.

    synesthete bench --checkpoint runs/ft03_va06/ckpt.pt --repeats 7 --json > bench.json
    python scripts/bench_report.py bench.json --checkpoint runs/ft03_va06/ckpt.pt --model ft03_va06 [--as shipped]

keeps that output in docs/records/bench.json under ``runs.NAME`` (with the date, the machine's cores and
processor, the checkpoint and the model's name), then makes docs/BENCHMARKS.md again from its template,
docs/prose/benchmarks.md (``scripts/bench_report.sh`` does all of it). README.md's speed table is made
from the same record by ``scripts/readme_numbers.py``. Timing targets live here, not in tests.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "records" / "bench.json"
# the targets the figures are held to (a 2-core CPU)
ORT_VS_TORCH = 5.0       # an early issue: ONNX Runtime at least 5x PyTorch eager
FIRST_NOTE_MS = 150.0    # image file → first note event
REALTIME_FACTOR = 20.0   # 8 bars at 120 BPM, image encoder included (issue 13)
MODEL_MB = 40.0          # committed model files (issue 13)


def _run(rec: dict, run: str) -> dict:
    return rec["runs"][run]["bench"]


def _n(v, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def table(rec: dict, run: str = "shipped") -> str:
    """BENCHMARKS.md's table: every figure of one run beside its target."""
    b = _run(rec, run)
    ratio = b.get("ort_vs_torch")
    verdict = "" if ratio is None else (" — met" if ratio >= ORT_VS_TORCH else " — missed")
    return "\n".join([
        "| figure | measured | target |", "|---|---|---|",
        f"| ORT tokens/s | {_n(b['ort_tokens_per_s'], '.0f')} | — |",
        f"| PyTorch tokens/s (the same weights, KV-cache step and sampler) | {_n(b['torch_tokens_per_s'], '.0f')} (KV cache), "
        f"{_n(b['torch_nocache_tokens_per_s'], '.0f')} (no cache) | ORT ≥ {ORT_VS_TORCH:g}× PyTorch (an early issue){verdict} |",
        f"| image encoder | {b['image_encoder_ms']:.1f} ms | — |",
        f"| first note (image file → first note event) | {b['first_note_ms']:.1f} ms | ≤ {FIRST_NOTE_MS:g} ms |",
        f"| real-time factor (8 bars at 120 BPM, image encoder included) | {b['realtime_factor']:.1f}× | ≥ {REALTIME_FACTOR:g}× |",
        f"| model files | {b['model_bytes'] / 1e6:.1f} MB | ≤ {MODEL_MB:g} MB |",
        f"| peak RSS | {b['peak_rss_mb']:.0f} MB | — |"])


def readme_table(rec: dict, run: str = "shipped") -> str:
    """README.md's speed table: the same run, as a user reads it."""
    r = rec["runs"][run]
    b = r["bench"]
    ratio = b.get("ort_vs_torch")
    verdict = "" if ratio is None else (" — met" if ratio >= ORT_VS_TORCH else " — missed")
    return "\n".join([
        f"| figure | measured (shipped `{r['model']}`) | target |", "|---|---|---|",
        f"| ONNX Runtime tokens/s (1 decoder thread) | {_n(b['ort_tokens_per_s'], '.0f')} | — |",
        f"| PyTorch eager tokens/s, same KV-cache step and sampler | {_n(b['torch_tokens_per_s'], '.0f')} "
        f"(no cache: {_n(b['torch_nocache_tokens_per_s'], '.0f')}) | — |",
        f"| ORT vs PyTorch | {'n/a' if ratio is None else f'{ratio:.2f}x'} ({_n(b['ort_tokens_per_s'], '.0f')} / {_n(b['torch_tokens_per_s'], '.0f')}) | "
        f"≥ {ORT_VS_TORCH:g}x (an early issue){verdict} |",
        f"| image file → first note event | {b['first_note_ms']:.1f} ms | ≤ {FIRST_NOTE_MS:g} ms |",
        f"| real-time factor, 8 bars at 120 BPM, image encoder included | {b['realtime_factor']:.1f}x | ≥ {REALTIME_FACTOR:g}x (issue 13) |",
        f"| image encoder (EfficientNet-Lite0, 224 px) | {b['image_encoder_ms']:.1f} ms | — |",
        f"| model files | {b['model_bytes'] / 1e6:.1f} MB | ≤ {MODEL_MB:g} MB (issue 13) |"])


def output(rec: dict, run: str = "shipped") -> str:
    """The run's record as `synesthete bench --json` printed it, in a code block."""
    return "```\n" + json.dumps(_run(rec, run)) + "\n```"


# the report's parts (engine/training/reports.py): docs/prose/benchmarks.md places them in docs/BENCHMARKS.md
BLOCKS = {"table": table, "readme_table": readme_table, "output": output}
LAYOUT = "# Benchmarks\n\n{{table}}\n\n{{output}}\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench", help="what `synesthete bench --json` printed (a file; - for standard input)")
    ap.add_argument("--checkpoint", required=True, help="the checkpoint bench compared against (for the record)")
    ap.add_argument("--model", required=True, help="the model's name, e.g. ft03_va06")
    ap.add_argument("--as", dest="name", default="shipped", help="the run's name in the record (default shipped: what the report shows)")
    ap.add_argument("--record", default=str(RECORD))
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from engine.training import reports as R

    measured = json.loads(sys.stdin.read() if a.bench == "-" else Path(a.bench).read_text())
    run = {"date": datetime.date.today().isoformat(), "cpu_cores": os.cpu_count(),
           "processor": platform.processor() or platform.machine(), "checkpoint": a.checkpoint, "model": a.model, "bench": measured}
    R.store_run(a.record, a.name, run)
    print(f"kept the run in {a.record} as {a.name!r}", file=sys.stderr)
    if Path(a.record).resolve() == RECORD.resolve():
        R.publish("bench", ROOT / "docs" / "BENCHMARKS.md", {}, log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
