"""Training: a plain loop over image-MIDI pairs (nanoGPT style).

    synesthete train --data PATH --out runs/main --preset fast
    synesthete train --data PATH --out runs/main --resume            # continue exactly
    torchrun --nproc_per_node 2 -m engine.training.train --data PATH --out runs/ddp --preset fast
    synesthete train --out runs/pre --corpus bach,folk --epochs 2    # pretrain the decoder (corpus.py)
    synesthete train --out runs/ft --init runs/pre/ckpt.pt --va-loss-weight 0.3   # then the pairs

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
import hashlib
import importlib.util
import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .dataset import data_dir, list_hash
from .model import ModelConfig, Synesthete, losses
from .pairing import pair_pieces
from ..generation.controls import NAMES
from .controls import batch_controls, fit_control_map
from .sequences import pad, piece_windows
from ..errors import UsageError
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
    corpus: str = ""  # pretraining on these music21 corpus sets instead of the pairs
    init: str = ""  # the checkpoint whose weights this run started from
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
        pairs, by_path = pair_pieces(root, c.pair_capacity, c.pair_per_image, c.seed)
        return {name: cls(pairs[name], by_path, c, features, feat_index) for name in names}

    def __len__(self) -> int:
        return len(self.pairs)

    def control_data(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return piece_controls(self.windows, {pr.piece.path: (pr.piece.valence, pr.piece.arousal) for pr in self.pairs}, n)

    def batch(self, idx: np.ndarray, rng: np.random.Generator, c: TrainConfig):
        prs = [self.pairs[i] for i in idx]
        fmap = np.stack([np.asarray(self.features[self.feat_index[p.image.path]], dtype=np.float32) for p in prs])
        return pair_batch(fmap, [self.windows[p.piece.path] for p in prs],
                          np.array([[p.piece.valence, p.piece.arousal] for p in prs], dtype=np.float32),
                          np.array([[p.image.valence, p.image.arousal] for p in prs], dtype=np.float32), rng, c)


def pair_batch(fmap: np.ndarray, windows: list, va_ref: np.ndarray, image_va: np.ndarray, rng: np.random.Generator, c: TrainConfig):
    """One batch of pairs: a random window of each piece, and the conditioning VA as the piece's
    label plus N(0, va_noise), clipped to the plane."""
    chosen = [w[rng.integers(len(w))] for w in windows]
    toks = torch.from_numpy(pad(chosen))
    va_ref = torch.from_numpy(va_ref)
    va_cond = (va_ref + torch.from_numpy(rng.normal(0, c.va_noise, size=va_ref.shape).astype(np.float32))).clamp(-1, 1)
    return torch.from_numpy(fmap), toks, with_controls(va_cond, chosen, c), va_ref, torch.from_numpy(image_va)


def with_controls(va_cond: torch.Tensor, windows: list, c: TrainConfig) -> torch.Tensor:
    """The conditioning VA, followed by each window's own density and touch when the model hears
    them (teacher values: the model learns to play what it is told)."""
    if not c.model.controls:
        return va_cond
    return torch.cat([va_cond, torch.from_numpy(batch_controls(windows, c.model.controls))], dim=1)


def piece_controls(windows: dict, piece_va: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(VA, mean of its windows' ``n`` controls) per piece, for fitting the control map."""
    keys = sorted(piece_va, key=str)
    va = np.array([piece_va[k] for k in keys], np.float32)
    ctl = np.stack([batch_controls(windows[k], n).mean(axis=0) for k in keys])
    return va, ctl


class CorpusData:
    """Pretraining windows (``engine.training.corpus``) with the same ``batch`` as ``PairData``:
    a zero feature map and VA (0, 0) — neutral conditioning, so the decoder learns music itself
    and the pairs later teach it what pictures and VA change — and no image or VA labels."""

    VAL_EVERY = 20  # every 20th window is held out to watch the pretraining loss

    def __init__(self, windows: list[np.ndarray], c: TrainConfig, names: str) -> None:
        self.windows = windows
        self.fmap_shape = (c.model.feat_channels, c.model.feat_tokens)
        h = hashlib.sha256(names.encode())
        for w in windows:
            h.update(w.tobytes())
        self.data_hash = h.hexdigest()[:16]

    @classmethod
    def splits(cls, names: str, c: TrainConfig) -> dict:
        from .corpus import load_windows
        from .song_corpus import SETS as SONG_SETS

        scores = [n for n in names.split(",") if n.partition(":")[0] not in SONG_SETS]
        if scores and importlib.util.find_spec("music21") is None:
            raise UsageError("--corpus needs the music21 package (the [train] extra): pip install -e '.[train]'")
        try:
            wins = load_windows(names.split(","), c.model.block_size)
        except ValueError as e:
            raise UsageError(f"--corpus: {e}") from None
        return cls.split(wins, c, names)

    @classmethod
    def split(cls, wins: list[np.ndarray], c: TrainConfig, names: str) -> dict:
        if not wins:
            raise UsageError(f"the corpus sets {names!r} gave no windows")
        val = [w for i, w in enumerate(wins) if i % cls.VAL_EVERY == 0]
        train = [w for i, w in enumerate(wins) if i % cls.VAL_EVERY != 0]
        return {"train": cls(train, c, names), "val": cls(val, c, names)}

    def __len__(self) -> int:
        return len(self.windows)

    def batch(self, idx: np.ndarray, rng: np.random.Generator, c: TrainConfig):
        chosen = [self.windows[i] for i in idx]
        toks = torch.from_numpy(pad(chosen))
        fmap = torch.zeros((len(idx), *self.fmap_shape))
        va = torch.zeros((len(idx), 2))
        return fmap, toks, with_controls(va, chosen, c), va, None

    def control_data(self, n: int):
        return None  # no VA to map from


class PackPairData:
    """The pairs of one split from a training pack (``engine.training.pack``): the same pairs,
    windows and batches as ``PairData``, without the data folder or the feature cache."""

    def __init__(self, pack, split: str, c: TrainConfig) -> None:
        a = pack.arrays
        if pack.meta["block_size"] != c.model.block_size:
            raise UsageError(f"--pack {pack.dir}: made for block size {pack.meta['block_size']}, this run uses {c.model.block_size}")
        if (pack.meta["seed"], pack.meta["pair_capacity"], pack.meta["pair_per_image"]) != (c.seed, c.pair_capacity, c.pair_per_image):
            raise UsageError(f"--pack {pack.dir}: its pairs were made with another seed or pairing; make the pack with this run's")
        self.pack = pack
        self.image, self.piece = a[f"{split}_image"], a[f"{split}_piece"]
        self.piece_va, self.image_va = a[f"{split}_piece_va"], a[f"{split}_image_va"]
        self.windows = pack.piece_windows
        self.data_hash = pack.meta["data_hash"][split]

    def __len__(self) -> int:
        return len(self.image)

    def control_data(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return piece_controls(self.windows, {int(p): tuple(va) for p, va in zip(self.piece, self.piece_va)}, n)

    def batch(self, idx: np.ndarray, rng: np.random.Generator, c: TrainConfig):
        return pair_batch(self.pack.fmap(self.image[idx]), [self.windows[p] for p in self.piece[idx]],
                          self.piece_va[idx], self.image_va[idx], rng, c)


def _to(batch, device):
    return tuple(None if t is None else t.to(device, non_blocking=True) for t in batch)


def _autocast(device: torch.device):
    """bfloat16 on a GPU (no loss scaling needed); nothing on the CPU, where fp32 is the fast path."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    import contextlib

    return contextlib.nullcontext()


def evaluate_loss(model, data: PairData, c: TrainConfig, max_batches: int = 20, device: torch.device | None = None) -> dict:
    device = device or torch.device("cpu")
    model.eval()
    rng = np.random.default_rng(c.seed)
    tot = {"ce": 0.0}
    n = 0
    with torch.no_grad():
        for b in range(min(max_batches, math.ceil(len(data) / c.batch_size))):
            idx = np.arange(b * c.batch_size, min(len(data), (b + 1) * c.batch_size))
            fmap, toks, va_cond, va_ref, img_va = _to(data.batch(idx, rng, c), device)
            with _autocast(device):
                out = losses(model, fmap, toks, va_ref, va_ref, img_va)
            tot["ce"] += out["ce"].item()
            if "image_va" in out:  # absent when pretraining: no pictures
                tot["image_va"] = tot.get("image_va", 0.0) + out["image_va"].item()
            n += 1
    model.train()
    return {k: v / max(1, n) for k, v in tot.items()}


def build_config(args) -> TrainConfig:
    c = TrainConfig(**PRESETS[args.preset])
    if args.epochs:
        c.epochs = args.epochs
    if getattr(args, "va_loss_weight", None) is not None:
        if not 0.0 <= args.va_loss_weight <= 100.0:
            raise UsageError(f"--va-loss-weight must be in 0..100 (received {args.va_loss_weight})")
        c.va_loss_weight = args.va_loss_weight
    if args.no_va_loss:
        c.va_loss_weight = 0.0
    if args.max_steps:
        c.max_steps = args.max_steps
    if getattr(args, "ckpt_every", None):
        c.ckpt_every = args.ckpt_every
    if args.batch_size:
        c.batch_size = args.batch_size
    if getattr(args, "lr", None):
        if not 0.0 < args.lr < 1.0:
            raise UsageError(f"--lr must be in (0, 1) (received {args.lr})")
        c.lr, c.min_lr = args.lr, min(c.min_lr, args.lr) if c.schedule == "cosine" else args.lr
    if args.seed is not None:
        c.seed = args.seed
    c.corpus = getattr(args, "corpus", None) or ""
    c.init = getattr(args, "init", None) or ""
    from .backbones import SPECS

    spec = SPECS[args.backbone] if args.backbone in SPECS else None
    m: dict = {"backbone": args.backbone}
    if spec:
        m.update(feat_channels=spec.channels, feat_tokens=spec.grid * spec.grid)
    if args.layers:
        m["n_dec_layers"] = args.layers
    if args.decoder:
        m["decoder"] = args.decoder
    if args.d_model:
        m.update(d_model=args.d_model, d_ff=4 * args.d_model)
    if args.block_size:
        m["block_size"] = args.block_size
    if getattr(args, "controls", 0):
        m["controls"] = args.controls
    c.model = replace(c.model, **m)
    return c


def config_from_dict(d: dict) -> TrainConfig:
    d = dict(d)
    m = ModelConfig(**d.pop("model"))
    return TrainConfig(**d, model=m)


def _distributed() -> tuple[bool, int, int]:
    """(under torchrun?, rank, world size); joins the process group when under torchrun."""
    if int(os.environ.get("RANK", -1)) == -1:
        return False, 0, 1
    dist.init_process_group("gloo")
    return True, dist.get_rank(), dist.get_world_size()


def _config(args, ckpt_path: Path, master: bool) -> tuple[TrainConfig, dict | None]:
    """The run's config: the checkpoint's on ``--resume`` (exactly as it started), else from the flags."""
    if args.resume and ckpt_path.exists():
        state = load_state(ckpt_path)
        c = config_from_dict(state["train_config"])
        c.max_steps = args.max_steps or 0  # a stop request belongs to the invocation, not the run
        return c, state
    if args.resume and master:
        print(f"no checkpoint in {ckpt_path.parent}; starting fresh", file=sys.stderr)
    return build_config(args), None


def _estimator(c: TrainConfig, path: str):
    if c.va_loss_weight <= 0:
        return None
    from . import va_estimator

    est_path = Path(path)
    if not est_path.exists():
        raise FileNotFoundError(f"{est_path}: VA estimator missing; run python -m engine.training.va_estimator --out {est_path} (or --no-va-loss)")
    return va_estimator.load(est_path)


class Trainer:
    """One training invocation: the model, optimizer and counters, one epoch at a time.

    Counters (epoch, step in epoch, global step) and the torch RNG are checkpointed, so a resumed
    run continues exactly where it stopped; per-step losses go to ``steps.jsonl``, per-epoch
    ones to ``metrics.jsonl``.
    """

    def __init__(self, args, c: TrainConfig, state: dict | None, data: dict, ddp: bool, rank: int, world: int) -> None:
        self.args, self.c, self.out = args, c, Path(args.out)
        self.train_data, self.val_data = data["train"], data["val"]
        self.ddp, self.rank, self.world, self.master = ddp, rank, world, rank == 0
        torch.manual_seed(c.seed + rank)
        self.device = _device(getattr(args, "device", "cpu"))
        self.raw = Synesthete(c.model)
        self.estimator = None if c.corpus else _estimator(c, args.estimator)
        self.raw.to(self.device)
        if self.estimator is not None:
            self.estimator.to(self.device)
        opt_cls = torch.optim.Adam if c.optimizer == "adam" else torch.optim.AdamW
        opt_kw = {} if c.optimizer == "adam" else {"weight_decay": c.weight_decay}
        self.opt = opt_cls(self.raw.parameters(), lr=c.lr, **opt_kw)
        self.epoch = self.step_in_epoch = self.global_step = 0
        if state is not None:
            self._restore(state)
        else:
            if c.init:
                self._init_from(Path(c.init))
            self._fit_controls()
        self.model = torch.nn.parallel.DistributedDataParallel(self.raw) if ddp else self.raw
        self.steps_per_epoch = math.ceil(len(self.train_data) / (c.batch_size * world))
        self.total = self.steps_per_epoch * c.epochs
        self.stop = False
        self.budget_s = 60.0 * (getattr(args, "minutes", 0.0) or 0.0)
        self.t_start = time.time()
        self.t_probe: float | None = None
        self.best_val = math.inf

    def _restore(self, state: dict) -> None:
        self.raw.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])  # its state moves to its parameters' device
        self.best_val = state.get("best_val", math.inf)
        self.epoch, self.step_in_epoch, self.global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        torch.set_rng_state(state["torch_rng"])
        steps_log = self.out / "steps.jsonl"
        if self.master and steps_log.exists():  # drop steps after the checkpoint: they are redone now
            keep = [ln for ln in steps_log.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= self.global_step]
            steps_log.write_text("".join(ln + "\n" for ln in keep))

    def _init_from(self, path: Path) -> None:
        """Weights only (a pretrained run): the optimizer, schedule and counters start fresh."""
        if not path.exists():
            raise UsageError(f"--init {path}: no such checkpoint")
        state = load_state(path)
        weights = dict(state["model"])
        theirs = {"controls": 0, **state["model_config"]}
        if theirs != self.c.model.to_dict():
            fewer = theirs["controls"] < self.c.model.controls
            if {**theirs, "controls": self.c.model.controls} != self.c.model.to_dict() or not fewer:
                raise UsageError(f"--init {path}: its model {state['model_config']} differs from this run's {self.c.model.to_dict()}")
            # a decoder trained with fewer controls (or none): the new ones start with zero
            # weight, so the run begins exactly where that training ended and learns what they mean
            w = weights["decoder.va.0.weight"]
            weights["decoder.va.0.weight"] = torch.cat([w, w.new_zeros(w.shape[0], self.c.model.controls - theirs["controls"])], dim=1)
            weights["decoder.control_map"] = self.raw.decoder.control_map.detach().clone()
        self.raw.load_state_dict(weights)
        if self.master:
            print(f"initialised from {path} (step {state['global_step']})", file=sys.stderr)

    def _fit_controls(self) -> None:
        """Fit the VA → (density, touch) map on the training pieces (nothing to fit on a corpus)."""
        if not self.c.model.controls:
            return
        found = self.train_data.control_data(self.c.model.controls)
        if found is None:
            return
        m = fit_control_map(*found)
        with torch.no_grad():
            self.raw.decoder.control_map.copy_(torch.from_numpy(m))
        if self.master:
            print(f"control map over {len(found[0])} pieces (rows: bias, valence, arousal; "
                  f"columns: {', '.join(NAMES[: m.shape[1]])}): {np.round(m, 3).tolist()}", file=sys.stderr)

    def _state(self, optimizer: bool = True) -> dict:
        return {
                "model": {k: v.detach().cpu() for k, v in self.raw.state_dict().items()},
                "optimizer": self.opt.state_dict() if optimizer else {}, "train_config": asdict(self.c),
                "model_config": self.c.model.to_dict(), "epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
                "global_step": self.global_step, "torch_rng": torch.get_rng_state(), "data_hash": self.train_data.data_hash,
                "pairs": len(self.train_data), "torch": str(torch.__version__), "best_val": self.best_val,
                "device": _device_name(self.device),
        }

    def checkpoint(self) -> None:
        if self.master:
            atomic_save(self._state(), self.out / "ckpt.pt")

    def step(self, idx: np.ndarray) -> dict:
        c = self.c
        brng = np.random.default_rng([c.seed, self.epoch, self.step_in_epoch, self.rank])
        fmap, toks, va_cond, va_ref, img_va = _to(self.train_data.batch(idx, brng, c), self.device)
        for g in self.opt.param_groups:
            g["lr"] = lr_at(c, self.global_step, self.total)
        # losses() calls model(...), so under DDP the wrapper's forward runs and syncs grads
        with _autocast(self.device):
            out = losses(self.model, fmap, toks, va_cond, va_ref, img_va, self.estimator, c.va_loss_weight)
        self.opt.zero_grad(set_to_none=True)
        out["total"].backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
        self.opt.step()
        self.step_in_epoch += 1
        self.global_step += 1
        return {k: out[k].item() for k in ("ce", "image_va", "va") if k in out}

    def run_epoch(self, bar) -> dict:
        """Steps until the epoch ends or a stop is asked for; returns the summed losses."""
        c, per_step = self.c, self.c.batch_size * self.world
        order = np.random.default_rng([c.seed, self.epoch]).permutation(len(self.train_data))
        sums = {"ce": 0.0, "va": 0.0, "n": 0}   # "image_va" joins when a step has it (not in pretraining)
        while self.step_in_epoch < self.steps_per_epoch:
            lo = self.step_in_epoch * per_step
            loss = self.step(order[lo:lo + per_step][self.rank::self.world])
            if getattr(self.args, "step_delay", 0.0):
                time.sleep(self.args.step_delay)
            for k in ("ce", "va"):
                sums[k] += loss.get(k, 0.0)
            if "image_va" in loss:
                sums["image_va"] = sums.get("image_va", 0.0) + loss["image_va"]
            sums["n"] += 1
            if self.master:
                bar.update(1)
                bar.set_postfix(ce=f"{loss['ce']:.3f}")
                with open(self.out / "steps.jsonl", "a") as fh:
                    fh.write(json.dumps({"step": self.global_step, "epoch": self.epoch, "ce": round(loss["ce"], 5),
                                         "va": round(loss["va"], 5) if "va" in loss else None,
                                         "lr": lr_at(c, self.global_step - 1, self.total)}) + "\n")
            if self.global_step % c.ckpt_every == 0:
                self.checkpoint()
            self._budget()
            if self.stop or (c.max_steps and self.global_step >= c.max_steps):
                self.stop = True
                break
        return sums

    BUDGET_PROBE = (10, 40)  # steps timed (after the first ones: CUDA start-up, kernel selection)

    def _budget(self) -> None:
        """With ``--minutes``: once steps 10..40 are timed, the epochs (and so the cosine
        schedule, still in warm-up) are set to what fits; past the budget the run stops."""
        if not self.budget_s:
            return
        now = time.time()
        elapsed = now - self.t_start
        first, last = self.BUDGET_PROBE
        if self.global_step == first:
            self.t_probe = now
        elif self.global_step == last and self.t_probe is not None:
            per_step = (now - self.t_probe) / (last - first) * 1.08  # + validation, checkpoints
            fits = max(1, int((self.global_step + (self.budget_s - elapsed) / per_step) // self.steps_per_epoch))
            if fits < self.c.epochs:
                self.c.epochs = fits
                self.total = self.steps_per_epoch * fits
            if self.master:
                print(f"--minutes {self.budget_s / 60:g}: {per_step * 1000:.0f} ms/step, "
                      f"{self.c.epochs} epochs of {self.steps_per_epoch} steps", file=sys.stderr)
        if elapsed > self.budget_s:
            self.stop = True

    def end_epoch(self, sums: dict, seconds: float) -> None:
        val = evaluate_loss(self.raw, self.val_data, self.c, device=self.device) if self.master else {}
        if self.master and val.get("ce", math.inf) < self.best_val:
            # the lowest validation loss so far: what a long run on little data should ship
            self.best_val = val["ce"]
            atomic_save(self._state(optimizer=False) | {"epoch": self.epoch + 1, "step_in_epoch": 0}, self.out / "best.pt")
        n = max(1, sums["n"])
        rec = {"epoch": self.epoch + 1, "train_ce": sums["ce"] / n, "train_va_loss": sums["va"] / n, "train_image_va_l1": sums["image_va"] / n if "image_va" in sums else None,
               "val_ce": val.get("ce"), "val_image_va_l1": val.get("image_va"), "seconds": round(seconds, 1), "global_step": self.global_step}
        self.epoch += 1
        self.step_in_epoch = 0
        if self.master:
            with open(self.out / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(json.dumps(rec), file=sys.stderr)

    def fit(self) -> None:
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover
            tqdm = None
        c = self.c
        while self.epoch < c.epochs and not self.stop:
            bar = tqdm(total=self.steps_per_epoch, initial=self.step_in_epoch, desc=f"epoch {self.epoch + 1}/{c.epochs}",
                       disable=not self.master or tqdm is None, file=sys.stderr, leave=False)
            t0 = time.time()
            sums = self.run_epoch(bar)
            bar.close()
            if self.step_in_epoch >= self.steps_per_epoch:
                self.end_epoch(sums, time.time() - t0)
            self.checkpoint()


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu, cuda or auto (received {name!r})")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: this torch sees no CUDA device (use --device cpu or auto)")
    return torch.device(name)


def _device_name(device: torch.device) -> str:
    """What trained the run, for its records (the model card): the GPU's name, or the CPU cores."""
    if device.type == "cuda":
        return f"one {torch.cuda.get_device_name(device)} GPU"
    return f"{torch.get_num_threads()} CPU threads"


def _data(args, c: TrainConfig) -> dict:
    if getattr(args, "pack", None):
        from .pack import Pack

        try:
            pack = Pack(args.pack)
            if c.corpus:
                return CorpusData.split(pack.corpus_windows(c.corpus), c, c.corpus)
        except (FileNotFoundError, ValueError) as e:
            raise UsageError(f"--pack: {e}") from None
        return {s: PackPairData(pack, s, c) for s in ("train", "val")}
    if c.corpus:
        return CorpusData.splits(c.corpus, c)
    from .feature_cache import load_features

    root = data_dir(args.data)
    features, index = load_features(c.model.backbone, root)
    return PairData.splits(root, c, features, index)


def train(args) -> int:
    ddp, rank, world = _distributed()
    master = rank == 0
    torch.set_num_threads(max(1, (args.threads or os.cpu_count() or 1) // world))
    out = Path(args.out)
    if master:
        out.mkdir(parents=True, exist_ok=True)
    c, state = _config(args, out / "ckpt.pt", master)
    if getattr(args, "pack", None) and not c.corpus and args.estimator == "runs/va_estimator.pt":
        args.estimator = str(Path(args.pack) / "va_estimator.pt")  # the pack carries its estimator
    data = _data(args, c)
    t = Trainer(args, c, state, data, ddp, rank, world)

    def _stop(signum, frame):
        t.stop = True  # finish the step, checkpoint, exit cleanly

    if master and not ddp:
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    if master:
        what = "corpus windows" if c.corpus else "pairs"
        print(f"{len(t.train_data)} train {what}, {len(t.val_data)} val {what}, {t.raw.num_params() / 1e6:.2f}M params, "
              f"{t.steps_per_epoch} steps/epoch x {c.epochs} epochs, world {world}", file=sys.stderr)
    t.fit()
    if master:
        done = t.epoch >= c.epochs
        if done:
            (out / "DONE").write_text("done\n")
        print(f"{'finished' if done else 'stopped'} at epoch {t.epoch}, step {t.global_step}; checkpoint {out / 'ckpt.pt'}", file=sys.stderr)
    if ddp:
        dist.destroy_process_group()
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="engine.training.train", description="train Synesthete")
    add_arguments(ap)
    return train(ap.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
