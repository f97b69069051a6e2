"""The training-time music-VA estimator that the paper's VA loss needs.

It reads a token sequence as a sequence of *distributions* over the vocabulary — one-hot for
real music, the decoder's softmax for generated music — so its VA is differentiable with
respect to the decoder's outputs. Expected embedding p_t @ E → two 1-D convolutions (local
rhythm/harmony patterns) → masked mean over time → MLP → tanh VA.

It is pretrained on the train split's token sequences and VA labels, then frozen. It is
deliberately a different model on different inputs from the judge (``engine.music.judge``:
ridge regression on hand-made musical features), which scores the evaluation.

    python -m engine.training.va_estimator --data PATH --out runs/va_estimator.pt
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..generation.tokens import PAD, VOCAB_SIZE


class TokenVAEstimator(nn.Module):
    def __init__(self, vocab_size: int = VOCAB_SIZE, d: int = 64, hidden: int = 96) -> None:
        super().__init__()
        self.emb = nn.Linear(vocab_size, d, bias=False)  # accepts soft distributions
        self.conv1 = nn.Conv1d(d, hidden, 5, padding=2)
        self.conv2 = nn.Conv1d(hidden, hidden, 5, padding=2)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 2), nn.Tanh())

    def forward(self, probs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """probs (B, T, V) distributions, mask (B, T) 1 for real positions → VA (B, 2)."""
        x = self.emb(probs).transpose(1, 2)  # (B, d, T)
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x)).transpose(1, 2)  # (B, T, h)
        m = mask[..., None]
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(pooled)


def one_hot(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return F.one_hot(tokens, VOCAB_SIZE).float(), (tokens != PAD).float()


def train_estimator(train_seqs, train_va, val_seqs, val_va, epochs: int = 12, seed: int = 0, log=print) -> tuple[TokenVAEstimator, dict]:
    """Fit on (padded token tensors, VA tensors); returns the best-on-val model and its scores."""
    torch.manual_seed(seed)
    model = TokenVAEstimator()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    g = torch.Generator().manual_seed(seed)
    best, best_state = float("inf"), None
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(train_seqs), generator=g)
        for i in range(0, len(perm), 32):
            idx = perm[i:i + 32]
            p, m = one_hot(train_seqs[idx])
            # Soft inputs at train time too: mix the one-hot with noise so the estimator is
            # not brittle on a decoder's less peaked distributions.
            p = 0.8 * p + 0.2 * torch.softmax(torch.randn_like(p) * 2, dim=-1)
            loss = F.l1_loss(model(p, m), train_va[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            p, m = one_hot(val_seqs)
            mae = F.l1_loss(model(p, m), val_va).item()
        log(f"estimator epoch {ep + 1}: val VA MAE {mae:.4f}")
        if mae < best:
            best, best_state = mae, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    for q in model.parameters():
        q.requires_grad_(False)
    return model, {"val_va_mae": best, "val_mean_baseline_mae": float((val_va - train_va.mean(0)).abs().mean())}


def save(model: TokenVAEstimator, path: Path, info: dict) -> None:
    tmp = Path(str(path) + ".part")
    torch.save({"state": model.state_dict(), "info": info}, tmp)
    os.replace(tmp, path)


def load(path: Path) -> TokenVAEstimator:
    d = torch.load(path, map_location="cpu", weights_only=True)
    m = TokenVAEstimator()
    m.load_state_dict(d["state"])
    m.eval()
    for q in m.parameters():
        q.requires_grad_(False)
    return m


def main(argv=None) -> int:
    from .sequences import build_sequences

    ap = argparse.ArgumentParser(description="pretrain the training-time VA estimator")
    ap.add_argument("--data")
    ap.add_argument("--out", default="runs/va_estimator.pt")
    a = ap.parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    seqs = build_sequences(a.data)
    model, info = train_estimator(seqs["train"][0], seqs["train"][1], seqs["val"][0], seqs["val"][1])
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    save(model, Path(a.out), info)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
