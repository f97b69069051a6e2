"""Frozen-backbone feature maps of every labelled image, computed once and cached.

    python -m engine.training.feature_cache --backbone efficientnet_lite0 [--data PATH]

Writes ``cache/features/<backbone>.npy`` (float16, N x C x H x W, images.csv order) and
``<backbone>.json`` (the paths, so a changed images.csv is detected). Resumable: work is
saved in chunks and a rerun continues where it stopped.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from .dataset import cache_dir, data_dir, read_images
from ..picture.images import load_image, preprocess

CHUNK = 64


def cache_paths(backbone: str) -> tuple[Path, Path]:
    d = cache_dir() / "features"
    return d / f"{backbone}.npy", d / f"{backbone}.json"


def load_features(backbone: str, root: Path) -> tuple[np.ndarray, dict[str, int]]:
    """(features array, path → row) for the images of ``root``; raises if not computed yet."""
    arr_p, idx_p = cache_paths(backbone)
    if not arr_p.exists():
        raise FileNotFoundError(f"no cached {backbone} features: run python -m engine.training.feature_cache --backbone {backbone}")
    paths = json.loads(idx_p.read_text())["paths"]
    wanted = [it.path for it in read_images(root)]
    if paths != wanted:
        raise ValueError(f"cached {backbone} features are for a different images.csv; delete {arr_p} and recompute")
    return np.load(arr_p, mmap_mode="r"), {p: i for i, p in enumerate(paths)}


def compute(backbone: str, root: Path, threads: int | None = None) -> Path:
    import torch
    from tqdm import tqdm

    from .backbones import SPECS, build_backbone

    if threads:
        torch.set_num_threads(threads)
    spec = SPECS[backbone]
    items = read_images(root)
    arr_p, idx_p = cache_paths(backbone)
    if arr_p.exists() and idx_p.exists() and json.loads(idx_p.read_text()).get("paths") == [it.path for it in items]:
        return arr_p  # already computed for this images.csv
    arr_p.parent.mkdir(parents=True, exist_ok=True)
    part_dir = arr_p.parent / f"{backbone}.parts"
    part_dir.mkdir(exist_ok=True)
    net = build_backbone(backbone)
    n_chunks = (len(items) + CHUNK - 1) // CHUNK
    for c in tqdm(range(n_chunks), desc=f"{backbone} features", unit="chunk"):
        part = part_dir / f"{c:05d}.npy"
        if part.exists():
            continue
        batch = items[c * CHUNK:(c + 1) * CHUNK]
        x = np.concatenate([preprocess(load_image(root / it.path), spec.size, spec.mean, spec.std) for it in batch])
        with torch.no_grad():
            feats = net(torch.from_numpy(x)).numpy().astype(np.float16)
        tmp = part.with_suffix(".tmp.npy")
        np.save(tmp, feats)
        os.replace(tmp, part)
    full = np.concatenate([np.load(part_dir / f"{c:05d}.npy") for c in range(n_chunks)])
    tmp = arr_p.with_suffix(".tmp.npy")
    np.save(tmp, full)
    os.replace(tmp, arr_p)
    idx_p.write_text(json.dumps({"backbone": backbone, "paths": [it.path for it in items]}))
    for f in part_dir.iterdir():
        f.unlink()
    part_dir.rmdir()
    return arr_p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="cache frozen backbone features of all labelled images")
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--data")
    ap.add_argument("--threads", type=int)
    a = ap.parse_args(argv)
    print(compute(a.backbone, data_dir(a.data), a.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
