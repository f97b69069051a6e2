"""Images and MIDI from users: anything readable is read correctly, everything else gets a one-line reason."""
import struct
import zlib

import mido
import numpy as np
import pytest
from PIL import Image

from engine.picture.images import ImageError, load_image, load_image_bytes
from engine.files.midi_io import MidiError, read_midi, write_midi
from engine.events import NoteEvent
from fixtures import make_midi, make_photo


def bomb_png(path, w=30000, h=30000):
    """A valid PNG header claiming 30000x30000 pixels, with a tiny (incomplete) body."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "RGBA", "LA", "CMYK", "I;16", "1"])
def test_any_image_mode_becomes_rgb(tmp_path, mode):
    src = Image.fromarray((np.random.default_rng(0).random((40, 30, 3)) * 255).astype(np.uint8), "RGB")
    img = src.convert(mode) if mode != "I;16" else Image.fromarray((np.arange(1200).reshape(40, 30) * 50).astype(np.uint16))
    p = tmp_path / f"x.{'tiff' if mode in ('CMYK', 'I;16') else 'png'}"
    img.save(p)
    out = load_image(p)
    assert out.mode == "RGB" and out.size == (30, 40)


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (60, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    p = tmp_path / "rot.jpg"
    img.save(p, exif=exif)
    assert load_image(p).size == (20, 60)


def test_transparency_is_flattened_on_white(tmp_path):
    p = tmp_path / "clear.png"
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(p)
    assert load_image(p).getpixel((5, 5)) == (255, 255, 255)


def test_animated_gif_uses_first_frame(tmp_path):
    p = tmp_path / "a.gif"
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(p, save_all=True, append_images=frames[1:])
    r, g, b = load_image(p).getpixel((1, 1))
    assert r > 200 and b < 50


@pytest.mark.parametrize("maker,match", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_bytes(b"this is not a picture at all" * 10), "not an image"),
    (lambda p: p.write_bytes(make_photo(p.with_name("ok.jpg"), fmt="JPEG").read_bytes()[:300]), "damaged or truncated"),
    (lambda p: bomb_png(p), "too large"),
])
def test_bad_images_give_one_line_reasons(tmp_path, maker, match):
    p = tmp_path / "bad.jpg"
    maker(p)
    with pytest.raises(ImageError, match=match) as e:
        load_image(p)
    assert "\n" not in str(e.value)


def test_missing_path_and_directory_are_named(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


def test_clipboard_bytes_load_like_files(tmp_path):
    p = make_photo(tmp_path / "c.png")
    assert load_image_bytes(p.read_bytes()).size == (96, 64)


def test_midi_read_gives_beats_and_seconds(tmp_path):
    p = make_midi(tmp_path / "m.mid", happy=False)  # 70 BPM
    piece = read_midi(p)
    n = piece.notes[1]
    assert n.start_s == pytest.approx(n.start_beat * 60 / 70, rel=1e-3)


@pytest.mark.parametrize("content,match", [
    (b"", "empty file"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02", "not a readable MIDI"),
    (b"RIFF....WAVEfmt ", "not a readable MIDI"),
])
def test_broken_midi_gives_one_line_reasons(tmp_path, content, match):
    p = tmp_path / "bad.mid"
    p.write_bytes(content)
    with pytest.raises(MidiError, match=match):
        read_midi(p)


def test_midi_without_notes_and_type_2_are_refused(tmp_path):
    mf = mido.MidiFile(type=1)
    mf.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    mf.save(tmp_path / "empty.mid")
    with pytest.raises(MidiError, match="no notes"):
        read_midi(tmp_path / "empty.mid")
    mf2 = mido.MidiFile(type=2)
    mf2.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=64), mido.Message("note_off", note=60, time=100)]))
    mf2.save(tmp_path / "t2.mid")
    with pytest.raises(MidiError, match="Type 2"):
        read_midi(tmp_path / "t2.mid")


def test_format_0_files_are_read(tmp_path):
    mf = mido.MidiFile(type=0)
    mf.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=64), mido.Message("note_off", note=60, time=480)]))
    mf.save(tmp_path / "t0.mid")
    assert len(read_midi(tmp_path / "t0.mid").notes) == 1


def test_written_file_is_type_1_with_tempo_key_and_settings(tmp_path):
    out = write_midi([NoteEvent(60, 90, 0.0, 1.0), NoteEvent(64, 90, 1.5, 0.5)], tmp_path / "o.mid", tempo=96, key="Am", settings={"seed": 7}, bars=2)
    mf = mido.MidiFile(out)
    metas = [m for m in mf.tracks[0] if m.is_meta]
    assert mf.type == 1 and len(mf.tracks) == 2
    assert any(m.type == "set_tempo" and round(mido.tempo2bpm(m.tempo)) == 96 for m in metas)
    assert any(m.type == "key_signature" and m.key == "Am" for m in metas)
    assert any(m.type == "text" and '"seed": 7' in m.text for m in metas)
    assert mf.length == pytest.approx(2 * 4 * 60 / 96, rel=1e-3)  # two full bars
    back = read_midi(out)
    assert [(n.pitch, n.start_beat, n.end_beat) for n in back.notes] == [(60, 0.0, 1.0), (64, 1.5, 2.0)]


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(ValueError):
        write_midi([NoteEvent(60, 90, 0.0, 1.0)], tmp_path / "o.mid", tempo=5)
    assert list(tmp_path.iterdir()) == []
