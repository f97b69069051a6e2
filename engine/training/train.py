"""Training: a plain loop over image-MIDI pairs (nanoGPT style).

    synesthete train --data PATH --out runs/main --preset fast
    synesthete train --data PATH --out runs/main --resume            # continue exactly
    torchrun --nproc_per_node 2 -m engine.training.train --data PATH --out runs/ddp --preset fast

Presets: ``paper`` = Adam, lr 1e-5, 15 epochs, constant lr (the paper's; under-trains a
decoder from scratch, reported anyway); ``fast`` = AdamW, lr 1e-3 with warm-up and cosine
decay, 6 epochs: trains in under an hour on 2 CPU cores with cached backbone features.

Each epoch shuffles the pairs and draws a crop of each piece with a generator seeded by
(seed, epoch), so ``--resume`` (which restores model, optimizer, torch RNG and the step
inside the epoch) reproduces the uninterrupted run. Checkpoints are written atomically
(write, fsync, rename) every ``--ckpt-every`` steps and at each epoch's end.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .dataset import data_dir, list_hash, read_images
from .model import ModelConfig, Synesthete, losses
from .pairing import make_pairs
from .sequences import pad, piece_windows, usable_pieces
from .args import add_arguments


@dataclass
class TrainConfig:
    preset: str = "fast"
    epochs: int = 6
    batch_size: int = 16
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.01
    optimizer: str = "adamw"  # "adam" for the paper preset
    schedule: str = "cosine"  # or "constant"
    va_loss_weight: float = 1.0  # 0 disables the paper's VA loss (ablation)
    va_noise: float = 0.05  # std of the noise on the conditioning VA
    grad_clip: float = 1.0
    seed: int = 1337
    ckpt_every: int = 50
    max_steps: int = 0  # >0 stops early (tests)
    pair_capacity: int = 3
    pair_per_image: int = 2
    model: ModelConfig = field(default_factory=ModelConfig)


PRESETS = {
    "fast": dict(),
    "paper": dict(preset="paper", epochs=15, lr=1e-5, min_lr=1e-5, warmup_steps=0, weight_decay=0.0, optimizer="adam", schedule="constant"),
}


def lr_at(c: TrainConfig, step: int, total: int) -> float:
    if c.schedule == "constant":
        return c.lr
    if step < c.warmup_steps:
        return c.lr * (step + 1) / c.warmup_steps
    t = min(1.0, (step - c.warmup_steps) / max(1, total - c.warmup_steps))
    return c.min_lr + 0.5 * (1 + math.cos(math.pi * t)) * (c.lr - c.min_lr)


def load_state(path: Path) -> dict:
    """torch.load with weights_only=True; TorchVersion (a str) is allowed for older checkpoints."""
    from torch.torch_version import TorchVersion

    with torch.serialization.safe_globals([TorchVersion]):
        return torch.load(path, map_location="cpu", weights_only=True)


def atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class PairData:
    """Pairs of one split with everything a batch needs, already in memory."""

    def __init__(self, pairs, pieces_by_path: dict, c: TrainConfig, features: np.ndarray, feat_index: dict[str, int]) -> None:
        self.pairs = pairs
        self.windows = {path: piece_windows(pieces_by_path[path], c.model.block_size) for path in {pr.piece.path for pr in pairs}}
        self.features = features
        self.feat_index = feat_index
        self.data_hash = list_hash([pr.image for pr in pairs] + [pr.piece for pr in pairs])

    @classmethod
    def splits(cls, root: Path, c: TrainConfig, features: np.ndarray, feat_index: dict[str, int], names=("train", "val")) -> dict:
        """PairData per split, from one read of the data and one pairing of every split."""
        pieces = usable_pieces(root)
        pairs = make_pairs(read_images(root), [p.item for p in pieces], capacity=c.pair_capacity, per_image=c.pair_per_image, seed=c.seed)
        by_path = {p.item.path: p for p in pieces}
        return {name: cls(pairs[name], by_path, c, features, feat_index) for name in names}

    def __len__(self) -> int:
        return len(self.pairs)

    def batch(self, idx: np.ndarray, rng: np.random.Generator, c: TrainConfig):
        prs = [self.pairs[i] for i in idx]
        fmap = torch.from_numpy(np.stack([np.asarray(self.features[self.feat_index[p.image.path]], dtype=np.float32) for p in prs]))
        wins = [self.windows[p.piece.path] for p in prs]
        toks = torch.from_numpy(pad([w[rng.integers(len(w))] for w in wins]))
        va_ref = torch.tensor([[p.piece.valence, p.piece.arousal] for p in prs], dtype=torch.float32)
        va_cond = (va_ref + torch.from_numpy(rng.normal(0, c.va_noise, size=va_ref.shape).astype(np.float32))).clamp(-1, 1)
        img_va = torch.tensor([[p.image.valence, p.image.arousal] for p in prs], dtype=torch.float32)
        return fmap, toks, va_cond, va_ref, img_va


def evaluate_loss(model, data: PairData, c: TrainConfig, max_batches: int = 20) -> dict:
    model.eval()
    rng = np.random.default_rng(c.seed)
    tot = {"ce": 0.0, "image_va": 0.0}
    n = 0
    with torch.no_grad():
        for b in range(min(max_batches, math.ceil(len(data) / c.batch_size))):
            idx = np.arange(b * c.batch_size, min(len(data), (b + 1) * c.batch_size))
            fmap, toks, va_cond, va_ref, img_va = data.batch(idx, rng, c)
            out = losses(model, fmap, toks, va_ref, va_ref, img_va)
            tot["ce"] += out["ce"].item()
            tot["image_va"] += out["image_va"].item()
            n += 1
    model.train()
    return {k: v / max(1, n) for k, v in tot.items()}


def build_config(args) -> TrainConfig:
    c = TrainConfig(**PRESETS[args.preset])
    if args.epochs:
        c.epochs = args.epochs
    if args.no_va_loss:
        c.va_loss_weight = 0.0
    if args.max_steps:
        c.max_steps = args.max_steps
    if getattr(args, "ckpt_every", None):
        c.ckpt_every = args.ckpt_every
    if args.batch_size:
        c.batch_size = args.batch_size
    if args.seed is not None:
        c.seed = args.seed
    from .backbones import SPECS

    spec = SPECS[args.backbone] if args.backbone in SPECS else None
    m = c.model
    m.backbone = args.backbone
    if spec:
        m.feat_channels, m.feat_tokens = spec.channels, spec.grid * spec.grid
    if args.layers:
        m.n_dec_layers = args.layers
    if args.decoder:
        m.decoder = args.decoder
    if args.d_model:
        m.d_model, m.d_ff = args.d_model, 4 * args.d_model
    if args.block_size:
        m.block_size = args.block_size
    return c


def config_from_dict(d: dict) -> TrainConfig:
    d = dict(d)
    m = ModelConfig(**d.pop("model"))
    return TrainConfig(**d, model=m)


def train(args) -> int:
    ddp = int(os.environ.get("RANK", -1)) != -1
    if ddp:
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    master = rank == 0
    torch.set_num_threads(max(1, (args.threads or os.cpu_count() or 1) // world))
    out = Path(args.out)
    ckpt_path = out / "ckpt.pt"
    if master:
        out.mkdir(parents=True, exist_ok=True)
    state = None
    if args.resume and ckpt_path.exists():
        state = load_state(ckpt_path)
        c = config_from_dict(state["train_config"])
        c.max_steps = args.max_steps or 0  # a stop request belongs to the invocation, not the run
    else:
        if args.resume and master:
            print(f"no checkpoint in {out}; starting fresh", file=sys.stderr)
        c = build_config(args)
    root = data_dir(args.data)
    from .feature_cache import load_features

    features, index = load_features(c.model.backbone, root)
    data = PairData.splits(root, c, features, index)
    train_data, val_data = data["train"], data["val"]
    torch.manual_seed(c.seed + rank)
    model = Synesthete(c.model)
    estimator = None
    if c.va_loss_weight > 0:
        from . import va_estimator

        est_path = Path(args.estimator)
        if not est_path.exists():
            raise FileNotFoundError(f"{est_path}: VA estimator missing; run python -m engine.training.va_estimator --out {est_path} (or --no-va-loss)")
        estimator = va_estimator.load(est_path)
    opt_cls = torch.optim.Adam if c.optimizer == "adam" else torch.optim.AdamW
    opt_kw = {} if c.optimizer == "adam" else {"weight_decay": c.weight_decay}
    opt = opt_cls(model.parameters(), lr=c.lr, **opt_kw)
    epoch, step_in_epoch, global_step = 0, 0, 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        epoch, step_in_epoch, global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        torch.set_rng_state(state["torch_rng"])
        steps_log = out / "steps.jsonl"
        if master and steps_log.exists():  # drop steps after the checkpoint: they are redone now
            keep = [ln for ln in steps_log.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= global_step]
            steps_log.write_text("".join(ln + "\n" for ln in keep))
    raw = model
    if ddp:
        model = torch.nn.parallel.DistributedDataParallel(model)
    steps_per_epoch = math.ceil(len(train_data) / (c.batch_size * world))
    total = steps_per_epoch * c.epochs
    stop = {"now": False}

    def _stop(signum, frame):
        stop["now"] = True  # finish the step, checkpoint, exit cleanly

    if master and not ddp:
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def checkpoint():
        if master:
            atomic_save({
                "model": raw.state_dict(), "optimizer": opt.state_dict(), "train_config": asdict(c),
                "model_config": c.model.to_dict(), "epoch": epoch, "step_in_epoch": step_in_epoch,
                "global_step": global_step, "torch_rng": torch.get_rng_state(), "data_hash": train_data.data_hash,
                "pairs": len(train_data), "torch": str(torch.__version__),
            }, ckpt_path)

    if master:
        print(f"{len(train_data)} train pairs, {len(val_data)} val pairs, {raw.num_params() / 1e6:.2f}M params, {steps_per_epoch} steps/epoch x {c.epochs} epochs, world {world}", file=sys.stderr)
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    metrics_path = out / "metrics.jsonl"
    while epoch < c.epochs and not stop["now"]:
        rng_order = np.random.default_rng([c.seed, epoch])
        order = rng_order.permutation(len(train_data))
        bar = tqdm(total=steps_per_epoch, initial=step_in_epoch, desc=f"epoch {epoch + 1}/{c.epochs}", disable=not master or tqdm is None, file=sys.stderr, leave=False)
        sums = {"ce": 0.0, "va": 0.0, "image_va": 0.0, "n": 0}
        t0 = time.time()
        while step_in_epoch < steps_per_epoch:
            lo = step_in_epoch * c.batch_size * world
            idx = order[lo:lo + c.batch_size * world][rank::world]
            brng = np.random.default_rng([c.seed, epoch, step_in_epoch, rank])
            fmap, toks, va_cond, va_ref, img_va = train_data.batch(idx, brng, c)
            for g in opt.param_groups:
                g["lr"] = lr_at(c, global_step, total)
            # losses() calls model(...), so under DDP the wrapper's forward runs and syncs grads
            out_l = losses(model, fmap, toks, va_cond, va_ref, img_va, estimator, c.va_loss_weight)
            opt.zero_grad(set_to_none=True)
            out_l["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
            opt.step()
            step_in_epoch += 1
            global_step += 1
            if getattr(args, "step_delay", 0.0):
                time.sleep(args.step_delay)
            sums["ce"] += out_l["ce"].item()
            sums["image_va"] += out_l["image_va"].item()
            sums["va"] += out_l["va"].item() if "va" in out_l else 0.0
            sums["n"] += 1
            if master:
                bar.update(1)
                bar.set_postfix(ce=f"{out_l['ce'].item():.3f}")
                with open(out / "steps.jsonl", "a") as fh:
                    fh.write(json.dumps({"step": global_step, "epoch": epoch, "ce": round(out_l["ce"].item(), 5), "va": round(out_l["va"].item(), 5) if "va" in out_l else None, "lr": lr_at(c, global_step - 1, total)}) + "\n")
            if global_step % c.ckpt_every == 0:
                checkpoint()
            if stop["now"] or (c.max_steps and global_step >= c.max_steps):
                stop["now"] = True
                break
        bar.close()
        if step_in_epoch >= steps_per_epoch:
            val = evaluate_loss(raw, val_data, c) if master else {}
            n = max(1, sums["n"])
            rec = {"epoch": epoch + 1, "train_ce": sums["ce"] / n, "train_va_loss": sums["va"] / n, "train_image_va_l1": sums["image_va"] / n,
                   "val_ce": val.get("ce"), "val_image_va_l1": val.get("image_va"), "seconds": round(time.time() - t0, 1), "global_step": global_step}
            epoch += 1
            step_in_epoch = 0
            if master:
                with open(metrics_path, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                print(json.dumps(rec), file=sys.stderr)
        checkpoint()
    if master:
        done = epoch >= c.epochs
        (out / "DONE").write_text("done\n") if done else None
        print(f"{'finished' if done else 'stopped'} at epoch {epoch}, step {global_step}; checkpoint {ckpt_path}", file=sys.stderr)
    if ddp:
        dist.destroy_process_group()
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="engine.training.train", description="train Synesthete")
    add_arguments(ap)
    return train(ap.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
