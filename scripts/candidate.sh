#!/usr/bin/env bash
# Everything needed to decide whether a finished run should ship, in one resumable pass:
#   bash scripts/candidate.sh runs/NAME [OUT_DIR]
# exports it to ONNX (parity-checked), sweeps decoding on validation pictures, compares its
# musicality with the shipped model's on the test split, and evaluates its emotion fidelity.
# Writes OUT_DIR/{DECODING.md,MUSICALITY.md,RESULTS.md} (default runs/NAME/candidate); ships nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:?usage: scripts/candidate.sh runs/NAME [OUT_DIR]}
out=${2:-$run/candidate}
name=$(basename "$run")
mkdir -p "$out"
[ -f "$run/DONE" ] || { echo "$run: not finished (no DONE)" >&2; exit 1; }
[ -f "$run/onnx/synesthete.json" ] || python export_onnx.py --checkpoint "$run/ckpt.pt" --out "$run/onnx" --image examples/coffee.jpg
python -m engine.training.sweep --model-dir "$run/onnx" --out "$out/DECODING.md" --json "$out/sweep.json"
# the sweep's choice, when it differs from the default decoding (system names hold no '=')
chosen=$(python -c "
import json; from engine.request import GenerationSettings as G
c = json.load(open('$out/sweep.json'))['chosen'] or {}
d = G()
print(','.join(f'{k}={v}' for k, v in c.items()) if any(getattr(d, k) != v for k, v in c.items()) else '')")
python -m engine.training.musicality_report --out "$out/MUSICALITY.md" \
    --system "shipped model=engine/models" --system "shipped, top-p 0.8=engine/models:top_p=0.8" \
    --system "$name=$run/onnx" ${chosen:+--system "$name, sweep's choice=$run/onnx:$chosen"}
tmp=$(mktemp -d)/runs && mkdir -p "$tmp" && ln -s "$(realpath "$run")" "$tmp/$name"
synesthete evaluate --runs "$tmp" --out "$out/RESULTS.md"
echo "candidate $name: $out"
