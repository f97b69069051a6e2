"""The two pop-piano corpora as pretraining windows: ``--corpus pop909,pop1k7`` (issue #24, item 1).

    python -m engine.training.song_corpus                        # tokenize both training splits (cache/corpus/)
    synesthete train --corpus pop909,pop1k7 --out runs/pre_pop   # pretrain the decoder on them

The songs come from ``engine.training.songs`` (parsed once, cached): the **training split only**
(``song_split.json``: POP909 761, Pop1K7 1467 songs), so the songs evaluation (docs/SONGS.md) stays on
songs the model never heard. A song is kept when its meter is 4/4 (the 16th grid and the 16-step token
bar); its notes, with their real velocities, go through the same path as every training piece
(``sequences.piece_windows``: moved to C major / A minor by the song's key, cut into bar-aligned windows
of up to 16 bars that overlap by half). POP909's melody, piano and bridge tracks are one piano part, as
the product plays one.

Transposition as augmentation would be undone by the key normalisation the representation rests on
(every piece is moved to C major / A minor before it is tokenized), so each song is seen once, in the
reference key; what grows is the music's range: about 160 hours of songs against about 10 of labelled
clips.

Cache: ``cache/corpus/<set>-songs-v<SONG_CORPUS_VERSION>-b<block>.npz`` + ``.json`` (counts), as
``engine.training.corpus`` keeps its sets.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dataset import cache_dir
from .sequences import piece_windows, read_window_cache, save_window_cache

SONG_CORPUS_VERSION = 1
SETS = ("pop909", "pop1k7")


@dataclass
class SongPiece:
    """What ``sequences.piece_windows`` reads: notes (pitch, velocity, start step, duration steps) and key."""

    notes: np.ndarray
    tonic: int
    mode: str


def cache_paths(set_name: str, block_size: int, limit: int = 0) -> tuple[Path, Path]:
    d = cache_dir() / "corpus"
    stem = f"{set_name}-songs-v{SONG_CORPUS_VERSION}-b{block_size}" + (f"-n{limit}" if limit else "")
    return d / f"{stem}.npz", d / f"{stem}.json"


def song_windows(song, block_size: int) -> list[np.ndarray]:
    """A 4/4 song's windows (none for another meter or a song without notes)."""
    if song.meter != "4/4" or not len(song.notes):
        return []
    tonic, mode = song.key
    return piece_windows(SongPiece(np.asarray(song.notes, dtype=np.int64), int(tonic), mode), block_size)


def build(set_name: str, block_size: int = 512, limit: int = 0, data: str | None = None) -> tuple[Path, dict]:
    """Tokenize one corpus's training split (its first ``limit`` songs if given) and cache the
    windows; returns (npz path, summary). Reuses a finished cache."""
    from .songs import corpus_dir, load_songs, split_ids

    if set_name not in SETS:
        raise ValueError(f"unknown song corpus {set_name!r}: use {', '.join(SETS)}")
    npz, meta = cache_paths(set_name, block_size, limit)
    if npz.exists() and meta.exists():
        return npz, json.loads(meta.read_text())
    ids = [i for i in split_ids("train") if i.startswith(set_name + "/")][: limit or None]
    windows: list[np.ndarray] = []
    kept = skipped = 0
    for song in load_songs(corpus_dir(data), ids):
        w = song_windows(song, block_size)
        kept, skipped = (kept + 1, skipped) if w else (kept, skipped + 1)
        windows += w
    summary = {"set": set_name, "split": "train", "songs": len(ids), "kept": kept, "skipped_not_4_4": skipped,
               "windows": len(windows), "tokens": int(sum(len(w) for w in windows))}
    save_window_cache(npz, meta, windows, summary)
    return npz, summary


def load_windows(set_name: str, block_size: int = 512, limit: int = 0) -> list[np.ndarray]:
    npz, _ = build(set_name, block_size, limit)
    return read_window_cache(npz)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.training.song_corpus", description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--block-size", type=int, default=512)
    ap.add_argument("--data", help="data directory (default: $SYNESTHETE_DATA or ../shared/data)")
    a = ap.parse_args(argv)
    for name in a.sets.split(","):
        name, _, n = name.partition(":")
        _, summary = build(name, a.block_size, int(n or 0), a.data)
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
