"""One self-contained folder with everything training reads, for a machine without the data.

    python -m engine.training.pack --out gpu_pack [--corpus bach,folk,classical,renaissance --cap 5000]
    synesthete train --pack gpu_pack --device cuda ...        # pairs (fine-tuning)
    synesthete train --pack gpu_pack --corpus all --device cuda ...   # corpus (pretraining)

A GPU machine lent for a few minutes has neither ``../shared/data``, the feature cache (300 MB)
nor music21. The pack holds the train and val pairs exactly as ``PairData.splits`` makes them
(the same pairing, seed and windows), the backbone feature maps of the pictures they use, the
pretraining corpus windows and the VA estimator — about 40 MB:

- ``pairs.npz``: per split, each pair's feature row, piece index and VA labels; each piece's
  windows (int16 tokens + offsets);
- ``fmaps.npz``: the feature maps as uint8 (``round(x / SCALE)``, compressed). EfficientNet-Lite0's
  last map is ReLU6 output, 0..6, 89% exact zeros; a step of 6/255 is far below what the
  encoder's first linear layer resolves, and zeros stay exact — so the compressed maps are a
  seventh of the float16 cache;
- ``corpus.npz``: the corpus windows per set; ``va_estimator.pt``; ``pack.json`` (what made it).
"""
from __future__ import annotations

import argparse
import json
import shutil
from functools import cached_property
from pathlib import Path

import numpy as np

from .dataset import data_dir
from .sequences import split_windows

PACK_VERSION = 1
SCALE = 6.0 / 255.0  # ReLU6 range in 255 steps


def build(out: Path, root: Path, corpus: str, block_size: int, estimator: Path, seed: int = 1337,
          capacity: int = 3, per_image: int = 2, backbone: str = "efficientnet_lite0", cap: int = 0) -> dict:
    """``cap`` > 0 keeps at most that many windows of each corpus set (evenly spaced), so one
    large set (Palestrina's masses) does not set the style of the whole pretraining."""
    from .corpus import load_windows
    from .dataset import list_hash
    from .feature_cache import load_features
    from .pairing import pair_pieces
    from .sequences import flatten_windows, piece_windows

    if backbone != "efficientnet_lite0":
        raise ValueError("the pack's uint8 maps assume a ReLU6 backbone (efficientnet_lite0)")
    out.mkdir(parents=True, exist_ok=True)
    features, index = load_features(backbone, root)
    pairs, by_path = pair_pieces(root, capacity, per_image, seed)
    used_pieces = sorted({pr.piece.path for s in ("train", "val") for pr in pairs[s]})
    used_images = sorted({pr.image.path for s in ("train", "val") for pr in pairs[s]})
    piece_id = {p: i for i, p in enumerate(used_pieces)}
    image_row = {p: i for i, p in enumerate(used_images)}
    arrays: dict[str, np.ndarray] = {}
    per_piece = [piece_windows(by_path[path], block_size) for path in used_pieces]
    arrays["win_tokens"], arrays["win_offsets"] = flatten_windows([w for ws in per_piece for w in ws])
    # piece i owns windows piece_wins[i]:piece_wins[i+1]
    arrays["piece_wins"] = np.concatenate([[0], np.cumsum([len(ws) for ws in per_piece])]).astype(np.int64)
    hashes = {}
    for s in ("train", "val"):
        prs = pairs[s]
        arrays[f"{s}_image"] = np.array([image_row[p.image.path] for p in prs], dtype=np.int32)
        arrays[f"{s}_piece"] = np.array([piece_id[p.piece.path] for p in prs], dtype=np.int32)
        arrays[f"{s}_piece_va"] = np.array([[p.piece.valence, p.piece.arousal] for p in prs], dtype=np.float32)
        arrays[f"{s}_image_va"] = np.array([[p.image.valence, p.image.arousal] for p in prs], dtype=np.float32)
        hashes[s] = list_hash([pr.image for pr in prs] + [pr.piece for pr in prs])
    np.savez_compressed(out / "pairs.npz", **arrays)
    fm = np.stack([np.asarray(features[index[p]], dtype=np.float32) for p in used_images])
    np.savez_compressed(out / "fmaps.npz", fmaps=np.clip(np.round(fm / SCALE), 0, 255).astype(np.uint8))
    sets = [s for s in corpus.split(",") if s]
    cz = {}
    for s in sets:
        wins = load_windows([s], block_size)
        if cap and len(wins) > cap:
            wins = [wins[i] for i in np.linspace(0, len(wins) - 1, cap).round().astype(int)]
        cz[f"{s}_tokens"], cz[f"{s}_offsets"] = flatten_windows(wins)
    np.savez_compressed(out / "corpus.npz", **cz)
    shutil.copyfile(estimator, out / "va_estimator.pt")
    meta = {"version": PACK_VERSION, "backbone": backbone, "block_size": block_size, "seed": seed,
            "pair_capacity": capacity, "pair_per_image": per_image, "corpus_sets": sets, "corpus_cap": cap, "data_hash": hashes,
            "pairs": {s: len(pairs[s]) for s in ("train", "val")}, "images": len(used_images),
            "pieces": len(used_pieces), "fmap_shape": list(fm.shape[1:])}
    (out / "pack.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


class Pack:
    """A pack folder read back: pair arrays, uint8 maps, corpus windows."""

    def __init__(self, folder: str | Path) -> None:
        self.dir = Path(folder)
        meta_p = self.dir / "pack.json"
        if not meta_p.exists():
            raise FileNotFoundError(f"{self.dir}: not a training pack (no pack.json); make one with python -m engine.training.pack")
        self.meta = json.loads(meta_p.read_text())
        if self.meta.get("version") != PACK_VERSION:
            raise ValueError(f"{self.dir}: pack version {self.meta.get('version')}, this code reads {PACK_VERSION}")
        with np.load(self.dir / "pairs.npz") as z:
            self.arrays = {k: z[k] for k in z.files}

    @cached_property
    def fmaps(self) -> np.ndarray:
        """The uint8 maps, 160 MB unpacked: read only when pair training asks."""
        with np.load(self.dir / "fmaps.npz") as z:
            return z["fmaps"]

    def fmap(self, rows: np.ndarray) -> np.ndarray:
        shape = self.meta["fmap_shape"]
        return self.fmaps[rows].astype(np.float32).reshape(len(rows), *shape) * SCALE

    @cached_property
    def piece_windows(self) -> list[list[np.ndarray]]:
        """Each packed piece's token windows (both splits draw on them)."""
        wins, starts = split_windows(self.arrays["win_tokens"], self.arrays["win_offsets"]), self.arrays["piece_wins"]
        return [wins[a:b] for a, b in zip(starts[:-1], starts[1:])]

    def corpus_windows(self, names: str) -> list[np.ndarray]:
        with np.load(self.dir / "corpus.npz") as z:
            have = sorted({k.rsplit("_", 1)[0] for k in z.files})
            sets = have if names == "all" else names.split(",")
            out: list[np.ndarray] = []
            for s in sets:
                if f"{s}_tokens" not in z.files:
                    raise ValueError(f"corpus set {s!r} is not in the pack (it has {', '.join(have)})")
                out += split_windows(z[f"{s}_tokens"], z[f"{s}_offsets"])
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="engine.training.pack", description="pack the training data for a machine without it")
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", help="data directory (default $SYNESTHETE_DATA or ../shared/data)")
    ap.add_argument("--corpus", default="bach,folk", help="music21 corpus sets to include (engine.training.corpus)")
    ap.add_argument("--block-size", type=int, default=512)
    ap.add_argument("--estimator", default="runs/va_estimator.pt")
    ap.add_argument("--cap", type=int, default=0, help="at most this many windows of each corpus set (0: all)")
    a = ap.parse_args(argv)
    meta = build(Path(a.out), data_dir(a.data), a.corpus, a.block_size, Path(a.estimator), cap=a.cap)
    size = sum(f.stat().st_size for f in Path(a.out).iterdir()) / 1e6
    print(json.dumps({**meta, "megabytes": round(size, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
