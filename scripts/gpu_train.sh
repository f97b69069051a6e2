#!/usr/bin/env bash
# Train on a lent GPU machine within a fixed budget, from a training pack (no data folder, no
# caches, no PyPI there). Prepare here, then run there through the device tool:
#
#   python -m engine.training.pack --out gpu_pack --corpus bach,folk,classical,renaissance --cap 5000
#   (the pop-piano songs, issue #24: --corpus pop909,pop1k7,bach,folk,classical,renaissance --cap 8000;
#    engine/training/song_corpus.py, training split only)
#   device run, carry [gpu_pack], command: bash scripts/gpu_train.sh      (timeout_s ~560)
#   then here:  bash scripts/gpu_collect.sh /work/.device/.../files      (restores runs/gpu_*)
#
# What runs, all at once on the one GPU (small models leave it mostly idle, so concurrent runs
# cost little more than one):
#   phase 1  pre_<shape>: pretraining on every corpus set of the pack, one per decoder shape;
#            layers6 and paper: the paper table's missing rows (pairs only, their presets)
#   phase 2  ft_<shape>: each pretrained decoder fine-tuned on the pairs with the VA loss
#            (weight 0.3, the shipped recipe), and nova_<shape> without it (the ablation)
# Each run keeps best.pt (lowest validation loss); the float16 copies of those come back in $OUT.
# Budgets in minutes: PRE_MIN, FT_MIN (a run sets its epochs to what fits, then stops there).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_out}
PACK=${PACK:-gpu_pack}
PRE_MIN=${PRE_MIN:-4}
FT_MIN=${FT_MIN:-2.5}
DEVICE=${DEVICE:-auto}
SHAPES=${SHAPES:-"big:256:4"}   # name:d_model:layers
PRE_EPOCHS=${PRE_EPOCHS:-60}
FT_EPOCHS=${FT_EPOCHS:-40}
EXTRA=${EXTRA:-}   # e.g. "--block-size 128" for a local dry run
PY=${PY:-python3}   # on the GPU machine its python3 holds torch
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
mkdir -p "$OUT" runs/gpu
log() { echo "[$(date +%T)] $*"; }
train() { "$PY" -m engine.training.train --pack "$PACK" --device "$DEVICE" --threads 2 --ckpt-every 500 "$@"; }

nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
log "smoke test"
rm -rf runs/gpu/smoke
if ! train --out runs/gpu/smoke --max-steps 3 --batch-size 4 $EXTRA > runs/gpu/smoke.log 2>&1; then
    tail -30 runs/gpu/smoke.log; exit 3
fi

pids=()
for s in $SHAPES; do
    IFS=: read -r name d layers <<< "$s"; args="--d-model $d --layers $layers"
    rm -rf "runs/gpu/pre_$name"
    train --out "runs/gpu/pre_$name" --corpus all $args --batch-size 64 --epochs "$PRE_EPOCHS" --minutes "$PRE_MIN" $EXTRA \
        > "runs/gpu/pre_$name.log" 2>&1 &
    pids+=($!)
done
rm -rf runs/gpu/layers6 runs/gpu/paper
train --out runs/gpu/layers6 --preset fast --layers 6 --minutes "$PRE_MIN" $EXTRA > runs/gpu/layers6.log 2>&1 &
pids+=($!)
train --out runs/gpu/paper --preset paper --minutes "$PRE_MIN" $EXTRA > runs/gpu/paper.log 2>&1 &
pids+=($!)
log "phase 1: ${#pids[@]} runs"
for p in "${pids[@]}"; do wait "$p" || log "a phase-1 run failed (pid $p)"; done
log "phase 1 done"

pids=()
for s in $SHAPES; do
    IFS=: read -r name d layers <<< "$s"; args="--d-model $d --layers $layers"
    pre="runs/gpu/pre_$name/best.pt"
    [ -f "$pre" ] || pre="runs/gpu/pre_$name/ckpt.pt"   # stopped before its first epoch ended
    [ -f "$pre" ] || { log "no checkpoint in runs/gpu/pre_$name"; continue; }
    for v in ft nova; do
        w=$([ $v = ft ] && echo "--va-loss-weight 0.3" || echo "--no-va-loss")
        rm -rf "runs/gpu/${v}_$name"
        train --out "runs/gpu/${v}_$name" --init "$pre" $args $w --batch-size 32 --lr 5e-4 --epochs "$FT_EPOCHS" --minutes "$FT_MIN" $EXTRA \
            > "runs/gpu/${v}_$name.log" 2>&1 &
        pids+=($!)
    done
done
log "phase 2: ${#pids[@]} runs"
for p in "${pids[@]}"; do wait "$p" || log "a phase-2 run failed (pid $p)"; done
log "phase 2 done"

mkdir -p runs/gpu/table
for d in runs/gpu/*/; do
    n=$(basename "$d")
    case $n in smoke|table) continue;; esac
    src="$d/best.pt"; [ -f "$src" ] || src="$d/ckpt.pt"
    # the paper-table rows travel in one archive: the tool returns at most 8 files
    case $n in layers6|paper) dst=runs/gpu/table/$n.pt;; *) dst=$OUT/$n.pt;; esac
    [ -f "$src" ] && "$PY" -m engine.training.slim "$src" "$dst"
done
tar czf "$OUT/table_and_logs.tgz" runs/gpu/table runs/gpu/*.log runs/gpu/*/metrics.jsonl 2>/dev/null
ls -la "$OUT"
"$PY" scripts/gpu_summary.py runs/gpu
