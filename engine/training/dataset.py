"""The labelled data: ``images.csv`` and ``midi.csv`` under a data directory (never committed).

Data directory: ``--data``, else ``$SYNESTHETE_DATA``, else ``../shared/data`` relative to the
repository root. Pieces are beat-tracked/quantized once and cached as JSON under
``cache/`` (ignored by git; ``$SYNESTHETE_CACHE`` moves it), keyed by the file's content.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]  # engine/training/dataset.py → the checkout
SPLITS = ("train", "val", "test")


def data_dir(cli_value: str | None = None) -> Path:
    raw = cli_value or os.environ.get("SYNESTHETE_DATA") or str(REPO_ROOT.parent / "shared" / "data")
    p = Path(raw).expanduser()
    if not (p / "images.csv").is_file() or not (p / "midi.csv").is_file():
        raise FileNotFoundError(f"{p}: not a Synesthete data directory (needs images.csv and midi.csv); use --data or $SYNESTHETE_DATA")
    return p.resolve()


@dataclass(frozen=True)
class ImageItem:
    path: str
    source: str
    valence: float
    arousal: float
    category: str
    split: str


@dataclass(frozen=True)
class MidiItem:
    path: str
    source: str
    valence: float
    arousal: float
    quadrant: int
    split: str

    @property
    def performance(self) -> bool:
        """EMOPIA clips are transcribed performances; everything else is sequenced."""
        return self.source == "emopia"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_images(root: Path) -> list[ImageItem]:
    return [ImageItem(r["path"], r["source"], float(r["valence"]), float(r["arousal"]), r["category"], r["split"]) for r in _rows(root / "images.csv")]


def read_midis(root: Path) -> list[MidiItem]:
    return [MidiItem(r["path"], r["source"], float(r["valence"]), float(r["arousal"]), int(r["quadrant"]), r["split"]) for r in _rows(root / "midi.csv")]


def list_hash(items) -> str:
    """Short hash of a list of (path, split) entries: identifies the training data of a model."""
    h = hashlib.sha256()
    for it in items:
        h.update(f"{it.path}\t{it.split}\t{it.valence}\t{it.arousal}\n".encode())
    return h.hexdigest()[:16]


# --- quantized pieces, cached -------------------------------------------------------------

def cache_dir() -> Path:
    """Where quantized pieces and backbone features are cached (``$SYNESTHETE_CACHE`` or cache/)."""
    return Path(os.environ.get("SYNESTHETE_CACHE") or REPO_ROOT / "cache")
CACHE_VERSION = 3  # 3: performances start in bar 1 (engine.training.beats)


@dataclass
class Piece:
    item: MidiItem
    notes: np.ndarray  # int32 (n, 4): pitch, velocity, start step, duration steps
    tempo_bpm: float
    error_ms: np.ndarray
    ok: bool
    reason: str
    mode: str  # "major" / "minor" (estimated)
    tonic: int  # estimated tonic pitch class


def _cache_key(root: Path, item: MidiItem) -> str:
    # by content, not mtime: a re-copied or re-checked-out data set keeps its cache
    digest = hashlib.sha1((root / item.path).read_bytes()).hexdigest()
    return hashlib.sha1(f"{CACHE_VERSION}:{item.path}:{digest}".encode()).hexdigest()[:20]


def load_piece(root: Path, item: MidiItem, cache: bool = True) -> Piece:
    from .beats import quantize
    from ..music.keys import estimate_key
    from ..files.midi_io import read_midi

    cpath = cache_dir() / "pieces" / f"{_cache_key(root, item)}.json"
    if cache and cpath.exists():
        d = json.loads(cpath.read_text())
        return Piece(item, np.asarray(d["notes"], dtype=np.int32).reshape(-1, 4), d["tempo"], np.asarray(d["err"]), d["ok"], d["reason"], d["mode"], d["tonic"])
    q = quantize(read_midi(root / item.path), performance=item.performance)
    arr = np.array([[n.pitch, n.velocity, n.start, n.duration] for n in q.notes], dtype=np.int32).reshape(-1, 4)
    tonic, mode, _ = estimate_key(arr[:, 0], arr[:, 3]) if len(arr) else (0, "major", 0.0)
    piece = Piece(item, arr, q.tempo_bpm, q.error_ms, q.ok, q.reason, mode, tonic)
    if cache:
        cpath.parent.mkdir(parents=True, exist_ok=True)
        tmp = cpath.with_suffix(".part")
        tmp.write_text(json.dumps({"notes": arr.tolist(), "tempo": q.tempo_bpm, "err": np.round(q.error_ms, 2).tolist(), "ok": q.ok, "reason": q.reason, "mode": mode, "tonic": tonic}))
        os.replace(tmp, cpath)
    return piece


def load_pieces(root: Path, items: list[MidiItem], progress: bool = True) -> list[Piece]:
    it = items
    if progress:
        try:
            from tqdm import tqdm

            it = tqdm(items, desc="pieces", unit="file", leave=False)
        except ImportError:
            pass
    return [load_piece(root, m) for m in it]
