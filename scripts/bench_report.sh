#!/usr/bin/env bash
# Measure the shipped model with `synesthete bench --json`, keep the output in docs/records/bench.json
# and make docs/BENCHMARKS.md and README.md's speed table again from that record:
#   bash scripts/bench_report.sh [CHECKPOINT] [MODEL_NAME]
# CHECKPOINT: the run the ONNX files were exported from (for the PyTorch column; default runs/main/ckpt.pt).
# The report's prose is docs/prose/benchmarks.md; README's table comes from docs/prose/readme.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:-runs/main/ckpt.pt}
model=${2:-$(basename "$(dirname "$ckpt")")}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
synesthete bench --checkpoint "$ckpt" --repeats 7 --json > "$out"
python scripts/bench_report.py "$out" --checkpoint "$ckpt" --model "$model" --as shipped
python scripts/readme_numbers.py
