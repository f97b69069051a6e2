#!/usr/bin/env bash
# Every run of docs/RESULTS.md, one after another, each resumable: rerun this script after an
# interruption and it continues where it stopped (finished runs have runs/NAME/DONE).
# Run it in the background:  nohup bash scripts/train_all.sh > runs/train_all.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs
[ -f runs/va_estimator.pt ] || python -m engine.training.va_estimator --out runs/va_estimator.pt
python -m engine.training.feature_cache --backbone efficientnet_lite0

train() {  # NAME ARGS...
    local name=$1; shift
    if [ -f "runs/$name/DONE" ]; then echo "$name: done"; return; fi
    echo "$name: training"
    if [ -f "runs/$name/ckpt.pt" ]; then
        python -m engine.training.train --out "runs/$name" --resume
    else
        python -m engine.training.train --out "runs/$name" "$@"
    fi
}

train main --preset fast
train no_va_loss --preset fast --no-va-loss
train lstm --preset fast --decoder lstm
train layers1 --preset fast --layers 1
train layers6 --preset fast --layers 6
python -m engine.training.feature_cache --backbone vgg16
train vgg16 --preset fast --backbone vgg16
python -m engine.training.feature_cache --backbone inception_v3
train inception_v3 --preset fast --backbone inception_v3
train paper --preset paper
synesthete evaluate --runs runs --out docs/RESULTS.md
