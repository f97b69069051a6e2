"""Co-play in the engine: an emotion arc moves the music bar by bar, several pictures make one
piece, a musician's phrase is continued in its key and tempo, and scale lock keeps every note in
the key. (Live steering over a real port: tests/test_live_jack.py.)"""
import json
from pathlib import Path

import mido
import numpy as np
import pytest

from engine.events import VA
from engine.music.keys import estimate_key, parse_key
from engine.music.primer import PrimerError, primer_from_midi
from engine.settings import GenerationSettings, arc_point, parse_arc
from engine.generation.runtime import Runtime
from test_cli import EXAMPLE, assert_one_line_error, run

ROCKET = EXAMPLE.parent / "rocket.jpg"
SAD_TO_EXCITED = (VA(-0.8, -0.8), VA(0.8, 0.8))


@pytest.fixture(scope="module")
def rt():
    return Runtime.load()


@pytest.fixture(scope="module")
def coffee(rt):
    return rt.encode(EXAMPLE)


def spearman(x, y) -> float:
    rx, ry = (np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(float) for v in (x, y))
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def per_bar(notes, bars):
    return [[n for n in notes if 4 * b <= n.start < 4 * b + 4] for b in range(bars)]


def test_arc_points_spread_evenly_from_the_first_bar_to_the_last():
    arc = parse_arc("-0.8,-0.8;0.8,0.8")
    assert arc == SAD_TO_EXCITED
    assert arc_point(arc, 0, 8) == VA(-0.8, -0.8) and arc_point(arc, 7, 8) == VA(0.8, 0.8)
    mid = arc_point(parse_arc("0,0;1,1;0,0"), 2, 5)   # the middle point at the middle bar
    assert mid == VA(1.0, 1.0)


def test_an_arc_from_sad_to_excited_raises_density_and_velocity_bar_by_bar(rt, coffee):
    rd, rv = [], []
    for seed in range(6):
        s = GenerationSettings(bars=8, seed=seed, tempo=110, arc=SAD_TO_EXCITED)
        bars = per_bar(rt.compose(s, coffee, SAD_TO_EXCITED[0]).notes, 8)
        rd.append(spearman(range(8), [len(b) for b in bars]))
        rv.append(spearman(range(8), [np.mean([n.velocity for n in b]) if b else 0 for b in bars]))
    assert np.mean(rd) >= 0.6, rd
    assert np.mean(rv) >= 0.6, rv


def test_the_file_stores_the_arc_so_it_can_be_regenerated(tmp_path):
    out = tmp_path / "arc.mid"
    r = run("generate", EXAMPLE, "-o", out, "--bars", "4", "--arc=-0.8,-0.8;0.8,0.8", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["arc"] == [{"valence": -0.8, "arousal": -0.8}, {"valence": 0.8, "arousal": 0.8}]
    assert obj["target_va"] == {"valence": -0.8, "arousal": -0.8} and obj["key"].endswith("m")  # opens sad: minor
    meta = json.loads(next(m.text for m in mido.MidiFile(out).tracks[0] if m.type == "text").split(" ", 1)[1])
    assert meta["arc"] == [[-0.8, -0.8], [0.8, 0.8]]
    again = tmp_path / "again.mid"
    r = run("generate", EXAMPLE, "-o", again, "--bars", "4", "--arc=" + ";".join(f"{v},{a}" for v, a in meta["arc"]),
            "--seed", meta["seed"])
    assert r.returncode == 0 and again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("arc", ["0.5,0.5", "0,0;2,0", "0,0;x,1", "0,0;" * 40 + "0,0"])
def test_a_bad_arc_is_one_line_and_exit_2(tmp_path, arc):
    assert_one_line_error(run("generate", EXAMPLE, "-o", tmp_path / "x.mid", f"--arc={arc}"))


def test_several_pictures_make_one_piece_with_a_section_each(tmp_path, rt):
    out = tmp_path / "two.mid"
    r = run("generate", EXAMPLE, ROCKET, "-o", out, "--bars", "4", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    vas = [rt.encode(p).va.as_dict() for p in (EXAMPLE, ROCKET)]
    assert [{k: v for k, v in i.items() if k != "path"} for i in obj["images"]] == vas
    assert obj["arc"] == vas and obj["bars"] == 4
    meta = json.loads(next(m.text for m in mido.MidiFile(out).tracks[0] if m.type == "text").split(" ", 1)[1])
    assert meta["images"] == ["coffee.jpg", "rocket.jpg"]
    # the second section really hears the second picture: same settings, other second picture, other music
    three = tmp_path / "three.mid"
    r = run("generate", EXAMPLE, EXAMPLE.parent / "chelsea.jpg", "-o", three, "--bars", "4", "--arc=0,0;0,0")
    assert r.returncode == 0, r.stderr
    first_half = lambda p: [(m.type, m.note) for m in mido.MidiFile(p).tracks[1] if m.type == "note_on"][:3]  # noqa: E731
    assert first_half(out) and three.read_bytes() != out.read_bytes()


def d_major_phrase(path: Path, tempo: float = 96, meter=(4, 4)) -> Path:
    """Two bars in D major: a scale-wise melody over D - G - A - D."""
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    tr = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo)),
                         mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1])])
    mf.tracks.append(tr)
    ev = []
    for i, p in enumerate([74, 76, 78, 79, 81, 79, 78, 76, 73, 76, 74, 73, 74, 76]):
        ev += [(i * 240, 1, p), (i * 240 + 230, 0, p)]
    ev += [(14 * 240, 1, 74), (16 * 240 - 10, 0, 74)]
    for b, chord in enumerate([(50, 62, 66, 69), (55, 62, 67, 71), (57, 61, 64, 69), (50, 62, 66, 69)]):
        ev += [e for p in chord for e in ((b * 960, 1, p), (b * 960 + 950, 0, p))]
    now = 0
    for t, on, p in sorted(ev, key=lambda e: (e[0], e[1])):
        tr.append(mido.Message("note_on" if on else "note_off", note=p, velocity=80 if on else 0, time=t - now))
        now = t
    mf.save(str(path))
    return path


def test_a_phrase_in_d_major_is_continued_in_d_major_at_its_tempo(tmp_path):
    phrase = d_major_phrase(tmp_path / "phrase.mid")
    kept = 0
    for seed in range(4):
        out = tmp_path / f"cont{seed}.mid"
        r = run("generate", EXAMPLE, "-o", out, "--prime", phrase, "--bars", "4", "--seed", seed, "--json")
        assert r.returncode == 0, r.stderr
        obj = json.loads(r.stdout)
        assert obj["prime"]["key"] == "D" and obj["tempo"] == 96 and obj["key"] == "D"
        mf = mido.MidiFile(out)
        assert mf.length == pytest.approx(4 * 4 * 60 / 96, abs=1e-3)   # the continuation alone
        notes = [m for m in mido.merge_tracks(mf.tracks) if m.type == "note_on" and m.velocity]
        tonic, mode, _ = estimate_key([m.note for m in notes])
        kept += (tonic, mode) in ((2, "major"), (11, "minor"))
    assert kept >= 3, f"D major kept in {kept} of 4 seeds"


def test_include_prime_writes_the_phrase_then_the_continuation(tmp_path):
    phrase = d_major_phrase(tmp_path / "phrase.mid")
    out = tmp_path / "both.mid"
    r = run("generate", EXAMPLE, "-o", out, "--prime", phrase, "--include-prime", "--bars", "2", "--seed", "1")
    assert r.returncode == 0, r.stderr
    mf = mido.MidiFile(out)
    assert mf.length == pytest.approx(4 * 4 * 60 / 96, abs=1e-3)   # 2 bars of phrase + 2 continued
    ons = [(t, m.note) for t, m in _timed(mf) if m.type == "note_on" and m.velocity]
    phrase_ons = [(t, m.note) for t, m in _timed(mido.MidiFile(phrase)) if m.type == "note_on" and m.velocity]
    assert sorted(o for o in ons if o[0] < 2 * 4 * 0.625 - 1e-6) == sorted(phrase_ons)
    assert any(t >= 5.0 for t, _ in ons)   # and music after it


def _timed(mf):
    t = 0.0
    for m in mf:
        t += m.time
        yield round(t, 6), m


@pytest.mark.parametrize("content,why", [(b"MThd garbage", "not a readable MIDI"), (None, "3/4")])
def test_a_primer_that_cannot_be_continued_is_one_line(tmp_path, content, why):
    p = tmp_path / "p.mid"
    if content is None:
        d_major_phrase(p, meter=(3, 4))
    else:
        p.write_bytes(content)
    r = run("generate", EXAMPLE, "-o", tmp_path / "x.mid", "--prime", p)
    assert_one_line_error(r)
    assert why in r.stderr and not (tmp_path / "x.mid").exists()
    with pytest.raises((PrimerError, ValueError)):
        primer_from_midi(p)


def test_a_long_primer_keeps_its_last_bars_within_the_window(tmp_path, rt):
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    for i in range(64 * 16):   # 64 bars of sixteenths
        tr += [mido.Message("note_on", note=60 + i % 12, velocity=70, time=0), mido.Message("note_off", note=60 + i % 12, time=120)]
    mf.save(str(tmp_path / "long.mid"))
    primer = primer_from_midi(tmp_path / "long.mid")
    assert primer.bars == 64
    toks = primer.tokens("major", rt.config["block_size"])
    assert 0 < len(toks) <= rt.config["block_size"] // 2 and toks.count(5) < 64
    piece = rt.piece(rt.plan(GenerationSettings(bars=2, seed=0), [rt.blank()], va=VA(0, 0), primer=primer))
    assert piece.plan.prime == toks  # the plan keeps the phrase's last bars, as read here
    assert piece.notes and max(n.end for n in piece.notes) <= 8


@pytest.mark.parametrize("key", ["auto", "F#", "Bbm"])
def test_scale_lock_leaves_no_note_outside_the_scale(rt, coffee, key):
    for seed in range(3):
        s = GenerationSettings(bars=4, seed=seed, key=key, scale_lock=True, temperature=1.5)
        piece = rt.compose(s, coffee)
        k = piece.key
        scale = {(k.tonic + i) % 12 for i in ((0, 2, 4, 5, 7, 9, 11) if k.mode == "major" else (0, 2, 3, 5, 7, 8, 10))}
        assert piece.notes and {n.pitch % 12 for n in piece.notes} <= scale
    assert parse_key(key) is None or k.name == parse_key(key).name


def test_scale_lock_holds_for_a_continued_phrase(tmp_path):
    out = tmp_path / "c.mid"
    r = run("generate", EXAMPLE, "-o", out, "--prime", d_major_phrase(tmp_path / "p.mid"), "--scale-lock", "--bars", "4")
    assert r.returncode == 0, r.stderr
    d_major = {2, 4, 6, 7, 9, 11, 1}
    assert {m.note % 12 for m in mido.merge_tracks(mido.MidiFile(out).tracks) if m.type == "note_on"} <= d_major
