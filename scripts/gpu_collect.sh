#!/usr/bin/env bash
# Bring back what scripts/gpu_train.sh made on a GPU machine:
#   bash scripts/gpu_collect.sh FILES_DIR [PREFIX]
# FILES_DIR holds its float16 checkpoints and table_and_logs.tgz. Each NAME.pt becomes
# runs/PREFIX_NAME/ckpt.pt (float32, finished: DONE) with its metrics and log; the paper-table
# rows become runs/layers6 and runs/paper, the names evaluate's table uses.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:?usage: scripts/gpu_collect.sh FILES_DIR [PREFIX]}
prefix=${2:-gpu}
PY=${PY:-python}
tmp=$(mktemp -d)
tar xzf "$src/table_and_logs.tgz" -C "$tmp"
restore() {  # SRC_PT RUN_DIR NAME
    mkdir -p "$2"
    "$PY" -m engine.training.slim --restore "$1" "$2/ckpt.pt"
    [ -f "$tmp/runs/gpu/$3/metrics.jsonl" ] && cp "$tmp/runs/gpu/$3/metrics.jsonl" "$2/"
    [ -f "$tmp/runs/gpu/$3.log" ] && cp "$tmp/runs/gpu/$3.log" "$2/train.log"
    echo "done (GPU run, restored from float16)" > "$2/DONE"
    echo "$2"
}
for f in "$src"/*.pt; do
    n=$(basename "$f" .pt)
    restore "$f" "runs/${prefix}_$n" "$n"
done
for n in layers6 paper; do
    [ -f "$tmp/runs/gpu/table/$n.pt" ] && restore "$tmp/runs/gpu/table/$n.pt" "runs/$n" "$n"
done
rm -rf "$tmp"
