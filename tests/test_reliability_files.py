"""Files in and out that must not hurt: outputs that are the input, a FIFO or a device, a
read-only place or a name too long; the mode of written files; pictures that would blow up
memory or are not files at all (issue 16). Every case is made by the test itself."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.events import NoteEvent
from engine.picture.images import ImageError, load_image
from engine.files.midi_io import read_midi, write_midi
from engine.files.outputs import OutputError, check_output_path

ROOT = Path(__file__).resolve().parents[1]
NOTES = [NoteEvent(60, 90, 0.0, 1.0)]


def refused(out, inputs=(), match: str = "") -> str:
    with pytest.raises(OutputError, match=match) as e:
        check_output_path(out, inputs)
    assert "\n" not in str(e.value)
    return str(e.value)


# --- where an output may go ----------------------------------------------------------------
def test_an_output_that_is_an_input_is_refused_also_through_links(tmp_path, monkeypatch):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"the user's only copy")
    (tmp_path / "link.mid").symlink_to(photo)
    os.link(photo, tmp_path / "hard.mid")
    monkeypatch.chdir(tmp_path)
    for out in (photo, "photo.jpg", "./sub/../photo.jpg", "link.mid", "hard.mid"):
        refused(out, [photo], "is the input file")
    refused(tmp_path / "new.mid", [tmp_path / "new.mid"], "is the input file")  # not there yet
    assert check_output_path("other.mid", [photo]) == Path("other.mid")
    assert photo.read_bytes() == b"the user's only copy"


def test_fifo_device_and_directory_outputs_are_refused_and_left_alone(tmp_path):
    fifo = tmp_path / "pipe.mid"
    os.mkfifo(fifo)
    refused(fifo, match="is a FIFO, not a regular file")
    refused("/dev/null", match="is a device, not a regular file")
    refused(tmp_path, match="is a directory")
    with pytest.raises(OutputError, match="FIFO"):
        write_midi(NOTES, fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    dev = tmp_path / "null.mid"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except OSError:
        pass  # no CAP_MKNOD here: /dev/null above already covers the check itself
    else:
        with pytest.raises(OutputError, match="device"):
            write_midi(NOTES, dev)
        assert stat.S_ISCHR(os.stat(dev).st_mode)


def test_missing_unwritable_and_too_long_places_are_one_line(tmp_path):
    refused(tmp_path / "nope" / "a.mid", match="no such directory")
    (tmp_path / "file").write_text("x")
    refused(tmp_path / "file" / "a.mid", match="not a directory")
    refused("/proc/synesthete.mid", match="cannot write a file in this directory")
    long = tmp_path / ("n" * 296 + ".mid")
    msg = refused(long, match="file name is too long")
    assert "300 bytes" in msg and "255" in msg
    with pytest.raises(OutputError, match="too long"):
        write_midi(NOTES, long)
    assert isinstance(OutputError("x"), UsageError) and isinstance(OutputError("x"), ValueError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no probe or temp file left


def test_written_files_get_the_umask_mode_and_a_replaced_file_keeps_its_own(tmp_path):
    old = os.umask(0o022)
    try:
        a = write_midi(NOTES, tmp_path / "a.mid")
        assert stat.S_IMODE(os.stat(a).st_mode) == 0o644
        os.umask(0o027)
        b = write_midi(NOTES, tmp_path / "b.mid")
        assert stat.S_IMODE(os.stat(b).st_mode) == 0o640
        os.chmod(a, 0o604)
        write_midi([NoteEvent(62, 90, 0.0, 2.0)], a)
        assert stat.S_IMODE(os.stat(a).st_mode) == 0o604
        assert [n.pitch for n in read_midi(a).notes] == [62]
    finally:
        os.umask(old)


def test_stream_refuses_an_unwritable_also_write_before_playing(tmp_path):
    from engine.events import VA
    from engine.live.stream import stream
    from engine.live.ports import OutputPort
    from engine.request import GenerationSettings, Plan

    PLAN = Plan(GenerationSettings(), VA(0.0, 0.0))

    sent = []
    port = OutputPort("fake", sent.append)
    with pytest.raises(OutputError, match="cannot write a file in this directory"):
        stream(PLAN, port, [NoteEvent(60, 90, 0.0, 0.1)], also_write="/proc/take.mid")
    fifo = tmp_path / "take.mid"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="FIFO"):
        stream(PLAN, port, [NoteEvent(60, 90, 0.0, 0.1)], also_write=fifo)
    assert sent == []  # not one note played


# --- pictures --------------------------------------------------------------------------------
def test_fifo_device_and_newline_paths_get_one_line_that_names_the_problem(tmp_path):
    fifo = tmp_path / "pic.jpg"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        with pytest.raises(ImageError, match="not a regular file") as e:
            load_image(path)  # returns at once: a FIFO without a writer must not block
        assert "empty" not in str(e.value)
    odd = tmp_path / "a\nb.jpg"
    odd.write_bytes(b"not a picture")
    for path, why in ((odd, "not an image file"), (tmp_path / "gone\n.jpg", "no such file")):
        with pytest.raises(ImageError, match=why) as e:
            load_image(path)
        assert "\n" not in str(e.value) and "\\n" in str(e.value)
