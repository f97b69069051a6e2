"""Hearing a piece: ``render`` to WAV, ``generate --wav``, the Preview engine on a sink, and
``--humanize`` (a player's timing and touch, seeded)."""
import json
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from engine.files import audio
from engine.events import NoteEvent
from engine.music.humanize import humanize, metric_place
from engine.files.midi_io import read_midi
from engine.files.preview import Preview
from fixtures import make_midi
from test_cli import EXAMPLE, assert_one_line_error, run

try:
    SOUNDFONT = audio.find_soundfont()
    audio._fluidsynth()
except audio.AudioError as e:  # the README's test command installs both (scripts/apt-packages.txt)
    SOUNDFONT, WHY = None, str(e)
needs_synth = pytest.mark.skipif(SOUNDFONT is None, reason="no FluidSynth/SoundFont here")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (2, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2), w.getframerate()


@needs_synth
def test_render_gives_audio_as_long_as_the_music_plus_its_release(tmp_path):
    mid = make_midi(tmp_path / "happy.mid", happy=True, bars=2)   # 150 BPM: 3.2 s of notes
    music_s = read_midi(mid).duration_s
    r = run("render", mid, "-o", tmp_path / "out.wav", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    frames, rate = read_wav(tmp_path / "out.wav")
    assert rate == 44100 and obj["seconds"] == pytest.approx(len(frames) / rate, abs=1e-3)
    assert music_s <= len(frames) / rate <= music_s + audio.MAX_TAIL_S
    peak = np.abs(frames).max() / 32768
    assert 0.05 < peak < 1.0, "silent or clipped"
    # sound where the notes are, and the release dies away to (near) silence at the end
    assert np.abs(frames[: rate // 2]).max() > 300
    assert np.abs(frames[-rate // 50:]).max() < 64


@needs_synth
def test_generate_wav_writes_the_midi_and_its_audio(tmp_path):
    r = run("generate", EXAMPLE, "-o", tmp_path / "a.mid", "--wav", tmp_path / "a.wav", "--bars", "2", "--tempo", "120", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    frames, rate = read_wav(Path(obj["wav"]))
    assert 4.0 <= len(frames) / rate <= 4.0 + audio.MAX_TAIL_S  # 2 bars at 120 BPM
    assert np.abs(frames).max() > 1000


@pytest.mark.parametrize("content", [b"", b"MThd\x00\x00\x00\x06\x00\x01", b"not midi at all" * 10])
def test_render_refuses_a_broken_midi_file_in_one_line(tmp_path, content):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(content)
    r = run("render", bad, "-o", tmp_path / "out.wav")
    assert_one_line_error(r, 2)
    assert not (tmp_path / "out.wav").exists()


def test_a_missing_or_wrong_soundfont_is_one_line_and_exit_2(tmp_path):
    mid = make_midi(tmp_path / "x.mid", happy=False, bars=1)
    for sf in (tmp_path / "none.sf2", mid):
        r = run("render", mid, "-o", tmp_path / "out.wav", "--soundfont", sf)
        assert_one_line_error(r, 2)
        assert "SoundFont" in r.stderr
    r = run("generate", EXAMPLE, "-o", tmp_path / "a.mid", "--wav", tmp_path / "a.wav", "--soundfont", tmp_path / "none.sf2")
    assert_one_line_error(r, 2)
    assert not (tmp_path / "a.mid").exists() and not list(tmp_path.glob("*.wav"))


class ClockSink:
    """A fake audio device: 'plays' in real time, so position grows with the wall clock."""

    def __init__(self):
        self.frames, self.rate, self.t0, self.stopped = None, 44100, None, False

    def play(self, frames, sample_rate):
        self.frames, self.rate, self.t0, self.stopped = frames, sample_rate, time.monotonic(), False

    def position(self):
        return min(len(self.frames), int((time.monotonic() - self.t0) * self.rate)) if self.t0 else 0

    def active(self):
        return self.t0 is not None and not self.stopped and self.position() < len(self.frames)

    def stop(self):
        self.stopped = True


@needs_synth
def test_preview_plays_the_rendered_piece_and_its_playhead_moves_in_beats():
    notes = [NoteEvent(60 + i, 90, float(i), 1.0) for i in range(8)]
    sink = ClockSink()
    p = Preview(sink)
    seconds = p.play(notes, tempo=240.0)  # 8 beats = 2 s
    assert 2.0 <= seconds <= 2.0 + audio.MAX_TAIL_S and np.abs(sink.frames).max() > 1000
    time.sleep(0.3)
    head = p.playhead()
    assert head is not None and 0.8 <= head <= 2.0   # 0.3 s at 4 beats a second (and some slack)
    p.stop()
    assert not p.playing() and p.playhead() is None


# --- humanize ------------------------------------------------------------------------------

def grid_piece(bars=16):
    """Every sixteenth of every bar, with a three-note chord on each beat."""
    notes = []
    for s in range(bars * 16):
        beat = s / 4
        pitches = [48, 55, 64] if s % 4 == 0 else [72]
        notes += [NoteEvent(p, 80, beat, 0.25) for p in pitches]
    return notes


def test_humanize_zero_is_exactly_the_grid():
    notes = grid_piece(2)
    assert list(humanize(notes, 0.0, seed=3, tempo=100)) == notes


def test_humanize_moves_onsets_by_milliseconds_not_beats_and_varies_velocity():
    notes = grid_piece()
    played = list(humanize(notes, 1.0, seed=3, tempo=100))
    assert len(played) == len(notes)
    ms = np.array([(b.start - a.start) * 60000 / 100 for a, b in zip(sorted(notes, key=lambda n: (n.start, n.pitch)),
                                                                      sorted(played, key=lambda n: (round(n.start * 4) / 4, n.pitch)))])
    assert 2.0 < np.median(np.abs(ms)) < 20.0 and np.abs(ms).max() < 60.0
    vel = np.array([n.velocity for n in played])
    assert vel.std() > 2.0 and vel.min() >= 1 and vel.max() <= 127
    assert list(humanize(notes, 1.0, seed=3, tempo=100)) == played        # seeded
    assert list(humanize(notes, 1.0, seed=4, tempo=100)) != played


def test_humanize_plays_like_a_person_not_like_noise():
    notes = grid_piece(32)
    played = list(humanize(notes, 1.0, seed=5, tempo=120))
    by = {}
    for a, b in zip(notes, sorted(played, key=lambda n: (round(n.start * 4) / 4, n.pitch))):
        by.setdefault(metric_place(a.start), []).append(((b.start - a.start) * 500, b.velocity))
    shift = {k: np.mean([s for s, _ in v]) for k, v in by.items()}
    loud = {k: np.mean([v for _, v in vs]) for k, vs in by.items()}
    assert shift["one"] < shift["sixteenth"]            # ahead on the downbeat, laid back off the beat
    assert loud["one"] > loud["three"] > loud["eighth"] > loud["sixteenth"]   # accents follow the metre
    chords = {}
    for n in played:
        if n.pitch in (48, 55, 64):
            chords.setdefault(round(n.start * 4) // 4, []).append(n)
    rolled = [c for c in chords.values() if [n.pitch for n in sorted(c, key=lambda n: n.start)] == [48, 55, 64]]
    assert len(rolled) > 0.8 * len(chords)               # chords spread upward, low to high


def test_generate_humanize_zero_writes_the_grid_and_one_regenerates_exactly(tmp_path):
    import mido

    def onsets(path):
        mf, t, out = mido.MidiFile(path), 0, []
        for m in mf.tracks[1]:
            t += m.time
            if m.type == "note_on" and m.velocity:
                out.append(t)
        return mf.ticks_per_beat, out

    files = {}
    for h, name in ((0, "grid"), (1, "a"), (1, "b")):
        files[name] = tmp_path / f"{name}.mid"
        r = run("generate", EXAMPLE, "-o", files[name], "--bars", "2", "--tempo", "100", "--seed", "5", "--humanize", h)
        assert r.returncode == 0, r.stderr
    tpb, grid = onsets(files["grid"])
    assert all(t % (tpb // 4) == 0 for t in grid)                       # every onset on a sixteenth
    _, played = onsets(files["a"])
    assert sum(t % (tpb // 4) != 0 for t in played) > len(played) // 2  # a person's hands
    assert files["a"].read_bytes() == files["b"].read_bytes()           # seeded
    assert_one_line_error(run("generate", EXAMPLE, "-o", tmp_path / "x.mid", "--humanize", "1.5"))
