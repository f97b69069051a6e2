"""Build a listening pack: what the model plays for a fixed set of test pictures, by ear and by eye.

    python scripts/listening_pack.py [--out docs/listening] [--data D] [--model-dir M]
                                     [--per-quadrant 2] [--bars 8] [--song-bars 32] [--format ogg|flac|wav]

For each Russell quadrant, the ``--per-quadrant`` test pictures (images.csv, split "test")
whose labelled VA lies deepest inside the quadrant (min(|v|, |a|), then distance from the
centre, then path; one per category while others remain; graphic or explicit OASIS themes
left out, see ``DEFAULT_SKIP`` and ``--skip``), one piece each from the shipped model (or
``--model-dir``) with default settings (seed 0, temperature 1.0, top-p 0.95, intensity 1.5, key auto, tempo
from arousal), conditioned on the picture's labelled VA (``--va picture``: on the VA the model reads from it, as the app does).
Beside them, for comparison, the first ``--bars`` bars of one real test piece per quadrant
(chosen the same way), at its tracked tempo.

Songs: for the first picture of each quadrant, a ``--song-bars`` piece (32 bars by default, form
auto: a real song's form, its sections drawn over the piano roll), and beside them the first
``--song-bars`` bars (from the first downbeat) of the first two test-split songs of POP909 and of
Pop1K7 in 4/4 (``engine/training/song_split.json``), POP909's labelled form drawn the same way.

Per piece the pack holds a ``.mid``, a piano-roll ``.png`` (pitch against beats, bar lines,
velocity as opacity) and audio rendered by ``synesthete render`` (FluidSynth) with a General MIDI soundfont
(Debian's fluid-soundfont-gm, ``--soundfont``), at one fixed gain so loudness differences are
the music's own; with sox the audio is mono 22.05 kHz Ogg Vorbis (or FLAC), without it mono
22.05 kHz WAV. Peak and RMS levels are printed (and ``sox stat`` when sox exists); the index
is ``README.md`` in ``--out``.
"""
from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.events import BEATS_PER_BAR, QUADRANT_NAMES, VA, NoteEvent, quadrant  # noqa: E402

SOUNDFONT = None  # engine.files.audio.find_soundfont: $SYNESTHETE_SOUNDFONT or the system GM SoundFont
RATE = 22050
# OASIS themes a public docs page should not show (graphic, explicit or hateful), by file name
DEFAULT_SKIP = ("nude", "bdsm", "dead_bodies", "carcass", "injury", "severed", "bloody", "surgery", "tumor",
                "feces", "torture", "kkk", "neonazi", "skinhead", "car_accident", "car_crash", "plane_crash",
                "shot_", "shooting", "child_labor", "dog_attack", "war_", "funeral", "gun_", "weapon")
ROLL_LOW, ROLL_HIGH = 24, 102   # the piano roll's pitch axis, widened when notes leave it


# --- choosing what goes in ----------------------------------------------------------------

def depth(v: float, a: float) -> float:
    """How clearly a VA point lies in its quadrant: min(|v|, |a|), its distance from the nearest
    axis (a point far from the centre but on an axis, like (−0.95, −0.07), is nearly in two)."""
    return min(abs(v), abs(a))


def skipped(path: str, patterns) -> bool:
    name = Path(path).name.lower()
    return any(p.lower() in name for p in patterns)


def pick_pictures(images, per_quadrant: int, skip=()):
    """Test pictures per quadrant, deepest inside it first (``depth``), then farthest from the
    centre, then by path; a (source, category) already picked in the quadrant is passed over while
    others remain; file names containing a ``skip`` pattern are left out."""
    out = []
    for q in (1, 2, 3, 4):
        cands = sorted((im for im in images if im.split == "test" and quadrant(im.valence, im.arousal) == q and not skipped(im.path, skip)),
                       key=lambda im: (-depth(im.valence, im.arousal), -math.hypot(im.valence, im.arousal), im.path))
        chosen, seen = [], set()
        for im in cands:
            if len(chosen) < per_quadrant and (im.source, im.category) not in seen:
                chosen.append(im)
                seen.add((im.source, im.category))
        chosen += [im for im in cands if im not in chosen][: per_quadrant - len(chosen)]
        out += [(q, k + 1, im) for k, im in enumerate(chosen)]
    return out


def pick_real(root: Path, bars: int):
    """One real test piece per quadrant (deepest label inside it, ``depth``, then farthest from the
    centre, then by path) with at least 8 notes in its first ``bars`` bars: (quadrant, item,
    notes in beats, tempo)."""
    from engine.training.dataset import read_midis
    from engine.training.musicality import clip
    from engine.training.sequences import usable_pieces

    pieces = usable_pieces(root, [m for m in read_midis(root) if m.split == "test"])
    out = []
    for q in (1, 2, 3, 4):
        cands = sorted((p for p in pieces if quadrant(p.item.valence, p.item.arousal) == q),
                       key=lambda p: (-depth(p.item.valence, p.item.arousal), -math.hypot(p.item.valence, p.item.arousal), p.item.path))
        for p in cands:
            notes = clip([NoteEvent(int(a), int(b), c / 4, d / 4) for a, b, c, d in p.notes], bars)
            if len(notes) >= 8:
                out.append((q, p.item, notes, float(min(300.0, max(20.0, p.tempo_bpm)))))
                break
    return out


def pick_songs(data, bars: int, per_corpus: int = 2):
    """The first ``per_corpus`` test-split songs of each pop corpus (by id) in 4/4 with ``bars``
    bars from their first downbeat: (corpus, song, notes in beats, section markers (beat, text)).
    A second arrangement of a song already chosen (POP909 holds a few: 017 and 018 open alike)
    is passed over."""
    from engine.music.form import section_name
    from engine.training import form_stats as FS
    from engine.training.musicality import clip
    from engine.training.song_split import corpus_dir, song_ids, split_ids
    from engine.training.songs import load_song

    root = corpus_dir(data)
    out, seen = [], set()
    for corpus in ("pop909", "pop1k7"):
        here = set(song_ids(root, corpus))
        kept = 0
        for sid in split_ids("test", corpus):
            if kept == per_corpus:
                break
            if sid not in here:
                continue
            song = load_song(root, sid)
            first = FS.first_downbeat(song)
            opening = tuple(map(tuple, song.notes[:40, [0, 2]].tolist()))
            if not song.four_four or song.bar_lines(first)[-1] < bars * BEATS_PER_BAR - 1e-9 or opening in seen:
                continue
            seen.add(opening)
            markers = [(b * BEATS_PER_BAR, section_name(label.section))   # where each labelled phrase begins
                       for b, label in enumerate((song.form or [])[first:first + bars])
                       if label is not None and (label.bar == 0 or b == 0)]
            out.append((corpus, song, clip(song.events(first), bars), markers))
            kept += 1
    return out


# --- drawing and rendering ----------------------------------------------------------------

def piano_roll(notes, bars: int, path: Path, title: str, markers=()) -> None:
    """Pitch against beats: one bar per note, opacity from velocity; bar lines, beat lines and
    a labelled line at every C (middle C = C4 darker); ``markers`` (beat, text), a song's sections,
    over the top. Longer than 8 bars, the figure widens (a 32-bar song 2.5 times) and beat lines go."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    beats = bars * BEATS_PER_BAR
    lo = min([ROLL_LOW] + [n.pitch - 2 for n in notes])
    hi = max([ROLL_HIGH] + [n.pitch + 2 for n in notes])
    wide = bars > 8
    fig, ax = plt.subplots(figsize=(10 if not wide else min(25, 10 * bars / 12.8), 4), dpi=100)
    for c in range(0, 128, 12):
        if lo <= c <= hi:
            ax.axhline(c, color="#555" if c == 60 else "#ccc", lw=0.8 if c == 60 else 0.5, zorder=0)
    for b in range(beats + 1):
        if b % BEATS_PER_BAR == 0 or not wide:
            ax.axvline(b, color="#444" if b % BEATS_PER_BAR == 0 else "#e4e4e4", lw=1.0 if b % BEATS_PER_BAR == 0 else 0.5, zorder=0)
    for beat, text in markers:
        ax.axvline(beat, color="#1f5fa8", lw=1.6, zorder=1)
        ax.text(beat + 0.3, hi - 1, text, color="#1f5fa8", fontsize=8, va="top", zorder=3)
    rects = [Rectangle((n.start, n.pitch - 0.45), max(n.duration, 0.05), 0.9) for n in notes]
    colors = np.array([[0.85, 0.45, 0.10, 0.25 + 0.75 * min(max(n.velocity, 1), 127) / 127] for n in notes]).reshape(-1, 4)
    ax.add_collection(PatchCollection(rects, facecolors=colors, edgecolors=(0.45, 0.2, 0.0, 0.9), linewidths=0.4, zorder=2))
    ax.set_xlim(0, beats)
    ax.set_ylim(lo, hi)
    ticks = range(0, bars, 4 if wide else 1)
    ax.set_xticks([b * BEATS_PER_BAR for b in ticks], [f"bar {b + 1}" for b in ticks], fontsize=8)
    cs = [c for c in range(0, 128, 12) if lo <= c <= hi]
    ax.set_yticks(cs, [f"C{c // 12 - 1}" for c in cs], fontsize=8)
    ax.set_ylabel("pitch")
    ax.set_xlabel("beats (4 per bar) · opacity = velocity", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        rate, ch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise RuntimeError(f"{path}: expected 16-bit samples, got {8 * width}-bit")
    x = np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0
    return x.reshape(-1, ch), rate


def _db(v: float) -> float:
    return 20 * math.log10(v) if v > 0 else float("-inf")


def render(mid: Path, out: Path, soundfont: str, fmt: str) -> dict:
    """.mid → audio at ``out`` (its suffix may change to .wav without sox): ``synesthete render``
    (engine.files.audio: FluidSynth, 44.1 kHz stereo, the product's fixed gain and soft knee), then sox
    (or numpy + scipy) makes it mono 22.05 kHz.
    Returns peak and RMS in dBFS of the mono signal, its seconds, and the file written."""
    from engine.files.audio import render_midi

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "render.wav"
        render_midi(mid, wav, soundfont)
        x, rate = _read_wav(wav)
        mono = x.mean(axis=1)
        levels = {"peak_db": _db(float(np.abs(mono).max(initial=0.0))), "rms_db": _db(float(np.sqrt(np.mean(mono ** 2))) if len(mono) else 0.0),
                  "seconds": len(mono) / rate}
        if shutil.which("sox"):
            out = out.with_suffix("." + fmt)
            args = ["sox", str(wav), "-c", "1", "-r", str(RATE)]
            args += ["-C", "3"] if fmt == "ogg" else ["-b", "16"]
            subprocess.run(args + [str(out)], check=True, capture_output=True, timeout=300)
        else:
            from scipy.signal import resample_poly

            out = out.with_suffix(".wav")
            y = resample_poly(mono, RATE, rate)
            pcm = (np.clip(y, -1, 1) * 32767).astype("<i2")
            with wave.open(str(out), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(RATE)
                w.writeframes(pcm.tobytes())
    levels["file"] = out
    return levels


def sox_report(path: Path) -> str:
    """``sox --i`` (duration) and ``sox stat`` (peak, RMS) in one line, or '' without sox."""
    if not shutil.which("sox"):
        return ""
    info = subprocess.run(["sox", "--i", "-d", str(path)], capture_output=True, text=True).stdout.strip()
    stat = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True).stderr
    vals = {}
    for line in stat.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            vals[k.strip()] = v.strip()
    return f"sox: {info}, max amplitude {vals.get('Maximum amplitude', '?')}, RMS {vals.get('RMS     amplitude', vals.get('RMS amplitude', '?'))}"


def picture_cell(thumb: Path | None) -> str:
    return "" if thumb is None else f'<img src="{thumb.name}" width="120"><br>'


def thumbnail(src: Path, dst: Path, size: int = 200) -> None:
    from PIL import Image

    with Image.open(src) as im:
        im = im.convert("RGB")
        im.thumbnail((size, size))
        im.save(dst, "JPEG", quality=80)


# --- the pack -----------------------------------------------------------------------------

def _fmt_va(v: float, a: float) -> str:
    return f"({v:+.2f}, {a:+.2f})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "listening"))
    ap.add_argument("--data", default=None, help="data directory (default $SYNESTHETE_DATA or ../shared/data)")
    ap.add_argument("--model-dir", default=None, help="an exported model (default: the shipped one)")
    ap.add_argument("--per-quadrant", type=int, default=2)
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--song-bars", type=int, default=32, help="bars of the songs section (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--va", choices=("label", "picture"), default="label",
                    help="condition on the picture's labelled VA (default) or on the VA the model reads from it")
    ap.add_argument("--soundfont", default=SOUNDFONT)
    ap.add_argument("--format", choices=("ogg", "flac", "wav"), default="ogg", help="audio format when sox exists")
    ap.add_argument("--no-real", action="store_true", help="leave out the real test pieces")
    ap.add_argument("--for-repo", action="store_true",
                    help="only what may be committed: no picture thumbnails and no real pieces (the data is used by path, never copied)")
    ap.add_argument("--skip", action="append", default=[], metavar="PATTERN",
                    help="leave out pictures whose file name contains PATTERN (repeatable; added to a default "
                         "list of graphic or explicit OASIS themes)")
    ap.add_argument("--no-default-skip", action="store_true", help="do not apply the default skip list")
    a = ap.parse_args(argv)

    from engine.files.midi_io import write_midi
    from engine.request import GenerationSettings
    from engine.generation.runtime import Runtime
    from engine.training.dataset import data_dir, read_images
    from engine.training.musicality import notes_per_bar, pitch_range

    from engine.files.audio import AudioError, Synth

    try:
        Synth(a.soundfont).close()
    except AudioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.time()
    root = data_dir(a.data)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():  # this script's own earlier output, so the pack holds only this run
        if old.is_file() and old.name.startswith(("q1-", "q2-", "q3-", "q4-", "real-q", "song-q", "real-song-")) and old.suffix in (".mid", ".png", ".jpg", ".ogg", ".flac", ".wav"):
            old.unlink()
    rt = Runtime.load(a.model_dir)
    settings = GenerationSettings(bars=a.bars, seed=a.seed)
    rows, real_rows = [], []

    def one(name: str, notes, bars: int, title: str, write, markers=()) -> dict:
        mid = out / f"{name}.mid"
        write(mid)
        piano_roll(notes, bars, out / f"{name}.png", title, markers)
        lv = render(mid, out / f"{name}.{a.format}", a.soundfont, a.format)
        print(f"{name}: {len(notes)} notes, {lv['seconds']:.1f} s, peak {lv['peak_db']:.1f} dBFS, RMS {lv['rms_db']:.1f} dBFS"
              + (f"; {sox_report(lv['file'])}" if shutil.which("sox") else ""))
        if lv["peak_db"] > -0.1:
            print(f"  warning: {name} reaches full scale (peak {lv['peak_db']:.2f} dBFS)", file=sys.stderr)
        return lv

    skip = list(a.skip) + ([] if a.no_default_skip else list(DEFAULT_SKIP))
    picked = [(q, k, im, rt.encode(root / im.path)) for q, k, im in pick_pictures(read_images(root), a.per_quadrant, skip)]
    for q, k, im, enc in picked:
        name = f"q{q}-{QUADRANT_NAMES[q]}-{k}"
        target = VA(im.valence, im.arousal) if a.va == "label" else enc.va
        piece = rt.compose(settings, enc, target)
        notes = list(piece.notes)
        thumb = None if a.for_repo else out / f"{name}-picture.jpg"
        if thumb is not None:
            thumbnail(root / im.path, thumb)
        title = (f"{name}: {im.path.split('/')[-2]}/{Path(im.path).name}  label VA {_fmt_va(im.valence, im.arousal)}  "
                 f"{piece.tempo:.0f} BPM {piece.key.name}, conditioned on {a.va} VA")
        lv = one(name, notes, a.bars, title, piece.write)
        rows.append((name, im, enc.va, piece, lv, thumb, notes))

    song_rows, real_song_rows = [], []
    if a.song_bars > 0:
        song_settings = GenerationSettings(bars=a.song_bars, seed=a.seed)
        for q, k, im, enc in picked:
            if k != 1:
                continue
            name = f"song-q{q}-{QUADRANT_NAMES[q]}"
            target = VA(im.valence, im.arousal) if a.va == "label" else enc.va
            piece = rt.compose(song_settings, enc, target)
            notes = list(piece.notes)
            title = (f"{name}: {im.path.split('/')[-2]}/{Path(im.path).name}  label VA {_fmt_va(im.valence, im.arousal)}  "
                     f"{piece.tempo:.0f} BPM {piece.key.name}, form {piece.settings.form}")
            lv = one(name, notes, a.song_bars, title, piece.write, piece.section_markers())
            song_rows.append((name, im, piece, lv, notes))
        if not (a.no_real or a.for_repo):
            for k, (corpus, song, notes, markers) in enumerate(pick_songs(root, a.song_bars)):
                name = f"real-song-{k + 1}"
                tempo = float(min(300.0, max(20.0, song.tempo_bpm)))
                title = f"{name}: {song.id}  {tempo:.0f} BPM (first {a.song_bars} bars from its first downbeat)"
                lv = one(name, notes, a.song_bars, title,
                         lambda p, notes=notes, tempo=tempo: write_midi(notes, p, tempo=tempo, bars=a.song_bars), markers)
                real_song_rows.append((name, song, notes, tempo, lv, markers))

    if not (a.no_real or a.for_repo):
        for q, item, notes, tempo in pick_real(root, a.bars):
            name = f"real-q{q}-{QUADRANT_NAMES[q]}"
            title = f"{name}: {item.path}  label VA {_fmt_va(item.valence, item.arousal)}  {tempo:.0f} BPM (first {a.bars} bars)"
            lv = one(name, notes, a.bars, title,
                     lambda p, notes=notes, tempo=tempo: write_midi(notes, p, tempo=tempo, bars=a.bars))
            real_rows.append((name, item, notes, tempo, lv))

    # the index
    model = rt.model_id or "?"
    lines = [
        "# Listening pack",
        "",
        f"What the model plays for {len(rows)} test pictures, {a.per_quadrant} per Russell quadrant (the test pictures whose",
        "labelled valence-arousal lies deepest inside the quadrant, min(|v|, |a|), one per category)" + (
            ". The pictures and the real pieces stay in the data set (used by path, never committed): build the full pack,"
            " with thumbnails and one real test piece per quadrant beside them, with `python scripts/listening_pack.py --out DIR`."
            if a.for_repo else ", next to one real test piece per quadrant chosen the same way."),
        f"Model `{model}` ({'shipped' if a.model_dir is None else a.model_dir}), default settings: {a.bars} bars, seed {a.seed},",
        f"temperature {settings.temperature}, top-p {settings.top_p}, intensity {settings.intensity:g}, key auto, tempo from arousal; conditioned on the picture's "
        + ("labelled VA." if a.va == "label" else "VA as the model reads it (as the app does)."),
        f"Audio: `synesthete render` (FluidSynth, FluidR3 General MIDI piano, one fixed gain for every piece), mono {RATE / 1000:g} kHz.",
        "Piano rolls: pitch against beats, bar lines dark, opacity = velocity.",
        "",
        "Rebuild with `python scripts/listening_pack.py" + (" --for-repo" if a.for_repo else "")
        + ("" if a.out == str(ROOT / "docs" / "listening") else f" --out {a.out}") + "`.",
        "",
        "## Generated",
        "",
        "| picture | label VA | quadrant | model reads | tempo, key | notes/bar, range | piano roll | audio (peak / RMS dBFS) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, im, read, piece, lv, thumb, notes in rows:
        q = quadrant(im.valence, im.arousal)
        lines.append(
            f"| {picture_cell(thumb)}`{im.path.split('/', 1)[-1]}` | {_fmt_va(im.valence, im.arousal)} | Q{q} {QUADRANT_NAMES[q]} "
            f"| {_fmt_va(read.valence, read.arousal)} | {piece.tempo:.0f} BPM, {piece.key.name} | {notes_per_bar(notes, a.bars):.1f}, {pitch_range(notes):.0f} st "
            f"| <a href=\"{name}.png\"><img src=\"{name}.png\" width=\"360\"></a> | [{lv['file'].name}]({lv['file'].name}) ({lv['peak_db']:.1f} / {lv['rms_db']:.1f}) · [.mid]({name}.mid) |")
    if real_rows:
        lines += ["", "## Real test music (first bars, for comparison)", "",
                  "| piece | label VA | quadrant | tempo | notes/bar, range | piano roll | audio (peak / RMS dBFS) |", "|---|---|---|---|---|---|---|"]
        for name, item, notes, tempo, lv in real_rows:
            q = quadrant(item.valence, item.arousal)
            lines.append(
                f"| `{item.path}` ({item.source}) | {_fmt_va(item.valence, item.arousal)} | Q{q} {QUADRANT_NAMES[q]} | {tempo:.0f} BPM "
                f"| {notes_per_bar(notes, a.bars):.1f}, {pitch_range(notes):.0f} st | <a href=\"{name}.png\"><img src=\"{name}.png\" width=\"360\"></a> "
                f"| [{lv['file'].name}]({lv['file'].name}) ({lv['peak_db']:.1f} / {lv['rms_db']:.1f}) · [.mid]({name}.mid) |")
    if song_rows:
        lines += ["", f"## Songs ({a.song_bars} bars)", "",
                  f"The first picture of each quadrant again, at {a.song_bars} bars with the default form (auto: a real song's form, its",
                  "sections drawn in blue)" + (", beside the first test-split songs of POP909 and Pop1K7 (their first bars from the first"
                  " downbeat; POP909's labelled form in blue)." if real_song_rows else "."), "",
                  "| picture | label VA | tempo, key | form | notes/bar, range | piano roll | audio (peak / RMS dBFS) |", "|---|---|---|---|---|---|---|"]
        for name, im, piece, lv, notes in song_rows:
            lines.append(
                f"| `{im.path.split('/', 1)[-1]}` | {_fmt_va(im.valence, im.arousal)} | {piece.tempo:.0f} BPM, {piece.key.name} "
                f"| `{piece.settings.form}` | {notes_per_bar(notes, a.song_bars):.1f}, {pitch_range(notes):.0f} st "
                f"| <a href=\"{name}.png\"><img src=\"{name}.png\" width=\"480\"></a> | [{lv['file'].name}]({lv['file'].name}) ({lv['peak_db']:.1f} / {lv['rms_db']:.1f}) · [.mid]({name}.mid) |")
    if real_song_rows:
        lines += ["", "| real song | tempo | labelled form | notes/bar, range | piano roll | audio (peak / RMS dBFS) |", "|---|---|---|---|---|---|"]
        for name, song, notes, tempo, lv, markers in real_song_rows:
            lines.append(
                f"| `{song.id}` | {tempo:.0f} BPM | {' '.join(t for _, t in markers) or '(none)'} | {notes_per_bar(notes, a.song_bars):.1f}, {pitch_range(notes):.0f} st "
                f"| <a href=\"{name}.png\"><img src=\"{name}.png\" width=\"480\"></a> | [{lv['file'].name}]({lv['file'].name}) ({lv['peak_db']:.1f} / {lv['rms_db']:.1f}) · [.mid]({name}.mid) |")
    files = sorted(p for p in out.iterdir() if p.is_file() and p.name != "README.md")
    total = sum(p.stat().st_size for p in files)
    by_kind = {}
    for p in files:
        by_kind[p.suffix] = by_kind.get(p.suffix, 0) + p.stat().st_size
    size_line = f"{len(files)} files, {total / 1e6:.2f} MB (" + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(by_kind.items())) + ")"
    lines += ["", f"Pack: {size_line}.", ""]
    (out / "README.md").write_text("\n".join(lines))
    print(f"wrote {out / 'README.md'}: {size_line}; {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
