"""PyTorch inference: load a training checkpoint, encode images, and step the decoder.

Used for evaluation (every ablation, the LSTM included), for ONNX parity checks, and for
the benchmark's PyTorch-eager column. The product's default path is ``engine.generation.runtime``
(ONNX Runtime, no torch).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .backbones import SPECS, build_backbone
from ..picture.images import load_image, preprocess
from .model import ModelConfig, Synesthete


def load_checkpoint(path: str | Path) -> tuple[Synesthete, dict]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such checkpoint")
    try:
        from .train import load_state

        state = load_state(p)
        model = Synesthete(ModelConfig(**state["model_config"]))
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError, EOFError, ValueError) as e:
        raise ValueError(f"{p}: not a usable Synesthete checkpoint ({str(e).splitlines()[0][:120]})") from None
    model.eval()
    return model, state


class TorchStepper:
    """KV-cached decoder steps (or LSTM state) for one image memory and VA."""

    def __init__(self, model: Synesthete, memory: torch.Tensor, va: torch.Tensor) -> None:
        self.model, self.memory, self.va = model, memory, va
        self.lstm = model.config.decoder == "lstm"
        self.block_size = 10**9 if self.lstm else model.config.block_size
        self.reset()

    def reset(self) -> None:
        self.cache = None if self.lstm else self.model.decoder.empty_cache()
        if not self.lstm and not hasattr(self, "fixed"):
            with torch.no_grad():
                self.fixed = self.model.decoder.prepare(self.memory, self.va)

    def retarget(self, va, memory=None) -> None:
        """Condition what follows on ``va`` (and ``memory``), as ``OrtStepper.retarget``."""
        self.va = torch.as_tensor(np.asarray(va, np.float32).reshape(1, 2))
        if memory is not None:
            self.memory = torch.as_tensor(np.asarray(memory, np.float32))
        if not self.lstm:
            with torch.no_grad():
                self.fixed = self.model.decoder.prepare(self.memory, self.va)

    @torch.no_grad()
    def step(self, token: int, pos: int) -> np.ndarray:
        tok = torch.tensor([[token]], dtype=torch.long)
        if self.lstm:
            logits, self.cache = self.model.decoder.step(tok, self.cache, self.memory, self.va)
        else:
            logits, k, v = self.model.decoder.step(tok, torch.tensor([pos]), *self.fixed, *self.cache)
            self.cache = (k, v)
        return logits[0].numpy()


class TorchNoCacheStepper(TorchStepper):
    """Recomputes the whole context each step: the benchmark's 'no KV cache' reference."""

    def reset(self) -> None:
        self.ctx: list[int] = []

    @torch.no_grad()
    def step(self, token: int, pos: int) -> np.ndarray:
        self.ctx.append(token)
        logits = self.model.decoder(torch.tensor([self.ctx]), self.memory, self.va)
        return logits[0, -1].numpy()


class TorchEncoder:
    def __init__(self, model: Synesthete) -> None:
        self.model = model
        self.spec = SPECS[model.config.backbone]
        self.backbone = build_backbone(model.config.backbone)

    @torch.no_grad()
    def __call__(self, image) -> tuple[torch.Tensor, np.ndarray]:
        img = load_image(image) if isinstance(image, (str, Path)) else image
        x = torch.from_numpy(preprocess(img, self.spec.size, self.spec.mean, self.spec.std))
        memory, va = self.model.encoder(self.backbone(x))
        return memory, va[0].numpy()

    @torch.no_grad()
    def from_features(self, fmap: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        memory, va = self.model.encoder(torch.from_numpy(np.asarray(fmap, dtype=np.float32))[None])
        return memory, va[0].numpy()
