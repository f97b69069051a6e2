"""The file side under a hostile user: MIDI readers bounded by what they keep, never by numbers
written inside the file; inputs (the phrase, the model's own files) are never outputs; requests
that cannot be met are refused in one line before any work; SIGTERM ends ``stream`` with exit 0
at every stage. Each file here is a few lines of Python, as the reports that found them were."""
from __future__ import annotations

import os
import resource
import signal
import struct
import subprocess
import sys
from pathlib import Path

import mido
import pytest

from engine.cli import main
from engine.events import NoteEvent
from engine.files.midi_io import MAX_EVENTS, MAX_NOTES, MidiError, read_messages, read_midi, write_midi
from engine.music.primer import MAX_BARS, PrimerError, primer_from_midi, primer_from_notes
from engine.settings import MAX_ARC_POINTS, MAX_SEED

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "coffee.jpg"
GIB = 2**30


def smf(*tracks: bytes, tpb: int = 480, fmt: int = 1) -> bytes:
    """A Standard MIDI File around raw track bytes."""
    out = b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), tpb)
    for t in tracks:
        out += b"MTrk" + struct.pack(">I", len(t)) + t
    return out


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def note(delta: int, pitch: int, length: int, channel: int = 0) -> bytes:
    return vlq(delta) + bytes([0x90 | channel, pitch, 90]) + vlq(length) + bytes([0x80 | channel, pitch, 0])


EOT = b"\x00\xff\x2f\x00"


def run_cli(*argv, address_space: int = GIB, timeout: float = 60) -> subprocess.CompletedProcess:
    """``synesthete ARGV`` in a process that cannot grow past ``address_space`` bytes."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT, preexec_fn=limit)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    return lines[0]


# --- readers bounded by what they keep ---------------------------------------------------------

@pytest.mark.timeout(30)
def test_two_notes_2_28_ticks_apart_are_refused_as_a_phrase_in_a_second(tmp_path):
    """45 bytes: one note, then another 2^28 ticks (67 million bars at 1 tick a beat) later. Read,
    it is two notes; as a phrase to continue it is far past the longest phrase, and refused
    without tokenizing a single empty bar (before: 3.7 GB and still running after 90 s)."""
    far = tmp_path / "far.mid"
    far.write_bytes(smf(note(0, 60, 1) + note(2**28, 62, 1) + EOT, tpb=1))
    assert far.stat().st_size < 60
    assert [n.pitch for n in read_midi(far).notes] == [60, 62]
    with pytest.raises(PrimerError, match=f"too long for a phrase.*limit {MAX_BARS} bars"):
        primer_from_midi(far)
    out = tmp_path / "out.mid"
    proc = run_cli("generate", EXAMPLE, "--prime", far, "-o", out)
    assert proc.returncode == 2 and "too long for a phrase" in one_error_line(proc)
    assert not out.exists()


def test_a_phrase_exported_from_late_in_a_song_starts_at_its_own_first_bar(tmp_path):
    """A clip exported with its position in the song: 96 empty bars, then two bars of music."""
    p = tmp_path / "late.mid"
    notes = [NoteEvent(60 + i % 5, 80, 96 * 4 + i * 0.5, 0.5) for i in range(16)]
    write_midi(notes, p, tempo=100)
    primer = primer_from_midi(p)
    assert primer.bars == 2 and min(n.start for n in primer.notes) == 0.0
    assert primer.tempo == 100


@pytest.mark.timeout(30)
def test_a_primer_costs_the_window_it_keeps_not_its_length(monkeypatch):
    """100k notes over 1000 bars: only the last bars that fit half the window are tokenized, and
    each note is looked at once (before: every bar tokenized, every bar scanning every note)."""
    import engine.music.primer as primer_module

    notes = [NoteEvent(36 + (i * 7) % 48, 80, (i // 100) * 4 + (i % 16) * 0.25, 0.25) for i in range(100_000)]
    primer = primer_from_notes(notes, 120.0, "long")
    assert primer.bars == 1000
    tokenized = []
    real = primer_module._bar_tokens
    monkeypatch.setattr(primer_module, "_bar_tokens", lambda ns, bar, mode: tokenized.append(bar) or real(ns, bar, mode))
    toks = primer.tokens("major", 512)
    kept = toks.count(toks[0])  # each kept bar starts with the Bar token
    assert 0 < len(toks) <= 256 and 1 <= kept < 20
    assert tokenized == list(range(999, 999 - kept - 1, -1))  # the kept bars and the one that did not fit


def test_a_flood_of_notes_in_one_bar_is_thinned_before_encoding(monkeypatch):
    """50k notes in one bar (a flood into ``--listen``): a bar holds at most MAX_BAR_TOKENS tokens and
    every note costs one, so no more notes than that ever reach the encoder (before: all 50k,
    thinned by a fifth per try, and the answer came a bar late)."""
    import engine.music.primer as primer_module

    notes = [NoteEvent(40 + i % 48, 80, (i % 60) / 16, 0.05 + (i % 7) / 100) for i in range(50_000)]
    primer = primer_from_notes(notes, 120.0, "flood")
    sizes = []
    real = primer_module.notes_to_grid
    monkeypatch.setattr(primer_module, "notes_to_grid", lambda ns: sizes.append(len(ns)) or real(ns))
    toks = primer.tokens("major", 512)
    assert primer.bars == 1 and 0 < len(toks) <= primer_module.MAX_BAR_TOKENS
    assert sizes and max(sizes) <= primer_module.MAX_BAR_TOKENS


def test_a_tempo_of_zero_is_skipped_not_divided_by(tmp_path):
    """``FF 51 03 00 00 00``: no clock can play 0 µs a beat. The tempo before it holds."""
    p = tmp_path / "tempo0.mid"
    p.write_bytes(smf(b"\x00\xff\x51\x03\x00\x00\x00" + note(0, 60, 480) + note(0, 64, 480) + EOT))
    piece = read_midi(p)
    assert [n.pitch for n in piece.notes] == [60, 64] and piece.tempos == [(0.0, 120.0)]
    assert piece.notes[1].start_s == pytest.approx(0.5)
    assert read_messages(p)[-1][0] == pytest.approx(1.0)
    assert primer_from_midi(p).tempo == 120.0
    assert main(["music-va", str(p), "--json"]) == 0


@pytest.mark.timeout(60)
def test_a_16_mb_flood_of_notes_is_refused_within_a_gigabyte(tmp_path):
    """5.6 million note-ons never ended (running status: 3 bytes each), under the 16 MB limit:
    counted as they are parsed and refused at the note limit (before: 2.8 million of them got past
    the 200k limit, 2.6 GB and 58 s in ``music-va``)."""
    p = tmp_path / "flood.mid"
    body = b"\x00\x90\x3c\x64" + b"\x00\x3c\x64" * 5_500_000
    p.write_bytes(smf(body[: 16 * 2**20 - 64]))
    for argv in (("music-va", p), ("render", p, "-o", tmp_path / "x.wav"),
                 ("generate", EXAMPLE, "--prime", p, "-o", tmp_path / "x.mid")):
        proc = run_cli(*argv)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert f"more than {MAX_NOTES} notes" in one_error_line(proc)
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "x.mid").exists()


@pytest.mark.timeout(60)
def test_events_that_are_not_notes_are_counted_too(tmp_path):
    """Four million one-byte SysEx messages hold no music, and are counted all the same."""
    p = tmp_path / "sysex.mid"
    p.write_bytes(smf(b"\x00\xf0\x01\xf7" * 4_000_000))
    with pytest.raises(MidiError, match=f"more than {MAX_EVENTS} MIDI events"):
        read_midi(p)


def test_notes_stacked_on_one_key_end_first_on_first_off(tmp_path):
    """A hundred note-ons of one key, then a hundred note-offs: the first started is the first ended
    (one queue per key, so a stack of never-ended notes costs no quadratic search)."""
    track = b"".join(b"\x00" + bytes([0x90, 60, 10 + i]) for i in range(100))
    track += b"".join(vlq(480 if i == 0 else 1) + bytes([0x80, 60, 0]) for i in range(100)) + EOT
    p = tmp_path / "stack.mid"
    p.write_bytes(smf(track))
    notes = sorted(read_midi(p).notes, key=lambda n: n.end_beat)
    assert [n.velocity for n in notes] == list(range(10, 110))


def test_reading_agrees_with_mido_on_what_mido_can_read(tmp_path):
    """Running status, velocity-0 note-offs, tempo changes in another track, a time signature, data
    bytes above 127 (clipped as mido clips them): the same notes and times as mido's own reading."""
    t0 = (b"\x00\xff\x58\x04\x03\x02\x18\x08" + b"\x00\xff\x51\x03\x07\xa1\x20"
          + b"\x83\x60\xff\x51\x03\x0f\x42\x40" + EOT)
    t1 = (b"\x00\x90\x3c\x64" + b"\x60\x3c\x00" + b"\x00\x40\xff" + b"\x83\x00\x40\x00"
          + b"\x00\xc0\x05" + b"\x00\xb0\x40\x7f" + b"\x10\x91\x30\x50\x81\x00\x81\x30\x00" + EOT)
    p = tmp_path / "mixed.mid"
    p.write_bytes(smf(t0, t1))
    piece = read_midi(p)
    mf = mido.MidiFile(str(p), clip=True)
    seconds, opened, expect = 0.0, {}, []
    for msg in mf:
        seconds += msg.time
        if msg.type == "note_on" and msg.velocity:
            opened[(msg.channel, msg.note)] = (seconds, msg.velocity)
        elif msg.type in ("note_on", "note_off") and (msg.channel, msg.note) in opened:
            s0, vel = opened.pop((msg.channel, msg.note))
            expect.append((msg.note, vel, round(s0, 9), round(seconds, 9)))
    got = [(n.pitch, n.velocity, round(n.start_s, 9), round(n.end_s, 9)) for n in piece.notes]
    assert sorted(got) == sorted(expect) and len(got) == 3
    assert piece.time_signatures == [(0.0, 3, 4)]
    assert [m.bytes() for _, m in read_messages(p)] == [m.bytes() for m in mf if not m.is_meta]


# --- inputs are never outputs -----------------------------------------------------------------

def test_stream_never_writes_the_take_over_the_phrase_it_continues(tmp_path):
    phrase = tmp_path / "phrase.mid"
    write_midi([NoteEvent(60, 80, 0, 1), NoteEvent(64, 80, 1, 1)], phrase)
    before = phrase.read_bytes()
    assert main(["stream", str(EXAMPLE), "--prime", str(phrase), "--also-write", str(phrase)]) == 2
    assert phrase.read_bytes() == before


def test_the_models_own_files_are_never_outputs(tmp_path, capsys):
    from engine.files.outputs import MODEL_DIR

    sidecar = MODEL_DIR / "synesthete.json"
    before = sidecar.read_bytes()
    for argv in (["generate", str(EXAMPLE), "-o", str(sidecar)],
                 ["generate", str(EXAMPLE), "-o", str(tmp_path / "a.mid"), "--wav", str(MODEL_DIR / "judge.json")],
                 ["stream", str(EXAMPLE), "--also-write", str(MODEL_DIR / "decoder_step.onnx")]):
        assert main(argv) == 2
        assert "model's files" in capsys.readouterr().err
    assert sidecar.read_bytes() == before
    # a model directory of the user's own, through a symlink to one of its files
    mine = tmp_path / "model"
    mine.mkdir()
    (mine / "synesthete.json").write_text("{}")
    (tmp_path / "link.mid").symlink_to(mine / "synesthete.json")
    assert main(["generate", str(EXAMPLE), "--model-dir", str(mine), "-o", str(tmp_path / "link.mid")]) == 2
    assert (mine / "synesthete.json").read_text() == "{}"


# --- refused before any work ------------------------------------------------------------------

def test_too_many_pictures_are_refused_before_any_is_read(tmp_path, capsys):
    """200 pictures (before: 6.6 s of encoding them, then an error about --arc, a flag never
    given); and more pictures than bars (before: the extra pictures silently dropped). The
    pictures here are not even pictures: they are never opened."""
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"never read")
    assert main(["generate", *[str(junk)] * 200, "-o", str(tmp_path / "x.mid")]) == 2
    assert f"at most {MAX_ARC_POINTS}" in capsys.readouterr().err
    assert main(["generate", *[str(junk)] * 5, "--bars", "4", "-o", str(tmp_path / "x.mid")]) == 2
    assert "5 pictures need at least 5 bars" in capsys.readouterr().err
    assert not (tmp_path / "x.mid").exists()


@pytest.mark.parametrize("arc", ["", " ", ";;;"])
def test_an_empty_arc_is_refused_not_ignored(tmp_path, capsys, arc):
    assert main(["generate", str(EXAMPLE), f"--arc={arc}", "-o", str(tmp_path / "x.mid")]) == 2
    err = capsys.readouterr().err
    assert "--arc is empty" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("flag", ["--answer-cc", "--cc-valence", "--cc-arousal"])
@pytest.mark.parametrize("value", ["300", "-1", "128"])
def test_a_controller_number_outside_midi_is_refused(capsys, flag, value):
    assert main(["stream", str(EXAMPLE), flag, value]) == 2
    assert "0..127" in capsys.readouterr().err


# --- stream at the edges ----------------------------------------------------------------------

rtmidi = pytest.importorskip("rtmidi")


@pytest.mark.jack
@pytest.mark.timeout(60)
def test_loop_goes_on_past_the_top_of_the_seed_range(jack_server, tmp_path):
    """``--loop --seed 2^63-1`` (before: one piece, then "--seed must be … (received 2^63)")."""
    from test_live_jack import run_driver, unique, wait_for

    proc = run_driver(tmp_path, "--port-name", unique("SynS"), "--api", "jack", "--loop", "--tempo", "300",
                      "--bars", "1", "--seed", str(MAX_SEED))
    lines: list[str] = []
    try:
        assert wait_for(lambda: (lines.append(proc.stderr.readline()) or "piece 3" in lines[-1]), 30), lines
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "error" not in "".join(lines) + err, "".join(lines) + err


SLOW_LOAD = """
import os, sys, time, types
class Runtime:
    @classmethod
    def load(cls, model_dir=None):
        print("loading", file=sys.stderr, flush=True)
        time.sleep(30)
sys.modules["engine.generation.runtime"] = types.SimpleNamespace(Runtime=Runtime)
from engine.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.jack
@pytest.mark.timeout(60)
@pytest.mark.parametrize("stage", ["loading the model", "listening for the phrase"])
def test_sigterm_at_any_stage_of_stream_exits_0(jack_server, tmp_path, stage):
    from test_live_jack import run_driver, unique, wait_for

    name = unique("SynT")
    if stage == "loading the model":
        (tmp_path / "slow.py").write_text(SLOW_LOAD)
        proc = subprocess.Popen([sys.executable, str(tmp_path / "slow.py"), "stream", str(EXAMPLE), "--port-name", name,
                                 "--api", "jack"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        ready = "loading"
    else:
        proc = run_driver(tmp_path, "--port-name", name, "--api", "jack", "--listen", "2")
        ready = "Listening on"
    lines: list[str] = []
    try:
        assert wait_for(lambda: (lines.append(proc.stderr.readline()) or ready in lines[-1]), 20), lines
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(lines) + err
    assert "Traceback" not in err


def test_listen_drops_drum_hits_as_prime_does():
    from engine.live.listen import PhraseRecorder

    rec = PhraseRecorder(120.0, 1)
    t = 100.0
    for i, (ch, pitch) in enumerate([(0, 60), (9, 36), (0, 64), (9, 42), (0, 67)]):
        rec.handle(mido.Message("note_on", channel=ch, note=pitch, velocity=90), t + i * 0.25)
        rec.handle(mido.Message("note_off", channel=ch, note=pitch), t + i * 0.25 + 0.2)
    rec.handle(mido.Message("pitchwheel", channel=0, pitch=100), t + 1.5)  # not a note: ignored
    assert sorted(n.pitch for n in rec.primer().notes) == [60, 64, 67]
