#!/usr/bin/env bash
# Write docs/BENCHMARKS.md from what `synesthete bench` and scripts/bench_stream.py print.
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:-runs/main/ckpt.pt}
{
    echo "# Benchmarks"
    echo
    echo "Printed by the commands below on $(nproc) CPU cores ($(python -c 'import platform; print(platform.processor() or platform.machine())')), $(date -u +%Y-%m-%d);"
    echo "no GPU. Timing targets live here, not in tests. Each figure is a median over repeats."
    echo
    echo '## Model: `synesthete bench --checkpoint '"$ckpt"'`'
    echo
    echo '```'
    synesthete bench --checkpoint "$ckpt" --repeats 7
    echo '```'
    echo
    echo '```'
    synesthete bench --checkpoint "$ckpt" --repeats 7 --json
    echo '```'
} > docs/BENCHMARKS.md.part
mv docs/BENCHMARKS.md.part docs/BENCHMARKS.md
echo "wrote docs/BENCHMARKS.md"
