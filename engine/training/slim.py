"""Checkpoints in half the bytes, for carrying: float16 weights and the run's description, no
optimizer state.

    python -m engine.training.slim runs/big/best.pt out/big.pt       # shrink (on the GPU machine)
    python -m engine.training.slim --restore out/big.pt runs/big/ckpt.pt   # back to a float32 checkpoint

The restored checkpoint holds the float16-rounded weights in float32 (relative error below 5e-4,
far under what changes a sampled token), with the config, counters and data hash that export,
evaluate and ``--init`` read. It is a finished run's weights, not a resumable state.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .train import atomic_save, load_state


def slim(src: Path, dst: Path) -> None:
    state = load_state(src)
    state["model"] = {k: (v.half() if v.is_floating_point() else v) for k, v in state["model"].items()}
    state["optimizer"] = {}
    state.pop("torch_rng", None)
    atomic_save(state, dst)


def restore(src: Path, dst: Path) -> None:
    state = load_state(src)
    state["model"] = {k: (v.float() if v.is_floating_point() else v) for k, v in state["model"].items()}
    state.setdefault("torch_rng", torch.get_rng_state())
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(state, dst)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="engine.training.slim", description="float16 weights-only checkpoints and back")
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--restore", action="store_true", help="float16 → float32 checkpoint")
    a = ap.parse_args(argv)
    (restore if a.restore else slim)(Path(a.src), Path(a.dst))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
