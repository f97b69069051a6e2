#!/usr/bin/env bash
# Fine-tune variants of one pretrained decoder at once on a lent GPU, within a fixed budget —
# the short sibling of gpu_train.sh for when the device time left cannot hold a pretraining.
# Prepare here, then run there through the device tool:
#
#   python -m engine.training.slim runs/pre02/ckpt.pt gpu_pack/pre02.pt   # the pretrained decoder travels in the pack
#   device run, carry [gpu_pack], command: FT_MIN=1.6 bash scripts/gpu_finetune.sh   (timeout_s ~200)
#   then here:  bash scripts/gpu_collect.sh FILES_DIR       (restores runs/gpu_<variant>)
#
# VARIANTS: "name:flag,flag ..." — each a fine-tune of INIT on the pack's pairs (commas become
# spaces). Each run keeps best.pt (lowest validation loss); float16 copies come back in $OUT.
# The next lever prepared (MUSICALITY.md: range is the clue left): a third control, range, e.g.
#   VARIANTS="rng03:--controls,3,--va-loss-weight,0.3 rng06:--controls,3,--va-loss-weight,0.6 rng06_nova:--controls,3,--no-va-loss"
# from the same pretrained decoder; then control_fit on each exported candidate (scripts/candidate.sh).
# (Session 9 tried range on 2 CPU cores from the shipped ft03_va06 instead: 485 steps, and the model
# did not obey it — control_fit slope 0.11. Start from the pretrained decoder, as density and touch were.)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_out}
PACK=${PACK:-gpu_pack}
INIT=${INIT:-$PACK/pre02.pt}
FT_MIN=${FT_MIN:-1.6}
FT_EPOCHS=${FT_EPOCHS:-40}
DEVICE=${DEVICE:-auto}
SHAPE=${SHAPE:-"--d-model 256 --layers 4"}
VARIANTS=${VARIANTS:-"ctl:--controls,--va-loss-weight,0.3 ctl_nova:--controls,--no-va-loss ctl_va06:--controls,--va-loss-weight,0.6"}
EXTRA=${EXTRA:-}   # e.g. "--max-steps 3 --batch-size 4" for a local dry run
PY=${PY:-python3}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
mkdir -p "$OUT" runs/gpu
log() { echo "[$(date +%T)] $*"; }
[ -f "$INIT" ] || { log "no pretrained checkpoint at $INIT"; exit 2; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true

pids=()
for v in $VARIANTS; do
    name=${v%%:*}; flags=${v#*:}; flags=${flags//,/ }
    rm -rf "runs/gpu/$name"
    # shellcheck disable=SC2086
    "$PY" -m engine.training.train --pack "$PACK" --device "$DEVICE" --threads 2 --ckpt-every 500 \
        --out "runs/gpu/$name" --init "$INIT" $SHAPE $flags --batch-size 32 --lr 5e-4 \
        --epochs "$FT_EPOCHS" --minutes "$FT_MIN" $EXTRA > "runs/gpu/$name.log" 2>&1 &
    pids+=($!)
done
log "${#pids[@]} fine-tunes"
for p in "${pids[@]}"; do wait "$p" || log "a run failed (pid $p)"; done
log "done"

for v in $VARIANTS; do
    name=${v%%:*}; d=runs/gpu/$name
    src="$d/best.pt"; [ -f "$src" ] || src="$d/ckpt.pt"
    [ -f "$src" ] && "$PY" -m engine.training.slim "$src" "$OUT/$name.pt"
    tail -3 "runs/gpu/$name.log"
done
tar czf "$OUT/table_and_logs.tgz" runs/gpu/*.log runs/gpu/*/metrics.jsonl 2>/dev/null
ls -la "$OUT"
"$PY" scripts/gpu_summary.py runs/gpu
