"""The ``train`` command's arguments, apart from ``train`` so the command line starts without torch."""
from __future__ import annotations

import argparse

PRESET_NAMES = ("fast", "paper")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", help="data directory (default $SYNESTHETE_DATA or ../shared/data)")
    ap.add_argument("--out", required=True, help="run directory (checkpoint, metrics)")
    ap.add_argument("--preset", choices=PRESET_NAMES, default="fast")
    ap.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    ap.add_argument("--backbone", default="efficientnet_lite0", help="vgg16, inception_v3 or efficientnet_lite0")
    ap.add_argument("--decoder", choices=["transformer", "lstm"])
    ap.add_argument("--layers", type=int, help="decoder layers (default 3)")
    ap.add_argument("--d-model", type=int)
    ap.add_argument("--controls", type=int, nargs="?", const=2, default=0, choices=(2, 3), metavar="N",
                    help="the decoder also hears each window's density and touch (N=2, the default when given) and range (N=3), "
                         "mapped from the VA at inference (engine/training/controls.py)")
    ap.add_argument("--block-size", type=int)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--no-va-loss", action="store_true", help="ablation: token loss only")
    ap.add_argument("--va-loss-weight", type=float, help="weight of the paper's VA loss beside the token loss (default 1.0)")
    ap.add_argument("--estimator", default="runs/va_estimator.pt", help="training-time VA estimator for the VA loss")
    ap.add_argument("--corpus", help="pretrain the decoder on music21's corpus sets (e.g. bach,folk; see engine.training.corpus) "
                    "with neutral conditioning, instead of the image-MIDI pairs")
    ap.add_argument("--init", help="start from this checkpoint's weights (e.g. a --corpus run), with a fresh optimizer and schedule")
    ap.add_argument("--pack", help="read the pairs, feature maps, corpus and VA estimator from this folder "
                    "(python -m engine.training.pack) instead of the data directory and caches; --corpus all takes every set in it")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (cuda when present); cuda trains in bfloat16 autocast")
    ap.add_argument("--lr", type=float, help="peak learning rate (default: the preset's)")
    ap.add_argument("--minutes", type=float, default=0.0,
                    help="time budget: after 30 steps the run sets its epochs to what fits, then stops at the budget")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--ckpt-every", type=int, help="steps between checkpoints (default 50)")
    ap.add_argument("--step-delay", type=float, default=0.0, help=argparse.SUPPRESS)  # fault tests: widen the kill window
