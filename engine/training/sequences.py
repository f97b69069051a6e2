"""Training sequences: quantized pieces → key-normalised bar-aligned token crops, and pairs.

Each piece that passed the beat-tracking check is transposed to C major / A minor (see
``engine.music.keys``) and cut into windows that start on a bar line and hold as many whole bars
as fit in the block size (stride: half a window), each encoded as ``BOS Mode Bar ...`` —
the same shape the generator sees when it slides its window in long pieces.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataset import Piece, data_dir, load_pieces, read_midis
from ..music.keys import shift_to_reference
from ..generation.tokens import PAD, STEPS_PER_BAR, GridNote, encode


@dataclass
class Crops:
    piece: Piece
    windows: list[np.ndarray]  # int64 token arrays, each ≤ block_size


def piece_windows(piece: Piece, block_size: int, max_bars: int = 16) -> list[np.ndarray]:
    shift = shift_to_reference(piece.tonic, piece.mode)
    notes = piece.notes
    n_bars = int(notes[:, 2].max()) // STEPS_PER_BAR + 1
    by_bar = [[] for _ in range(n_bars)]
    for p, v, s, d in notes.tolist():
        by_bar[s // STEPS_PER_BAR].append(GridNote(p + shift, v, s % STEPS_PER_BAR, d))
    out = []
    b = 0
    while b < n_bars:
        k = min(max_bars, n_bars - b)
        while True:
            gn = [GridNote(n.pitch, n.velocity, n.start + i * STEPS_PER_BAR, n.duration) for i in range(k) for n in by_bar[b + i]]
            toks = encode(gn, piece.mode, add_eos=(b + k == n_bars))
            if len(toks) <= block_size or k == 1:
                break
            k = max(1, k // 2) if len(toks) > 2 * block_size else k - 1
        out.append(np.asarray(toks[:block_size], dtype=np.int64))
        if b + k >= n_bars:
            break
        b += max(1, k // 2)
    return out


def flatten_windows(windows) -> tuple[np.ndarray, np.ndarray]:
    """Token windows → (all their tokens as int16, offsets), the compact form caches and packs
    store: window i is ``tokens[offsets[i]:offsets[i + 1]]`` (``split_windows`` reads it back)."""
    lengths = np.array([len(w) for w in windows], dtype=np.int64)
    tokens = np.concatenate(windows).astype(np.int16) if len(windows) else np.zeros(0, np.int16)
    return tokens, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def split_windows(tokens: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    toks = np.asarray(tokens, dtype=np.int64)
    return [toks[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def save_window_cache(npz, meta, windows, summary: dict) -> None:
    """A corpus set's windows (``flatten_windows``) to ``npz`` and its ``summary`` to ``meta``; the
    npz appears whole (written beside, then renamed), and the summary last, so a cache with both
    files is finished."""
    import json
    import os

    npz.parent.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_name(npz.stem + ".part.npz")
    tokens, offsets = flatten_windows(windows)
    np.savez(tmp, tokens=tokens, offsets=offsets)
    os.replace(tmp, npz)
    meta.write_text(json.dumps(summary, indent=1) + "\n")


def read_window_cache(npz) -> list[np.ndarray]:
    """The windows ``save_window_cache`` stored."""
    with np.load(npz) as z:
        return split_windows(z["tokens"], z["offsets"])


def pad(seqs: list[np.ndarray], length: int | None = None) -> np.ndarray:
    length = length or max(len(s) for s in seqs)
    out = np.full((len(seqs), length), PAD, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : min(len(s), length)] = s[:length]
    return out


def usable_pieces(root, items=None) -> list[Piece]:
    items = items or read_midis(root)
    return [p for p in load_pieces(root, items) if p.ok and len(p.notes) >= 8]


def build_sequences(data: str | None = None, block_size: int = 256):
    """Per split: (padded first-window tokens as a torch tensor, VA labels) — for the estimator."""
    import torch

    root = data_dir(data)
    out = {}
    pieces = usable_pieces(root)
    for split in ("train", "val", "test"):
        ps = [p for p in pieces if p.item.split == split]
        seqs, va = [], []
        for p in ps:
            for w in piece_windows(p, block_size, max_bars=8)[:4]:
                seqs.append(w)
                va.append([p.item.valence, p.item.arousal])
        out[split] = (torch.from_numpy(pad(seqs)), torch.tensor(va, dtype=torch.float32))
    return out
