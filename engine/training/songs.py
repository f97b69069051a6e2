"""Whole songs from the two pretraining corpora (``<data>/corpus``, see its README): notes on the
16th grid with the bar lines, the melody, the form, the chords and the key.

    songs = load_songs(corpus_dir(), ["pop909/001", "pop1k7/src_002/111"])   # cached under cache/songs/
    python -m engine.training.songs --split all    # parse and cache all 2,486 songs (~100 s on one core, 25 MB)

A ``Song`` is on one grid: step 0 is the bar line at or before the song's first onset (so a
pickup sits in bar 0, and no note starts before step 0), 4 steps a beat, ``notes`` as in
``engine.training.dataset.Piece`` (pitch, velocity, start step, duration steps). ``bars`` are the
bar lines in steps, the last one closing the bar of the last onset; beat k is steps [4k, 4k+4)
and ``chords[k]`` the chord labelled on it.

POP909 (``pop909/NNN``): tempo-mapped sequenced MIDI, three tracks. Time comes from the dataset's
own beats: every note's onset in seconds (``engine.files.midi_io.read_midi``) becomes a fractional beat
index by interpolation between the times in ``beat_midi.txt`` (``engine.training.beats``; the
MIDI's ticks are not used, as the annotated beats sit off the tick grid, 40 ticks late in song
001) and is rounded to the 16th. Bar lines are the file's 4/4 downbeats (third column of
``beat_midi.txt``; the second marks the 2/4 measures the MIDI is notated in), extended by whole
bars before the first and after the last. They are not always 4 beats apart: 79% of the 4/4
songs have a bar of 2, 3, 5 or 6 beats somewhere (two a song on average; mostly a lone 2 or 6,
the pairing of 2/4 measures into 4/4 bars flipping by half a bar). Chord changes fall on these
downbeats more often than on a regular grid from the first one (57% against 53%), so the bar
lines are kept as annotated (``form_stats --uniform-bars`` measures on a regular grid instead).
``meter`` is ``"4/4"`` when at least 90% of the bars are 4 beats and the 2/4 measures are 2
beats, ``"3/4"`` when most measures are 3 beats (its bars are then the 3-beat measures), else
``"irregular"``; a "4/4" song with at least 12% of its onsets on a third of a beat
(``triplet_share``) is ``"compound"``: 6/8 or 12/8, which the 16th grid cannot hold (this finds all
23 songs ``index.xlsx`` gives 3 quavers a beat, and 2 of its 802 duple songs, 485 and 145, both
swung). ``index.xlsx``'s beats per measure and quavers per beat decide instead when ``openpyxl``
is installed. The melody is the ``MELODY`` track. The key is the first of
``analyzed_key.txt``; the chords, per beat, ``chord_midi.txt``'s label at the beat's middle.

POP909 form (``human_label1.txt``, e.g. ``i4A4B8A4...``: phrases with their length in bars;
upper case = melodic): the labels count bars of 16 16ths on the uniform grid of ``melody.txt``,
whose first line starts at (the MIDI melody's first onset − melody.txt's leading rest). Label
bar k starts there + 4k beats (3k in 3/4); each song bar takes the label bar whose start is
nearest its own bar line (halfway between two: the earlier; ``form`` holds None for bars outside
the labels, such as a pickup bar before them). Same-letter phrases are more alike on the labels'
own regular grid (mean melody bar cosine 0.73) than counted on the annotated downbeats (0.62), so
the labels were made on that grid; it meets the song's bar lines everywhere in only 23% of the
4/4 songs, and almost nowhere (half a bar off) in 15% (``info["form_on_bar_lines"]``).

Pop1K7 (``pop1k7/src_00K/N``): transcribed covers whose ticks are tracked beats (480 a beat):
start = ticks / 480, rounded to the 16th; bar lines every 4 beats from tick 0 (the corpus's
chord markers and bass onsets fall on those; tick 0 opens an empty bar, the music starts at bar 1
or with a pickup in bar 0). ``meter`` "4/4" (the corpus's pipeline assumes it). The chord on a
beat is the last ``root_quality_bass`` marker at or before it; the key is estimated
(``engine.music.keys.estimate_key``, duration-weighted); no melody, no form.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..music.chords import NO_CHORD, Chord, from_pop1k7, from_pop909, note_class, parse_chord
from ..events import NoteEvent
from ..generation.tokens import STEPS_PER_BEAT
from .song_split import corpus_dir, song_ids, split_ids  # noqa: F401  (where the songs are, and which)

CACHE_VERSION = 2
CORPORA = ("pop909", "pop1k7")
STEPS_PER_BAR = 4 * STEPS_PER_BEAT
FOUR_FOUR_SHARE = 0.9   # a 4/4 song: at least this share of its bars are 4 beats
TRIPLET_TOL = 0.04      # an onset within this many beats of a third of a beat is a triplet onset
COMPOUND_SHARE = 0.12   # POP909: this share of triplet onsets makes a song "compound" (not on the 16th grid)


@dataclass(frozen=True)
class FormLabel:
    """One bar's place in the song's form: the phrase's ``section`` letter as labelled (upper case
    = melodic: A, B, ...; lower case = not: i intro, x/b bridge-like, o outro), the phrase's index
    in the song (0-based), the bar within the phrase (0-based) and the phrase's length in bars."""

    section: str
    phrase: int
    bar: int
    length: int

    @property
    def melodic(self) -> bool:
        return self.section.isupper()


@dataclass
class Song:
    id: str                      # "pop909/001", "pop1k7/src_002/111"
    corpus: str
    notes: np.ndarray            # int32 (n, 4): pitch, velocity, start step, duration steps
    melody: np.ndarray | None    # bool (n,): the note is the melody's (POP909's MELODY track); None: unknown
    bars: np.ndarray             # int32 bar lines in steps, bars[0] = 0; bar b is [bars[b], bars[b+1])
    meter: str                   # "4/4", "3/4", "irregular"
    chords: list[Chord]          # per beat
    key: tuple[int, str]         # (tonic pitch class, "major" | "minor")
    key_source: str              # "analyzed_key.txt" or "estimated"
    tempo_bpm: float
    form: list[FormLabel | None] | None = None  # per bar (POP909)
    form_text: str = ""          # the label line as written
    triplet_share: float = 0.0   # share of onsets on a third of a beat
    info: dict = field(default_factory=dict)  # how the grid was found (for reports)

    @property
    def n_bars(self) -> int:
        return len(self.bars) - 1

    @property
    def four_four(self) -> bool:
        return self.meter == "4/4"

    @property
    def bar_lengths(self) -> np.ndarray:
        """Beats in each bar."""
        return np.diff(self.bars) / STEPS_PER_BEAT

    def events(self, first_bar: int = 0, bars: int | None = None, melody: bool | None = None) -> list[NoteEvent]:
        """The notes of bars [first_bar, first_bar + bars) as NoteEvents in beats from that bar's
        line, ends cut at the last bar line; ``melody`` True/False keeps only melody/other notes."""
        last = self.n_bars if bars is None else min(self.n_bars, first_bar + bars)
        lo, hi = int(self.bars[min(first_bar, self.n_bars)]), int(self.bars[last])
        out = []
        for i, (p, v, s, d) in enumerate(self.notes.tolist()):
            if not lo <= s < hi or (melody is not None and (self.melody is None or bool(self.melody[i]) != melody)):
                continue
            out.append(NoteEvent(p, v, (s - lo) / STEPS_PER_BEAT, (min(s + d, hi) - s) / STEPS_PER_BEAT))
        return out

    def bar_lines(self, first_bar: int = 0, bars: int | None = None) -> list[float]:
        """The bar lines (beats) of bars [first_bar, first_bar + bars), from that bar's line: the
        ``bars`` argument of engine.training.form_stats."""
        last = self.n_bars if bars is None else min(self.n_bars, first_bar + bars)
        b = self.bars[first_bar:last + 1]
        return [float(x - b[0]) / STEPS_PER_BEAT for x in b]


# --- paths and ids ------------------------------------------------------------------------

def song_files(root: Path, song_id: str) -> list[Path]:
    """The files a song is read from (its cache key hashes them)."""
    corpus, _, rest = song_id.partition("/")
    if corpus == "pop909":
        d = root / "pop909" / rest
        return [d / f"{rest}.mid"] + [d / n for n in ("beat_midi.txt", "chord_midi.txt", "human_label1.txt", "melody.txt", "analyzed_key.txt")]
    if corpus == "pop1k7":
        return [root / "pop1k7" / f"{rest}.mid"]
    raise ValueError(f"unknown song id {song_id!r}: expected pop909/NNN or pop1k7/src_00K/N")


# --- helpers ------------------------------------------------------------------------------

def _steps(beats: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(beats, float) * STEPS_PER_BEAT).astype(np.int64)


def triplet_share(onset_beats: np.ndarray) -> float:
    """Share of onsets whose place in the beat is within ``TRIPLET_TOL`` of 1/3 or 2/3 of it."""
    if not len(onset_beats):
        return 0.0
    f = np.mod(onset_beats, 1.0)
    return float(np.mean((np.abs(f - 1 / 3) < TRIPLET_TOL) | (np.abs(f - 2 / 3) < TRIPLET_TOL)))


def parse_form(text: str) -> list[tuple[str, int]]:
    """``"i4A4B8o3"`` → [("i", 4), ("A", 4), ("B", 8), ("o", 3)]; ValueError if it is not such a line."""
    s = re.sub(r"\s+", "", text)
    parts = re.findall(r"([A-Za-z])(\d+)", s)
    if not parts or "".join(f"{a}{n}" for a, n in parts) != s:
        raise ValueError(f"not a form label line: {text.strip()[:40]!r}")
    return [(a, int(n)) for a, n in parts]


def form_bars(phrases: Sequence[tuple[str, int]]) -> list[FormLabel]:
    """One FormLabel per labelled bar, in order."""
    return [FormLabel(sec, i, k, n) for i, (sec, n) in enumerate(phrases) for k in range(n)]


def _bar_lines(downbeats: np.ndarray, first: float, last: float, beats_per_bar: int = 4) -> np.ndarray:
    """Bar lines (beats) from annotated downbeats, extended by whole bars to cover [first, last]."""
    db = np.asarray(downbeats, float)
    if not len(db):
        db = np.array([0.0])
    before = np.arange(db[0] - beats_per_bar, first - beats_per_bar - 1e-9, -beats_per_bar)[::-1]
    after = np.arange(db[-1] + beats_per_bar, last + beats_per_bar + 1e-9, beats_per_bar)
    return np.concatenate([before, db, after])


def _frame(onsets_steps: np.ndarray, lines_steps: np.ndarray) -> tuple[int, np.ndarray]:
    """(origin, bar lines relative to it): the origin is the last bar line at or before the first
    onset; the lines kept run to the first one after the last onset."""
    s0, s1 = int(onsets_steps.min()), int(onsets_steps.max())
    lines = np.unique(lines_steps)
    origin = int(lines[lines <= s0].max())
    after = lines[lines > s1]
    end = int(after.min()) if len(after) else s1 + 1
    kept = lines[(lines >= origin) & (lines <= end)]
    return origin, (kept - origin).astype(np.int32)


def _meter_from_beats(col2: np.ndarray, col3: np.ndarray) -> str:
    """The meter from POP909's beat columns (downbeat indices of the notated measures and of 4/4)."""
    g2, g3 = np.diff(col2), np.diff(col3)
    if len(g2) and np.mean(g2 == 3) > 0.5:
        return "3/4"
    if len(g3) and np.mean(g3 == 4) >= FOUR_FOUR_SHARE and (not len(g2) or np.mean(g2 == 2) >= FOUR_FOUR_SHARE):
        return "4/4"
    return "irregular"


_INDEX: dict[Path, dict] = {}


def pop909_index(root: Path) -> dict[str, tuple[int, int]] | None:
    """song -> (beats per measure, quavers per beat) from ``pop909/index.xlsx``, if ``openpyxl``
    is installed (else None, and the meter comes from the beat file)."""
    try:
        import openpyxl
    except ImportError:
        return None
    if root not in _INDEX:
        out = {}
        wb = openpyxl.load_workbook(root / "pop909" / "index.xlsx", read_only=True)
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
        head = [str(h) for h in rows[0]]
        i, b, q = head.index("song_id"), head.index("num_beats_per_measure"), head.index("num_quavers_per_beat")
        for r in rows[1:]:
            if r[i] is not None:
                out[f"{int(r[i]):03d}"] = (int(r[b]), int(r[q]))
        _INDEX[root] = out
    return _INDEX[root] or None


def _meter_from_index(beats_per_measure: int, quavers_per_beat: int, beat_meter: str) -> str:
    if quavers_per_beat != 2:
        return "compound"
    if beats_per_measure == 3:
        return "3/4"
    return beat_meter if beat_meter != "3/4" else "irregular"


def _key(text: str) -> tuple[int, str] | None:
    """``"Gb:maj"`` → (6, "major")."""
    m = re.match(r"\s*([A-G][#b]?):(maj|min)", text)
    return (note_class(m.group(1)), "major" if m.group(2) == "maj" else "minor") if m else None


def _estimated_key(notes: np.ndarray) -> tuple[int, str]:
    from ..music.keys import estimate_key

    tonic, mode, _ = estimate_key(notes[:, 0], notes[:, 3]) if len(notes) else (0, "major", 0.0)
    return int(tonic), mode


def _chords_per_beat(segments: Sequence[tuple[float, float, Chord]], n_beats: int) -> list[Chord]:
    """Chord of each beat k of the song: the segment (start, end in song beats) holding k + 0.5."""
    starts = np.array([s for s, _, _ in segments], float)
    out = []
    for k in range(n_beats):
        i = int(np.searchsorted(starts, k + 0.5, side="right")) - 1
        out.append(segments[i][2] if i >= 0 and segments[i][1] > k + 0.5 else NO_CHORD)
    return out


# --- POP909 -------------------------------------------------------------------------------

def _melody_track(path: Path) -> tuple[set[tuple[int, int]], int]:
    """(tick, pitch) of every note-on in the track named MELODY, and the ticks per beat."""
    import mido

    mf = mido.MidiFile(path)
    on = set()
    for tr in mf.tracks:
        if tr.name.strip().upper() == "MELODY":
            tick = 0
            for msg in tr:
                tick += msg.time
                if msg.type == "note_on" and msg.velocity > 0:
                    on.add((tick, msg.note))
    return on, mf.ticks_per_beat


def read_pop909(root: Path, song_id: str) -> Song:
    from ..files.midi_io import read_midi
    from .beats import _beat_index

    num = song_id.partition("/")[2]
    d = root / "pop909" / num
    piece = read_midi(d / f"{num}.mid")
    beat = np.loadtxt(d / "beat_midi.txt", ndmin=2)
    times = beat[:, 0]
    col2, col3 = np.flatnonzero(beat[:, 1] == 1), np.flatnonzero(beat[:, 2] == 1)
    on_s = np.array([n.start_s for n in piece.notes])
    off_s = np.array([n.end_s for n in piece.notes])
    on_b, off_b = _beat_index(on_s, times), _beat_index(off_s, times)
    on_st, off_st = _steps(on_b), _steps(off_b)
    meter = _meter_from_beats(col2, col3)
    if meter == "4/4" and triplet_share(on_b) >= COMPOUND_SHARE:
        meter = "compound"
    info = {"meter_source": "beat_midi.txt"}
    index = pop909_index(root)
    if index and num in index:
        meter = _meter_from_index(*index[num], meter)
        info["meter_source"] = "index.xlsx"
    # bar lines: the 4/4 downbeats; a song in 3/4 has its 3/4 measures (column 2) as bars
    bpb, downbeats = (3, col2) if meter == "3/4" else (4, col3)
    lines = _steps(_bar_lines(downbeats, on_st.min() / STEPS_PER_BEAT, on_st.max() / STEPS_PER_BEAT, bpb))
    origin, bars = _frame(on_st, lines)
    pitch = np.array([n.pitch for n in piece.notes])
    vel = np.array([n.velocity for n in piece.notes])
    notes = np.stack([pitch, vel, on_st - origin, np.maximum(1, off_st - on_st)], axis=1).astype(np.int32)
    mel_on, tpb = _melody_track(d / f"{num}.mid")
    melody = np.array([(int(round(n.start_beat * tpb)), n.pitch) in mel_on for n in piece.notes], bool)

    info.update({"first_downbeat": int(downbeats[0]) if len(downbeats) else None, "origin_beat": origin / STEPS_PER_BEAT,
                 "odd_bars": int(np.sum(np.diff(bars) != bpb * STEPS_PER_BEAT))})

    n_beats = int(bars[-1]) // STEPS_PER_BEAT
    segments = []
    for line in (d / "chord_midi.txt").read_text().splitlines():
        f = line.split()
        if len(f) >= 3:
            a, b = _beat_index(np.array([float(f[0]), float(f[1])]), times) - origin / STEPS_PER_BEAT
            segments.append((float(a), float(b), from_pop909(f[2])))
    chords = _chords_per_beat(segments, n_beats)

    key_lines = [k for k in (d / "analyzed_key.txt").read_text().splitlines() if k.strip()] if (d / "analyzed_key.txt").exists() else []
    key = _key(key_lines[0]) if key_lines else None
    key_source = "analyzed_key.txt"
    if key is None:
        key, key_source = _estimated_key(notes), "estimated"
    info["keys"] = [k.strip() for k in key_lines]

    form, form_text = None, ""
    if (d / "human_label1.txt").exists() and (d / "melody.txt").exists() and melody.any():
        form_text = (d / "human_label1.txt").read_text().strip()
        try:
            labels = form_bars(parse_form(form_text))
        except ValueError:
            labels = []
        rest = 0
        for line in (d / "melody.txt").read_text().split("\n"):
            f = line.split()
            if len(f) < 2:
                continue
            if int(f[0]) != 0:
                break
            rest += int(f[1])
        zero = float(on_b[melody].min()) - rest / STEPS_PER_BEAT - origin / STEPS_PER_BEAT
        starts = bars[:-1] / STEPS_PER_BEAT
        k = np.floor((starts - zero) / bpb + 0.5 - 1e-9).astype(int)  # nearest; halfway: the earlier
        form = [labels[j] if 0 <= j < len(labels) else None for j in k.tolist()]
        info["form_zero_beat"] = round(zero, 3)
        info["form_bars"] = len(labels)
        off = (starts - zero) - k * bpb
        inside = (k >= 0) & (k < len(labels))
        info["form_on_bar_lines"] = float(np.mean(np.abs(off[inside]) < 0.125)) if inside.any() else 0.0

    tempo_txt = d / "tempo.txt"
    try:
        tempo = float(tempo_txt.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        tempo = piece.tempos[0][1] if piece.tempos else 120.0
    return Song(song_id, "pop909", notes, melody, bars, meter, chords, key, key_source, tempo, form, form_text,
                triplet_share(on_b), info)


# --- Pop1K7 -------------------------------------------------------------------------------

def _markers(path: Path) -> list[tuple[int, str]]:
    import mido

    out = []
    for tr in mido.MidiFile(path).tracks:
        tick = 0
        for msg in tr:
            tick += msg.time
            if msg.type == "marker":
                out.append((tick, msg.text))
    return sorted(out, key=lambda x: x[0])


def read_pop1k7(root: Path, song_id: str) -> Song:
    from ..files.midi_io import read_midi

    path = root / "pop1k7" / f"{song_id.partition('/')[2]}.mid"
    piece = read_midi(path)
    tpb = piece.ticks_per_beat
    on_b = np.array([n.start_beat for n in piece.notes])
    off_b = np.array([n.end_beat for n in piece.notes])
    on_st, off_st = _steps(on_b), _steps(off_b)
    lines = np.arange(0, on_st.max() + STEPS_PER_BAR + 1, STEPS_PER_BAR)
    origin, bars = _frame(on_st, lines)
    notes = np.stack([[n.pitch for n in piece.notes], [n.velocity for n in piece.notes],
                      on_st - origin, np.maximum(1, off_st - on_st)], axis=1).astype(np.int32)
    marks = _markers(path)
    tempo = next((float(t.split("_")[-1]) for _, t in marks if t.startswith("global_bpm_")), 120.0)
    chord_marks = [(tick / tpb - origin / STEPS_PER_BEAT, from_pop1k7(t)) for tick, t in marks if not t.startswith("global_bpm")]
    segments = [(s, (chord_marks[i + 1][0] if i + 1 < len(chord_marks) else float("inf")), c) for i, (s, c) in enumerate(chord_marks)]
    chords = _chords_per_beat(segments, int(bars[-1]) // STEPS_PER_BEAT)
    info = {"origin_beat": origin / STEPS_PER_BEAT, "odd_bars": 0, "meter_source": "corpus (4/4)"}
    return Song(song_id, "pop1k7", notes, None, bars, "4/4", chords, _estimated_key(notes), "estimated", tempo,
                None, "", triplet_share(on_b), info)


def read_song(root: Path, song_id: str) -> Song:
    """Parse one song (no cache)."""
    corpus = song_id.partition("/")[0]
    if corpus == "pop909":
        return read_pop909(root, song_id)
    if corpus == "pop1k7":
        return read_pop1k7(root, song_id)
    raise ValueError(f"unknown song id {song_id!r}: expected pop909/NNN or pop1k7/src_00K/N")


# --- cache --------------------------------------------------------------------------------

def _cache_key(root: Path, song_id: str) -> str:
    h = hashlib.sha1(f"{CACHE_VERSION}:{song_id}".encode())
    for p in song_files(root, song_id):
        h.update(p.name.encode())
        h.update(p.read_bytes() if p.exists() else b"-")
    return h.hexdigest()[:20]


def _to_cache(song: Song, path: Path) -> None:
    meta = {"id": song.id, "corpus": song.corpus, "meter": song.meter, "chords": [c.name for c in song.chords],
            "key": list(song.key), "key_source": song.key_source, "tempo": song.tempo_bpm,
            "form": None if song.form is None else [None if f is None else [f.section, f.phrase, f.bar, f.length] for f in song.form],
            "form_text": song.form_text, "triplet_share": song.triplet_share, "info": song.info}
    arrays = {"notes": song.notes, "bars": song.bars, "meta": np.array(json.dumps(meta))}
    if song.melody is not None:
        arrays["melody"] = song.melody
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _from_cache(path: Path) -> Song:
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        melody = z["melody"].astype(bool) if "melody" in z.files else None
        notes, bars = z["notes"].astype(np.int32), z["bars"].astype(np.int32)
    names: dict[str, Chord] = {}
    chords = [names.setdefault(n, parse_chord(n)) for n in meta["chords"]]
    form = None if meta["form"] is None else [None if f is None else FormLabel(*f) for f in meta["form"]]
    return Song(meta["id"], meta["corpus"], notes, melody, bars, meta["meter"], chords, tuple(meta["key"]),
                meta["key_source"], meta["tempo"], form, meta["form_text"], meta["triplet_share"], meta["info"])


def load_song(root: Path, song_id: str, cache: bool = True) -> Song:
    """A song, from ``cache/songs/`` when its files are unchanged (keyed by their content)."""
    from .dataset import cache_dir

    if not cache:
        return read_song(root, song_id)
    path = cache_dir() / "songs" / f"{_cache_key(root, song_id)}.npz"
    if path.exists():
        try:
            return _from_cache(path)
        except (OSError, ValueError, KeyError):
            pass  # a damaged entry is rebuilt
    song = read_song(root, song_id)
    _to_cache(song, path)
    return song


def load_songs(root: Path, ids: Iterable[str], cache: bool = True, progress: bool = False) -> list[Song]:
    ids = list(ids)
    it: Iterable[str] = ids
    if progress:
        try:
            from tqdm import tqdm

            it = tqdm(ids, desc="songs", unit="song", leave=False)
        except ImportError:
            pass
    return [load_song(root, i, cache) for i in it]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="engine.training.songs", description="parse (and cache) the corpora's songs")
    ap.add_argument("--data", help="data directory (default: $SYNESTHETE_DATA or ../shared/data)")
    ap.add_argument("--split", choices=("train", "val", "test", "all"), default="test")
    ap.add_argument("--corpus", choices=CORPORA)
    ap.add_argument("--no-cache", action="store_true")
    a = ap.parse_args(argv)
    root = corpus_dir(a.data)
    ids = song_ids(root, a.corpus) if a.split == "all" else split_ids(a.split, a.corpus)
    t0 = time.perf_counter()
    songs = load_songs(root, ids, cache=not a.no_cache, progress=sys.stderr.isatty())
    dt = time.perf_counter() - t0
    for corpus in CORPORA:
        cs = [s for s in songs if s.corpus == corpus]
        if cs:
            meters = {m: sum(s.meter == m for s in cs) for m in sorted({s.meter for s in cs})}
            print(f"{corpus}: {len(cs)} songs, {sum(len(s.notes) for s in cs)} notes, {sum(s.n_bars for s in cs)} bars, meters {meters}")
    print(f"{len(songs)} songs in {dt:.1f} s ({1000 * dt / max(1, len(songs)):.0f} ms a song)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
