"""The fixed train / validation / test split of the pretraining corpora, by song.

    split_ids("test")                      # every test song id, POP909 then Pop1K7
    split_ids("train", "pop909")
    split_of("pop909/001")                 # "train" (read from song_split.json)
    python -m engine.training.song_split --check    # the committed file matches the rule and the data
    python -m engine.training.song_split --write    # rewrite it (only if the corpora change)

Rule: a song's split comes from a hash of its id, so it never moves when songs are added or
removed: h = int(sha1("synesthete-song-split:" + id)) mod 1000; train if h < 900, validation if
h < 950, else test (90 / 5 / 5, each corpus on its own). Duplicates share a split: songs whose
content is the same (POP909 017 and 018 are one song, the same melody line in two arrangements;
Pop1K7 src_004/889 and src_004/1737 are the same file) are hashed by the first id of their group,
so a test song never has a copy in training.

The split is written down in ``song_split.json`` beside this file (committed): per corpus, the
ids of each split, sorted, and the duplicate groups. The corpora themselves stay outside the
repository.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterable

SPLIT_FILE = Path(__file__).with_name("song_split.json")
SPLITS = ("train", "val", "test")
CORPORA = ("pop909", "pop1k7")
SALT = "synesthete-song-split:"
TRAIN, VAL = 900, 950  # of 1000 hash buckets


def bucket(song_id: str) -> int:
    return int(hashlib.sha1((SALT + song_id).encode()).hexdigest(), 16) % 1000


def split_by_rule(song_id: str, groups: Iterable[Iterable[str]] = ()) -> str:
    """The split the rule gives ``song_id`` (hashed by the first id of its duplicate group)."""
    for g in groups:
        g = sorted(g)
        if song_id in g:
            song_id = g[0]
            break
    h = bucket(song_id)
    return "train" if h < TRAIN else "val" if h < VAL else "test"


def make_split(ids: Iterable[str], groups: Iterable[Iterable[str]] = ()) -> dict:
    """{corpus: {"train": [...], "val": [...], "test": [...], "duplicates": [[...], ...]}}."""
    groups = [sorted(g) for g in groups]
    out: dict = {}
    for sid in sorted(ids):
        corpus = sid.partition("/")[0]
        entry = out.setdefault(corpus, {s: [] for s in SPLITS} | {"duplicates": []})
        entry[split_by_rule(sid, groups)].append(sid)
    for g in groups:
        if g and g[0].partition("/")[0] in out:
            out[g[0].partition("/")[0]]["duplicates"].append(g)
    return out


@lru_cache(maxsize=1)
def load_split(path: Path = SPLIT_FILE) -> dict:
    return json.loads(Path(path).read_text())


def split_ids(split: str, corpus: str | None = None) -> list[str]:
    """The ids of one split (``train``, ``val``, ``test``), of one corpus or both."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} (received {split!r})")
    data = load_split()
    return [sid for c in CORPORA if corpus in (None, c) for sid in data.get(c, {}).get(split, [])]


def split_of(song_id: str) -> str | None:
    """The committed split of a song, or None if the file does not list it."""
    data = load_split()
    for s in SPLITS:
        if song_id in data.get(song_id.partition("/")[0], {}).get(s, []):
            return s
    return None


# --- the songs there are ------------------------------------------------------------------

def corpus_dir(cli_value: str | None = None) -> Path:
    """``<data>/corpus`` (the data directory as ``engine.training.dataset.data_dir`` finds it)."""
    from .dataset import data_dir

    p = data_dir(cli_value) / "corpus"
    if not (p / "pop909").is_dir() or not (p / "pop1k7").is_dir():
        raise FileNotFoundError(f"{p}: no pop909/ and pop1k7/ corpora here (see the data README)")
    return p


def song_ids(root: Path, corpus: str | None = None) -> list[str]:
    """Every song id under ``root`` (a corpus directory), sorted: ``pop909/NNN`` (folders holding
    NNN.mid), ``pop1k7/src_00K/N`` (by number)."""
    out = []
    if corpus in (None, "pop909"):
        out += [f"pop909/{d.name}" for d in sorted((root / "pop909").iterdir()) if (d / f"{d.name}.mid").is_file()]
    if corpus in (None, "pop1k7"):
        files = sorted((root / "pop1k7").glob("*/*.mid"), key=lambda p: (p.parent.name, int(p.stem) if p.stem.isdigit() else 0, p.stem))
        out += [f"pop1k7/{p.parent.name}/{p.stem}" for p in files]
    return out



# --- finding duplicates (for --write) -----------------------------------------------------

def duplicate_groups(root: Path) -> list[list[str]]:
    """Groups of songs with the same content: POP909 songs with the same melody line
    (``melody.txt`` pitches, rests left out), Pop1K7 files with the same bytes."""
    seen: dict[tuple[str, str], list[str]] = {}
    for sid in song_ids(root):
        corpus, _, rest = sid.partition("/")
        if corpus == "pop909":
            lines = (root / "pop909" / rest / "melody.txt").read_text().split("\n")
            pitches = [f.split()[0] for f in lines if f.split() and f.split()[0] != "0"]
            digest = hashlib.sha1(" ".join(pitches).encode()).hexdigest()
        else:
            digest = hashlib.sha1((root / "pop1k7" / f"{rest}.mid").read_bytes()).hexdigest()
        seen.setdefault((corpus, digest), []).append(sid)
    return [sorted(g) for g in seen.values() if len(g) > 1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="engine.training.song_split", description="the corpora's fixed split by song")
    ap.add_argument("--data", help="data directory (default: $SYNESTHETE_DATA or ../shared/data)")
    ap.add_argument("--write", action="store_true", help=f"rewrite {SPLIT_FILE.name} from the corpora")
    ap.add_argument("--check", action="store_true", help="check the committed file against the rule and the corpora")
    a = ap.parse_args(argv)
    root = corpus_dir(a.data)
    fresh = make_split(song_ids(root), duplicate_groups(root))
    if a.write:
        SPLIT_FILE.write_text(json.dumps(fresh, indent=1) + "\n")
        load_split.cache_clear()
    elif a.check and fresh != load_split():
        print(f"{SPLIT_FILE.name} differs from the corpora under {root}: run --write if they changed", file=sys.stderr)
        return 1
    for corpus, entry in fresh.items():
        print(f"{corpus}: " + ", ".join(f"{s} {len(entry[s])}" for s in SPLITS) + f"; {len(entry['duplicates'])} duplicate group(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
