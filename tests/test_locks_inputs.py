"""Inputs a hostile or careless user hands us (issue 27): any picture that decodes gives a mood,
however small or thin, at a bounded cost; a SoundFont is an input (never overwritten), is
checked before FluidSynth sees it, and a damaged one costs one line — no C-library chatter and
no crash, whatever its bytes; an over-long MIDI file is refused before any rendering. Every
file is made by the test itself (the SoundFonts by a minimal SoundFont 2 writer below)."""
from __future__ import annotations

import json
import math
import os
import random
import struct
import subprocess
import sys
import time
from pathlib import Path

import mido
import numpy as np
import pytest
from PIL import Image

from engine.files import audio
from engine.events import NoteEvent
from engine.picture.image_stats import STAT_NAMES, colour_stats
from engine.picture.images import MAX_ASPECT, load_image, preprocess
from engine.files.outputs import OutputError
from fixtures import make_midi
from test_cli import EXAMPLE, assert_one_line_error, run
from test_inputs import bomb_png

ROOT = Path(__file__).resolve().parents[1]
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
THIN = [(1, 1), (1, 2), (2, 1), (1, 50), (50, 1), (320, 1), (4, 240), (40000, 1)]


# --- pictures --------------------------------------------------------------------------------
def gradient(w: int, h: int) -> Image.Image:
    """Red to blue along the longer side: a thin gradient is a plausible thing to drop in."""
    t = np.linspace(0.0, 1.0, max(w, h), dtype=np.float32)
    line = np.stack([255 * (1 - t), 40 + 0 * t, 255 * t], axis=-1).astype(np.uint8)
    arr = line[None, :, :] if w >= h else line[:, None, :]
    return Image.fromarray(np.broadcast_to(arr, (h, w, 3)).copy(), "RGB")


@pytest.mark.parametrize("size", THIN, ids=lambda s: f"{s[0]}x{s[1]}")
def test_any_picture_that_decodes_gives_the_model_a_full_input_and_colour_statistics(tmp_path, size):
    path = tmp_path / "thin.png"
    gradient(*size).save(path)
    img = load_image(path)
    assert img.size == size  # the picture itself is kept whole (the app shows it)
    x = preprocess(img, 224, MEAN, STD)
    assert x.shape == (1, 3, 224, 224) and np.isfinite(x).all()
    stats = colour_stats(img)
    assert stats.shape == (len(STAT_NAMES),) and np.isfinite(stats).all()


def test_a_single_colour_swatch_reads_as_that_colour():
    s = dict(zip(STAT_NAMES, colour_stats(Image.new("RGB", (1, 1), (230, 30, 20)))))
    assert s["brightness"] == pytest.approx((0.299 * 230 + 0.587 * 30 + 0.114 * 20) / 255, abs=1e-3)
    assert s["saturation"] > 0.8 and s["warm_share"] == 1.0
    assert s["edge_density"] == 0.0 and s["contrast"] == 0.0  # one pixel has no edges, no spread
    wide = dict(zip(STAT_NAMES, colour_stats(gradient(320, 1))))
    assert wide["hue_spread"] > 0.3 and wide["edge_density"] == 0.0  # the whole strip's colours are read


def test_a_strip_past_the_aspect_limit_gives_the_model_its_centre():
    """The model sees the centre square of every picture; a strip past MAX_ASPECT:1 is cut to
    that ratio around its centre before the resize, which changes nothing the model sees."""
    strip = gradient(320, 1)
    left = (320 - MAX_ASPECT) // 2
    centre = strip.crop((left, 0, left + MAX_ASPECT, 1))
    np.testing.assert_array_equal(preprocess(strip, 224, MEAN, STD), preprocess(centre, 224, MEAN, STD))
    tall = gradient(4, 240)
    top = (240 - 4 * MAX_ASPECT) // 2
    np.testing.assert_array_equal(preprocess(tall, 224, MEAN, STD),
                                  preprocess(tall.crop((0, top, 4, top + 4 * MAX_ASPECT)), 224, MEAN, STD))


def test_preprocess_resizes_to_at_most_the_aspect_limit_times_the_model_input(monkeypatch):
    made = []
    resize = Image.Image.resize

    def counting(self, size, *a, **k):
        made.append(size[0] * size[1])
        return resize(self, size, *a, **k)

    monkeypatch.setattr(Image.Image, "resize", counting)
    for size in ((40000, 1), (1, 40000), (1, 1), (7000, 3)):
        preprocess(Image.new("RGB", size, (10, 200, 90)), 224, MEAN, STD)
    assert max(made) <= MAX_ASPECT * 224 * 224


MEMORY_PROBE = r"""
import json, resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from PIL import Image
from engine.picture.images import load_image, preprocess
out = {p: list(preprocess(load_image(p), 224, (0.5,) * 3, (0.25,) * 3).shape) for p in sys.argv[2:]}
# the app and training hand PIL images straight to preprocess
out["direct"] = list(preprocess(Image.new("RGB", (1, 40000)), 224, (0.5,) * 3, (0.25,) * 3).shape)
print(json.dumps(out))
"""


@pytest.mark.timeout(60)
def test_extreme_strips_are_read_within_a_memory_limit(tmp_path):
    """A 40000x1 PNG is a few hundred bytes; scaled so its short side fills 224 pixels it
    would need 8 GB. Under a 1.5 GB address-space limit it must give a model input."""
    paths = []
    for size in ((40000, 1), (1, 40000), (4000, 400)):
        paths.append(tmp_path / f"{size[0]}x{size[1]}.png")
        Image.new("RGB", size, (200, 120, 40)).save(paths[-1])
    assert paths[0].stat().st_size < 1000
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(1536 * 2**20), *map(str, paths)],
                       capture_output=True, text=True, timeout=50, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-800:]
    assert set(map(tuple, json.loads(r.stdout).values())) == {(1, 3, 224, 224)}


def test_the_cli_reads_a_mood_from_tiny_and_thin_pictures_and_still_refuses_a_bomb(tmp_path):
    for size in ((1, 1), (40000, 1), (4, 240)):
        path = tmp_path / f"{size[0]}x{size[1]}.png"
        gradient(*size).save(path)
        r = run("va", path, "--json")
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert set(json.loads(r.stdout)) >= {"valence", "arousal"}
    gradient(320, 1).save(tmp_path / "strip.png")
    r = run("generate", tmp_path / "strip.png", "-o", tmp_path / "x.mid", "--bars", "1")
    assert r.returncode == 0 and (tmp_path / "x.mid").exists(), r.stderr
    r = run("va", bomb_png(tmp_path / "bomb.png"), "--json")
    assert_one_line_error(r, 2)
    assert "too large" in r.stderr


# --- SoundFonts ------------------------------------------------------------------------------
try:
    audio._fluidsynth()
    WHY = ""
except audio.AudioError as e:  # the README's test command installs it (scripts/apt-packages.txt)
    WHY = str(e)
needs_fluidsynth = pytest.mark.skipif(bool(WHY), reason=WHY or "FluidSynth")


def _chunk(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)


def _list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _name(s: str) -> bytes:
    return s.encode().ljust(20, b"\0")


def tiny_sf2(frames: int = 2000, rate: int = 22050, loop: tuple[int, int] = (100, 1900)) -> bytes:
    """A complete SoundFont 2 of a few KB: one looped sine sample, one instrument, one preset
    (bank 0, program 0; no drum kit), each table ending in its terminal record."""
    wave = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(frames))
    info = _list(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", b"EMU8000\0"),
                 _chunk(b"INAM", b"tiny\0\0"))
    sdta = _list(b"sdta", _chunk(b"smpl", wave + b"\0" * 92))  # 46 silent samples after each, per the spec
    phdr = _name("Sine") + struct.pack("<HHHIII", 0, 0, 0, 0, 0, 0) + _name("EOP") + struct.pack("<HHHIII", 0, 0, 1, 0, 0, 0)
    pbag = struct.pack("<HHHH", 0, 0, 1, 0)
    pgen = struct.pack("<HHHH", 41, 0, 0, 0)  # instrument 0; terminal
    inst = _name("SineInst") + struct.pack("<H", 0) + _name("EOI") + struct.pack("<H", 1)
    ibag = struct.pack("<HHHH", 0, 0, 2, 0)
    igen = struct.pack("<HHHHHH", 54, 1, 53, 0, 0, 0)  # loop continuously, sample 0; terminal
    shdr = (_name("sine") + struct.pack("<IIIIIBbHH", 0, frames, loop[0], loop[1], rate, 69, 0, 0, 1)
            + _name("EOS") + struct.pack("<IIIIIBbHH", 0, 0, 0, 0, 0, 0, 0, 0, 0))
    pdta = _list(b"pdta", _chunk(b"phdr", phdr), _chunk(b"pbag", pbag), _chunk(b"pmod", b"\0" * 10),
                 _chunk(b"pgen", pgen), _chunk(b"inst", inst), _chunk(b"ibag", ibag), _chunk(b"imod", b"\0" * 10),
                 _chunk(b"igen", igen), _chunk(b"shdr", shdr))
    body = b"sfbk" + info + sdta + pdta
    return b"RIFF" + struct.pack("<I", len(body)) + body


def sf2_file(path: Path, data: bytes | None = None) -> Path:
    path.write_bytes(tiny_sf2() if data is None else data)
    return path


def one_line_audio_error(call) -> str:
    with pytest.raises(audio.AudioError) as e:
        call()
    msg = str(e.value)
    assert msg and "\n" not in msg and "\r" not in msg, msg
    return msg


NOTES = [NoteEvent(69, 100, 0.0, 0.5), NoteEvent(57, 80, 0.25, 0.75)]


@needs_fluidsynth
def test_the_tiny_soundfont_plays_and_fluidsynth_says_nothing(tmp_path, capfd):
    """Lacking a drum kit, FluidSynth reports an error for channel 10 on every load; a SoundFont
    that loads, with whatever complaints, prints nothing at all."""
    frames = audio.render_notes(NOTES, 120, sf2_file(tmp_path / "tiny.sf2"))
    assert np.abs(frames).max() > 1000
    odd_loop = sf2_file(tmp_path / "loop.sf2", tiny_sf2(loop=(1950, 120)))  # FluidSynth mends it, with a warning
    assert np.abs(audio.render_notes(NOTES, 120, odd_loop)).max() > 1000
    assert capfd.readouterr() == ("", "")
    mid = make_midi(tmp_path / "x.mid", happy=True, bars=1)
    r = run("render", mid, "-o", tmp_path / "x.wav", "--soundfont", odd_loop)
    assert r.returncode == 0 and r.stderr == "" and r.stdout.startswith("wrote "), r.stderr


@needs_fluidsynth
def test_the_soundfont_is_an_input_and_is_never_overwritten(tmp_path, monkeypatch):
    mid = make_midi(tmp_path / "x.mid", happy=True, bars=1)
    sf = sf2_file(tmp_path / "my.sf2")
    before = sf.read_bytes()
    (tmp_path / "link.wav").symlink_to(sf)
    os.link(sf, tmp_path / "hard.wav")
    for out in (sf, tmp_path / "link.wav", tmp_path / "hard.wav"):
        with pytest.raises(OutputError, match="is the input file"):
            audio.render_midi(mid, out, sf)
    monkeypatch.setenv(audio.ENV_SOUNDFONT, str(sf))
    with pytest.raises(OutputError, match="is the input file"):
        audio.render_midi(mid, sf)  # the SoundFont named by the environment
    r = run("render", mid, "-o", sf, "--soundfont", sf)
    assert_one_line_error(r, 2)
    assert sf.read_bytes() == before and not list(tmp_path.glob(".synesthete-*"))
    assert audio.find_soundfont(None) == sf  # what the CLI checks `generate --wav` against


def with_size(data: bytes, tag: bytes, size: int) -> bytes:
    """``data`` with the size field of its first ``tag`` chunk (or ``tag`` list) set to ``size``."""
    i = data.index(tag) - (4 if tag in (b"INFO", b"sdta", b"pdta") else -4)
    return data[:i] + struct.pack("<I", size) + data[i + 4:]


def damaged_soundfonts() -> dict[str, tuple[bytes, str]]:
    good = tiny_sf2()
    return {
        "truncated": (good[: len(good) // 2], "truncated: the file has"),
        "longer than its header": (good + b"\0" * 10, "its header says"),
        "list past the end": (with_size(good, b"pdta", 10**6), "the pdta list runs past the end of the file"),
        "chunk past its list": (with_size(good, b"smpl", 10**6), "the 'smpl' chunk runs past the end of the sdta list"),
        "no pdta": (good.replace(b"pdta", b"pdtX", 1), "no pdta list"),
        "bad sub-chunk id": (good.replace(b"phdr", b"phdR", 1),
                             "FluidSynth cannot load this SoundFont (Expected PDTA sub-chunk 'phdr'"),
    }


@needs_fluidsynth
@pytest.mark.parametrize("case", list(damaged_soundfonts()))
def test_a_damaged_soundfont_gets_one_line_that_says_what_is_wrong(tmp_path, capfd, case):
    data, reason = damaged_soundfonts()[case]
    sf = sf2_file(tmp_path / "bad.sf2", data)
    msg = one_line_audio_error(lambda: audio.Synth(sf))
    assert msg.startswith(str(sf)) and reason in msg, msg
    assert capfd.readouterr() == ("", "")  # nothing from FluidSynth, GLib or libinstpatch


@needs_fluidsynth
def test_the_cli_prints_only_the_reason_for_a_soundfont_fluidsynth_refuses(tmp_path):
    mid = make_midi(tmp_path / "x.mid", happy=True, bars=1)
    sf = sf2_file(tmp_path / "bad.sf2", damaged_soundfonts()["bad sub-chunk id"][0])
    r = run("render", mid, "-o", tmp_path / "x.wav", "--soundfont", sf)
    assert_one_line_error(r, 2)
    assert "(Expected PDTA sub-chunk 'phdr' found invalid id instead)" in r.stderr
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.timeout(30)
def test_a_directory_or_fifo_given_as_soundfont_is_named_and_does_not_block(tmp_path):
    (tmp_path / "fonts").mkdir()
    assert one_line_audio_error(lambda: audio.find_soundfont(tmp_path / "fonts")).endswith(
        "is a directory, not a SoundFont")
    fifo = tmp_path / "font.sf2"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    assert "is not a regular file (a FIFO" in one_line_audio_error(lambda: audio.find_soundfont(fifo))
    assert time.monotonic() - t0 < 5  # no writer: opening it must not wait for one
    assert "no such SoundFont file" in one_line_audio_error(lambda: audio.find_soundfont(tmp_path / "none.sf2"))


def ten_hour_midi(path: Path) -> Path:
    """A note every ten minutes for ten hours: its length is known the moment it is read."""
    mf = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500_000, time=0))  # 2 beats a second
    for i in range(60):
        tr.append(mido.Message("note_on", note=60, velocity=90, time=0 if i == 0 else 480 * 2 * 600 - 480))
        tr.append(mido.Message("note_off", note=60, velocity=0, time=480))
    mf.save(path)
    return path


@needs_fluidsynth
@pytest.mark.timeout(60)
def test_a_midi_file_longer_than_the_limit_is_refused_before_rendering(tmp_path, monkeypatch):
    mid = ten_hour_midi(tmp_path / "long.mid")
    sf = sf2_file(tmp_path / "a.sf2")

    def no_synth(*a, **k):
        raise AssertionError("a synthesizer was started for music that is refused")

    monkeypatch.setattr(audio, "Synth", no_synth)
    t0 = time.monotonic()
    msg = one_line_audio_error(lambda: audio.render_midi(mid, tmp_path / "long.wav", sf))
    assert "longer than 2 hours" in msg
    assert time.monotonic() - t0 < 5  # rendering the first two hours takes minutes and 1.2 GB
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sf2", "long.mid"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One hostile variant: flipped bytes, a truncation, a chunk size changed, or a field of the
    preset/instrument/sample tables set to an extreme."""
    b = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 1:
        del b[rng.randrange(8, len(b)):]
    elif kind == 2:
        tags = [i for i in range(12, len(b) - 8) if bytes(b[i:i + 4]).isalpha() and bytes(b[i:i + 4]).isascii()]
        i = rng.choice(tags) + 4
        old = struct.unpack("<I", b[i:i + 4])[0]
        new = rng.choice([0, 1, 2, 3, 0xFFFFFFFF, 0x7FFFFFFF, rng.randrange(1 << 32), old + rng.choice([-4, -2, -1, 1, 2, 4, 38, 46])])
        b[i:i + 4] = struct.pack("<I", new % (1 << 32))
    else:
        start = min(max(12, data.find(b"pdta") + 4), len(b) - 5)
        for _ in range(rng.randint(1, 6)):
            i, width = rng.randrange(start, len(b) - 4), rng.choice([1, 2, 4])
            value = rng.choice([0, 1, 0xFF, 0x8000, 0x8001, 0x10, 0xFFFF, 0xFFFFFFFF, rng.randrange(1 << 32), 2000, 5000])
            b[i:i + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
    return bytes(b)


@needs_fluidsynth
@pytest.mark.timeout(120)
def test_no_byte_sequence_in_a_soundfont_crashes_hangs_or_chatters(tmp_path, capfd):
    """800 mutations of a valid SoundFont (seeded): each loads and plays, or ends in one
    AudioError line, in bounded time, with nothing on file descriptors 1 and 2."""
    rng = random.Random(27)
    base = tiny_sf2()
    sf = tmp_path / "fuzz.sf2"
    outcomes = {"played": 0, "refused": 0}
    t0 = time.monotonic()
    for n in range(800):
        data = mutate(rng, base)
        sf.write_bytes(data)
        t1 = time.monotonic()
        try:
            with audio.Synth(sf) as synth:
                frames = np.concatenate(list(synth.render(audio.note_events(NOTES, 240))))
            assert frames.dtype == np.int16 and frames.ndim == 2
            outcomes["played"] += 1
        except audio.AudioError as e:
            assert str(e) and "\n" not in str(e), (n, str(e))
            outcomes["refused"] += 1
        assert time.monotonic() - t1 < 5, (n, data)
        out, err = capfd.readouterr()
        assert (out, err) == ("", ""), (n, out[-400:], err[-400:])
    assert time.monotonic() - t0 < 60
    assert min(outcomes.values()) > 50, outcomes  # both sides of the line were exercised


@needs_fluidsynth
def test_generate_writes_neither_its_midi_nor_its_wav_over_the_soundfont(tmp_path):
    sf = sf2_file(tmp_path / "my.sf2")
    before = sf.read_bytes()
    for outs in (["-o", sf, "--wav", tmp_path / "a.wav"], ["-o", tmp_path / "a.mid", "--wav", sf]):
        r = run("generate", EXAMPLE, *outs, "--soundfont", sf, "--bars", "1")
        assert_one_line_error(r, 2)
        assert "is the input file" in r.stderr
    assert sf.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["my.sf2"]
