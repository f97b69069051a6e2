"""Fuzzed MIDI files through every reader a user reaches: ``music-va`` (the command line, in this
process), the primer (``--prime``: read, key, tokens) and ``render`` (every tenth file through
FluidSynth with a tiny SoundFont, the others to the synthesizer's event list). Fuzzed SoundFonts
are ``test_locks_inputs::test_no_byte_sequence_in_a_soundfont_crashes_hangs_or_chatters``. Each mutated file ends in success or one line with exit 2 — never a traceback, a
hang or unbounded memory. Fixed seed: the same files on every run.

Bounds stated here and in docs/RELIABILITY.md: the whole run within the test's timeout, and the
process's peak memory growing by less than ``MAX_GROWTH`` over all the files."""
from __future__ import annotations

import random
import resource
import struct

import pytest

from engine.files.audio import AudioError, render_midi
from engine.cli import main
from engine.events import NoteEvent
from engine.files.midi_io import MidiError, read_messages, write_midi
from engine.music.primer import PrimerError, primer_from_midi

FILES = 2000
MAX_GROWTH = 200 * 2**20  # bytes of peak RSS over the whole run


def seeds(tmp_path) -> list[bytes]:
    """Valid files of the kinds users drag in: ours (Type 1, metadata), a Type 0 file with running
    status and a tempo change, a drum track beside a piano."""
    ours = tmp_path / "ours.mid"
    write_midi([NoteEvent(60 + i % 12, 70 + i, i * 0.5, 0.75) for i in range(24)], ours, tempo=96, key="Am",
               settings={"seed": 1})
    type0 = (b"\x00\xff\x51\x03\x07\xa1\x20\x00\xff\x58\x04\x04\x02\x18\x08" + b"\x00\x90\x3c\x64\x60\x3c\x00"
             + b"\x00\x40\x50\x60\x40\x00\x00\xb0\x40\x7f\x81\x00\xff\x51\x03\x0f\x42\x40"
             + b"\x00\x90\x43\x60\x83\x60\x43\x00\x00\xff\x2f\x00")
    drums = b"\x00\x99\x24\x64\x60\x89\x24\x00\x00\x90\x30\x50\x83\x60\x80\x30\x00\x00\xff\x2f\x00"
    return [ours.read_bytes(), smf([type0], 0), smf([type0, drums], 1)]


def smf(tracks: list[bytes], fmt: int) -> bytes:
    out = b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), 480)
    return out + b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)


def tiny_soundfont(tmp_path):
    """test_locks_inputs' few-KB SoundFont, when FluidSynth is installed (else the event lists only)."""
    from engine.files.audio import Synth
    from test_locks_inputs import sf2_file

    path = sf2_file(tmp_path / "tiny.sf2")
    try:
        Synth(path).close()
    except AudioError:
        return None
    return path


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(7)
        i = rng.randrange(len(b)) if b else 0
        if kind == 0 and b:                              # a byte changed
            b[i] = rng.randrange(256)
        elif kind == 1:                                  # bytes inserted (a delta, a status...)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
        elif kind == 2 and b:                            # bytes dropped
            del b[i:i + rng.randint(1, 8)]
        elif kind == 3:                                  # truncated
            b = b[:i]
        elif kind == 4 and len(b) > 22:                  # a chunk length rewritten
            at = rng.choice([4, 18])
            b[at:at + 4] = struct.pack(">I", rng.choice([0, 1, 7, len(b), 2**31 - 1, 2**32 - 1, rng.randrange(2**32)]))
        elif kind == 5 and b:                            # a huge delta time (a VLQ of 4 bytes)
            b[i:i] = b"\xff\xff\xff\x7f"
        elif kind == 6 and len(b) > 13:                  # the header's format, track count or division
            at = rng.choice([8, 10, 12])
            b[at:at + 2] = struct.pack(">H", rng.randrange(65536))
    return bytes(b)


@pytest.mark.timeout(120)
def test_fuzzed_midi_files_end_in_exit_0_or_2_with_one_line(tmp_path, capsys):
    rng = random.Random(20261207)
    base = seeds(tmp_path)
    path = tmp_path / "fuzz.mid"
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    outcomes = {0: 0, 2: 0}
    sf2, rendered = tiny_soundfont(tmp_path), 0
    for i in range(FILES):
        path.write_bytes(mutate(rng.choice(base), rng))
        rc = main(["music-va", str(path)])
        out, err = capsys.readouterr()
        assert rc in (0, 2), (i, rc, err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if rc == 2:
            assert len(lines) == 1 and lines[0].startswith("error: "), (i, err)
        else:
            assert not lines and out.startswith("valence"), (i, out, err)
        outcomes[rc] += 1
        try:
            primer = primer_from_midi(path)
            primer.tokens(primer.key.mode, 512)
        except (MidiError, PrimerError) as e:
            assert "\n" not in str(e)
        try:
            if sf2 is not None and i % 10 == 0:
                render_midi(path, tmp_path / "fuzz.wav", sf2)
                rendered += 1
            else:
                assert all(t >= 0 for t, _ in read_messages(path))
        except (MidiError, AudioError) as e:
            assert "\n" not in str(e)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start
    print(f"\n{FILES} fuzzed MIDI files: {outcomes[0]} read, {outcomes[2]} refused in one line, {rendered} "
          f"rendered; peak memory grew {grown / 2**20:.0f} MB")
    assert outcomes[0] > FILES // 20 and outcomes[2] > FILES // 20  # the fuzz reaches both sides
    assert grown < MAX_GROWTH
