"""Song form: sections written out or drawn from real songs, bars that return with variation, markers."""
import json
import subprocess
import sys
from pathlib import Path

import mido
import pytest

from engine.errors import UsageError
from engine.music.form import FORMS_FILE, Section, auto_form, fit_form, form_text, parse_form, restatements, section_lean
from engine.settings import GenerationSettings

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "rocket.jpg"


def run(*args):
    return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=180, cwd=REPO)


def test_a_form_is_read_as_its_annotators_write_it():
    assert parse_form("i4A8 B8") == (Section("i", 0, 4), Section("A", 4, 8), Section("B", 12, 8))
    for bad in ("A8 Q", "8A", "A0", ""):
        with pytest.raises(UsageError):
            parse_form(bad)


def test_a_written_form_is_repeated_or_cut_to_fill_the_bars():
    assert form_text(fit_form(parse_form("A8 B8"), 32)) == "A8 B8 A8 B8"
    assert form_text(fit_form(parse_form("A8 B8"), 12)) == "A8 B4"


def test_auto_draws_the_opening_of_a_real_song_that_fills_the_bars_exactly():
    real = {f for f in json.loads(FORMS_FILE.read_text())["forms"]}
    for bars in (8, 16, 32):
        for seed in range(5):
            sections = auto_form(bars, seed)
            assert sum(s.bars for s in sections) == bars
            opening = form_text(sections).replace(" ", "")
            assert any(f.startswith(opening) for f in real), opening
    assert len({form_text(auto_form(32, seed)) for seed in range(20)}) > 5   # the seed chooses among songs


def test_a_returning_section_restates_the_first_two_bars_of_each_phrase_and_writes_the_rest_anew():
    plan = restatements(parse_form("A8 B8 A8"))
    assert plan[16:24] == (0, 1, None, None, 4, 5, None, None)
    assert plan[4] == 0 and plan[12] == 8          # inside a first A8 or B8, a phrase answered
    assert plan[8:12] == (None,) * 4               # B is new


def test_sections_lean_the_aimed_arousal_intro_quieter_chorus_fuller():
    s = GenerationSettings(bars=16, form="i4 A4 B8", intensity=1.0)
    from engine.events import VA

    aims = [s.bar_aim(VA(0.0, 0.0), b).arousal for b in (0, 4, 8)]
    assert aims == [section_lean("i"), 0.0, section_lean("B")] and aims[0] < aims[1] < aims[2]


def test_form_auto_writes_sections_as_markers_and_the_drawn_form_into_the_metadata(tmp_path):
    out, again = tmp_path / "song.mid", tmp_path / "again.mid"
    r = run("generate", EXAMPLE, "-o", out, "--bars", "16", "--seed", "2")   # auto, the default
    assert r.returncode == 0, r.stderr
    meta = mido.MidiFile(out).tracks[0]
    settings = json.loads([m.text for m in meta if m.type == "text"][0].split(" ", 1)[1])
    written = settings["form"]
    assert written == form_text(auto_form(16, 2))
    markers = [m.text for m in meta if m.type == "marker"]
    assert markers == [{"i": "Intro", "o": "Outro", "X": "Bridge", "x": "Interlude"}.get(s.letter, s.letter) for s in parse_form(written)]
    r = run("generate", EXAMPLE, "-o", again, "--bars", "16", "--form", written, "--seed", "2")
    assert r.returncode == 0, r.stderr
    note = lambda p: [m for m in mido.MidiFile(p).tracks[1] if m.type.startswith("note")]
    assert note(out) == note(again)                 # the stored form makes the same piece again


def test_a_bad_form_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "o.mid"
    r = run("generate", EXAMPLE, "-o", out, "--form", "A8 Q")
    assert r.returncode == 2 and "form" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_auto_leaves_a_piece_under_sixteen_bars_one_phrase_written_anew():
    from engine.music.form import MIN_SONG_BARS, resolve

    assert resolve("auto", MIN_SONG_BARS - 1, 3) == "free"
    assert sum(s.bars for s in parse_form(resolve("auto", MIN_SONG_BARS, 3))) == MIN_SONG_BARS
    assert resolve("A8 B8", 8, 0) == "A8 B8" and resolve("phrases", 32, 0) == "phrases"


def test_a_bar_restates_an_earlier_one_only_over_the_same_chords():
    from engine.events import VA
    from engine.generation.compose import sampling_settings

    same = sampling_settings(GenerationSettings(bars=16, form="A8 A8", chords="C G Am F"), VA(0.5, 0.5)).plan
    assert same[8:10] == (0, 1)                       # the progression comes round with the section
    other = sampling_settings(GenerationSettings(bars=16, form="A8 A8", chords="C G Am"), VA(0.5, 0.5)).plan
    assert all(r is None for r in other)               # a 3-chord cycle: bar 8 is Am where bar 0 was C
