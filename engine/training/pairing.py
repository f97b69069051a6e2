"""Image-MIDI pairs by VA similarity, the paper's ~3000 pairs made reproducible.

Plain nearest neighbours collapses: EMOPIA's VA sit on four points (±0.5, ±0.5), so almost
every image's nearest piece is one of a few VGMIDI pieces. Instead we solve a
**capacity-limited assignment**: every image may take up to ``per_image`` pieces, every
piece may serve at most ``capacity`` images, and the total Euclidean VA distance is
minimal in each round (Hungarian algorithm on capacity-expanded columns,
``scipy.optimize.linear_sum_assignment``; round k gives each image its k-th piece).
Ties — frequent, since EMOPIA pieces share VA — are broken by a seeded jitter far below any
real distance difference, so the result is deterministic for a seed. Pairing runs within a
split only, so a test image is never paired with a train piece.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataset import ImageItem, MidiItem


@dataclass(frozen=True)
class Pair:
    image: ImageItem
    piece: MidiItem

    @property
    def distance(self) -> float:
        return float(np.hypot(self.image.valence - self.piece.valence, self.image.arousal - self.piece.arousal))


def _va(items) -> np.ndarray:
    return np.array([[it.valence, it.arousal] for it in items], dtype=np.float64).reshape(-1, 2)


def pair_split(images: list[ImageItem], pieces: list[MidiItem], *, capacity: int = 3, per_image: int = 2, seed: int = 0) -> list[Pair]:
    """Minimum-total-distance pairs with each piece used at most ``capacity`` times."""
    from scipy.optimize import linear_sum_assignment

    if not images or not pieces:
        return []
    splits = {it.split for it in images} | {m.split for m in pieces}
    if len(splits) > 1:
        raise ValueError(f"pairing mixes splits {sorted(splits)}; pair each split on its own")
    rng = np.random.default_rng(seed)
    d = np.linalg.norm(_va(images)[:, None, :] - _va(pieces)[None, :, :], axis=-1)
    d = d + rng.uniform(0, 1e-6, size=d.shape)  # seeded tie-breaks
    left = np.full(len(pieces), capacity)
    taken = np.zeros(d.shape, dtype=bool)
    pairs = []
    # Round k gives every image its k-th piece (while capacity lasts), so images get a
    # first piece before any image gets a second, and no image gets the same piece twice.
    for _ in range(per_image):
        cols = np.repeat(np.arange(len(pieces)), left)
        if len(cols) == 0:
            break
        cost = np.where(taken[:, cols], 1e6, d[:, cols])
        r, c = linear_sum_assignment(cost)
        for ii, ci in zip(r, c):
            if cost[ii, ci] >= 1e6:
                continue
            pi = cols[ci]
            taken[ii, pi] = True
            left[pi] -= 1
            pairs.append(Pair(images[ii], pieces[pi]))
    pairs.sort(key=lambda p: (p.image.path, p.piece.path))
    return pairs


def pair_pieces(root, capacity: int, per_image: int, seed: int) -> tuple[dict, dict]:
    """What training pairs: ``make_pairs`` over the labelled images and the usable pieces of
    ``root``, and those pieces by path (their notes make the token windows)."""
    from .dataset import read_images
    from .sequences import usable_pieces

    pieces = usable_pieces(root)
    pairs = make_pairs(read_images(root), [p.item for p in pieces], capacity=capacity, per_image=per_image, seed=seed)
    return pairs, {p.item.path: p for p in pieces}


def make_pairs(images: list[ImageItem], pieces: list[MidiItem], *, capacity: int = 3, per_image: int = 2, seed: int = 0) -> dict[str, list[Pair]]:
    out = {}
    for split in ("train", "val", "test"):
        out[split] = pair_split([i for i in images if i.split == split], [m for m in pieces if m.split == split], capacity=capacity, per_image=per_image, seed=seed)
    return out


def pairing_stats(pairs: list[Pair], seed: int = 0) -> dict:
    """Pieces used, highest reuse, mean VA distance of the pairs vs random pairs of the same items."""
    if not pairs:
        return {"pairs": 0}
    from collections import Counter

    uses = Counter(p.piece.path for p in pairs)
    rng = np.random.default_rng(seed)
    imgs = _va([p.image for p in pairs])
    pcs = _va([p.piece for p in pairs])
    rand = float(np.linalg.norm(imgs - pcs[rng.permutation(len(pcs))], axis=1).mean())
    return {
        "pairs": len(pairs),
        "images": len({p.image.path for p in pairs}),
        "pieces_used": len(uses),
        "max_reuse": max(uses.values()),
        "mean_distance": float(np.mean([p.distance for p in pairs])),
        "random_distance": rand,
    }


def nearest_neighbour_stats(images: list[ImageItem], pieces: list[MidiItem]) -> dict:
    """What plain nearest neighbours would do (for the report): pieces used and highest reuse."""
    from collections import Counter

    d = np.linalg.norm(_va(images)[:, None, :] - _va(pieces)[None, :, :], axis=-1)
    uses = Counter(d.argmin(axis=1).tolist())
    return {"pieces_used": len(uses), "max_reuse": max(uses.values()) if uses else 0}
