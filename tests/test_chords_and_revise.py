"""Writing with the musician: a progression the harmony follows, and bars rewritten with the rest kept.

Uses the shipped model through the command line, as users meet it."""
import json
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from engine.events import NoteEvent
from engine.files.midi_edit import splice_notes
from engine.files.midi_io import read_midi
from engine.generation import harmony
from engine.music.chords import parse_chord, parse_progression, progression_from_midi, progression_key, recognise_bars

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "coffee.jpg"


def run(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def one_line_error(r):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def notes_of(path):
    return [NoteEvent(n.pitch, n.velocity, n.start_beat, n.end_beat - n.start_beat) for n in read_midi(path).notes]


def exact_notes(path, keep=lambda start: True):
    return sorted((n.pitch, n.velocity, n.start_beat, n.end_beat) for n in read_midi(path).notes if keep(n.start_beat))


# --- the harmony rules -------------------------------------------------------------------------

def test_a_chord_span_runs_over_the_beats_of_one_chord_and_knows_the_next():
    c, f = parse_chord("C"), parse_chord("F")
    span = harmony.span_at([c, c, c, c, f, f, None, None], 5)
    assert (span.chord, span.start, span.end, span.after, span.after_end) == (c, 0, 16, f, 24)
    assert harmony.span_at([c, c, c, c, f, f, None, None], 4 * 6) is None   # no chord held there


def test_a_note_stops_where_its_chord_does_unless_the_next_chord_holds_it():
    c, am = parse_chord("C"), parse_chord("Am")
    span = harmony.span_at([c] * 4 + [am] * 4, 8)   # step 8: two beats before the change
    longest = lambda ok: max(np.array(harmony.DURATION_STEPS)[ok])
    assert longest(harmony.duration_allowed(span, 67, 8)) == 8       # G: not in Am, ends at the change
    assert longest(harmony.duration_allowed(span, 64, 8)) == 24      # E: rings on through Am
    assert longest(harmony.duration_allowed(span, 62, 8)) == 2       # D: outside C, an eighth at most


def test_below_middle_c_only_the_chords_tones_may_sound_and_never_a_tension_as_the_bass():
    allowed, bias = harmony.pitch_rule(parse_chord("C"), True, True)
    pitches = np.arange(len(allowed)) + harmony.PITCH_MIN
    assert set(pitches[allowed] % 12) == {0, 4, 7}
    allowed, _ = harmony.pitch_rule(parse_chord("C"), False, False)
    assert {p % 12 for p in pitches[allowed] if p < 60} == {0, 4, 7} and 62 in pitches[allowed]


def test_the_key_follows_where_the_progression_starts_or_resolves():
    key = lambda t: progression_key(parse_progression(t))
    assert key("Am F C G") == (9, "minor")
    assert key("C Am F G") == (0, "major")
    assert key("Dm G C") == (0, "major")
    assert key("Am Dm E7 Am") == (9, "minor")


def test_a_progression_that_fits_a_major_key_and_its_relative_minor_takes_the_moods():
    from engine.events import VA
    from engine.request import make_plan
    from engine.settings import GenerationSettings

    key = lambda chords, v, **kw: make_plan(GenerationSettings(chords=chords, **kw), va=VA(v, 0.0)).key.name
    assert (key("Am F C G", 0.5), key("Am F C G", -0.5)) == ("C", "Am")
    assert (key("Am Dm E7 Am", 0.5), key("Am Dm E7 Am", -0.5)) == ("Am", "Am")   # E7's G#: A minor only
    assert key("Am F C G", 0.5, key="D") == "D"                                      # a key given stays


# --- --chords -------------------------------------------------------------------------------

def test_a_progression_is_followed_bar_by_bar_and_lands_in_the_file(tmp_path):
    out = tmp_path / "out.mid"
    r = run("generate", EXAMPLE, "-o", out, "--bars", "8", "--seed", "3", "--chords", "Am F C G", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["key"] == "C" and obj["chords"] == "Am F C G"   # a bright picture: the chords' major reading
    asked = [parse_chord(c) for c in "Am F C G Am F C G".split()]
    got = recognise_bars(notes_of(out), 8)
    assert sum(g.same_harmony(a) for g, a in zip(got, asked)) >= 7, [g.name for g in got]
    meta = mido.MidiFile(out).tracks[0]
    markers = [(m.text) for m in meta if m.type == "marker"]
    assert markers == ["Am", "F", "C", "G"] * 2
    assert '"chords": "Am F C G"' in [m.text for m in meta if m.type == "text"][0]


def test_chords_foreign_to_the_scale_still_sound_under_scale_lock(tmp_path):
    out = tmp_path / "out.mid"
    r = run("generate", EXAMPLE, "-o", out, "--bars", "4", "--seed", "1", "--chords", "Am E7", "--scale-lock")
    assert r.returncode == 0, r.stderr
    notes = notes_of(out)
    e7_bars = [n for n in notes if 4 <= n.start % 8]
    assert any(n.pitch % 12 == 8 for n in e7_bars)                 # G#, the leading tone E7 asks for
    assert all(n.pitch % 12 != 8 for n in notes if n.start % 8 < 4 and n.start > 0.01 and n.end <= 4 * (n.start // 4 + 1))


def test_chords_from_a_clip_give_back_the_progression_it_plays(tmp_path):
    out, again = tmp_path / "out.mid", tmp_path / "again.mid"
    assert run("generate", EXAMPLE, "-o", out, "--bars", "4", "--seed", "2", "--chords", "C G Am F").returncode == 0
    harmonies = lambda text: [(c.root, c.quality) for c, _ in parse_progression(text)]   # inversions aside
    want = harmonies("C G Am F")
    assert harmonies(progression_from_midi(out)) == want
    r = run("generate", EXAMPLE, "-o", again, "--bars", "4", "--seed", "5", "--chords-from", out, "--json")
    assert r.returncode == 0, r.stderr
    assert harmonies(json.loads(r.stdout)["chords"]) == want


@pytest.mark.parametrize("args, says", [
    (["--chords", "Am Fx C"], "unknown chord 'Fx'"),
    (["--chords", " "], None),  # blank: the model's own harmony, not an error
    (["--chords", "Am:0"], "bad chord length"),
])
def test_a_bad_progression_is_one_line_and_writes_nothing(tmp_path, args, says):
    out = tmp_path / "out.mid"
    r = run("generate", EXAMPLE, "-o", out, "--bars", "2", *args)
    if says is None:
        assert r.returncode == 0, r.stderr
        return
    assert says in one_line_error(r)
    assert not out.exists()


def test_chords_and_chords_from_together_are_refused(tmp_path):
    clip = tmp_path / "clip.mid"
    assert run("generate", EXAMPLE, "-o", clip, "--bars", "2", "--chords", "C G").returncode == 0
    r = run("generate", EXAMPLE, "-o", tmp_path / "o.mid", "--chords", "C", "--chords-from", clip)
    assert "use one" in one_line_error(r)


# --- --revise ---------------------------------------------------------------------------------

def _users_piece(path: Path) -> Path:
    """A user's file: two tracks, a sustain pedal, a marker, a tempo change, 8 bars of chords and a tune."""
    mf = mido.MidiFile(type=1, ticks_per_beat=960)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0), mido.MetaMessage("marker", text="verse", time=0),
                           mido.MetaMessage("set_tempo", tempo=600000, time=960 * 16)])
    rng = np.random.default_rng(0)
    events = []
    for bar, root in enumerate([57, 53, 48, 55] * 2):
        for beat in range(4):
            t = (bar * 4 + beat) * 960
            for p in (root - 12, root, root + 4 - (root == 57), root + 7):
                events += [(t, 1, mido.Message("note_on", note=p, velocity=60 + beat, channel=0)),
                           (t + 900, 0, mido.Message("note_off", note=p, velocity=0, channel=0))]
            tune = 72 + int(rng.integers(-3, 5))
            events += [(t + 480, 1, mido.Message("note_on", note=tune, velocity=80, channel=1)),
                       (t + 1400 - 480 * (bar == 7 and beat == 3), 0, mido.Message("note_off", note=tune, velocity=0, channel=1))]
        events.append((bar * 4 * 960, 1, mido.Message("control_change", control=64, value=127, channel=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    tr, now = mido.MidiTrack(), 0
    for t, _, m in events:
        tr.append(m.copy(time=t - now))
        now = t
    mf.tracks += [meta, tr]
    mf.save(path)
    return path


def test_revise_rewrites_only_the_bars_asked_and_keeps_every_other_note_and_event(tmp_path):
    src = _users_piece(tmp_path / "mine.mid")
    before = src.read_bytes()
    out = tmp_path / "take.mid"
    r = run("generate", EXAMPLE, "--revise", src, "--change", "5-6", "-o", out, "--seed", "1", "--json")
    assert r.returncode == 0, r.stderr
    assert src.read_bytes() == before                         # the user's file is an input, never touched
    outside = lambda s: not 16 <= s < 24
    assert exact_notes(out, outside) == exact_notes(src, outside)
    new = [n for n in read_midi(out).notes if 16 <= n.start_beat < 24]
    assert new and exact_notes(out, lambda s: not outside(s)) != exact_notes(src, lambda s: not outside(s))
    assert all(n.end_beat <= 24 + 1e-9 for n in new)          # nothing hangs over the kept bars
    kinds = lambda p: [(m.type, getattr(m, "text", None), getattr(m, "tempo", None), getattr(m, "control", None))
                       for t in mido.MidiFile(p).tracks for m in t if not m.type.startswith("note")]
    assert kinds(out) == kinds(src)                            # tempo map, marker, pedal: all still there
    obj = json.loads(r.stdout)
    assert obj["bars"] == [5, 6] and obj["new_notes"] == len(new)


def test_another_seed_is_another_take_of_the_same_bars(tmp_path):
    src = _users_piece(tmp_path / "mine.mid")
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    for out, seed in ((a, "1"), (b, "2")):
        assert run("generate", EXAMPLE, "--revise", src, "--change", "3", "-o", out, "--seed", seed).returncode == 0
    inside = lambda s: 8 <= s < 12
    assert exact_notes(a, inside) != exact_notes(b, inside)
    assert exact_notes(a, lambda s: not inside(s)) == exact_notes(b, lambda s: not inside(s))


@pytest.mark.parametrize("args, says", [
    (["--change", "9-10"], "the piece has 8 bars"),
    (["--change", "6-5"], "the last comes after the first"),
    (["--change", "x"], "FIRST-LAST"),
    ([], "needs --change"),
])
def test_a_bad_range_is_one_line_and_writes_nothing(tmp_path, args, says):
    src = _users_piece(tmp_path / "mine.mid")
    out = tmp_path / "take.mid"
    r = run("generate", EXAMPLE, "--revise", src, *args, "-o", out)
    assert says in one_line_error(r)
    assert not out.exists()


def test_a_piece_not_in_four_four_or_the_piece_itself_as_output_is_refused(tmp_path):
    src = _users_piece(tmp_path / "mine.mid")
    mf = mido.MidiFile(src)
    mf.tracks[0].insert(0, mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0))
    waltz = tmp_path / "waltz.mid"
    mf.save(waltz)
    assert "4/4" in one_line_error(run("generate", EXAMPLE, "--revise", waltz, "--change", "2", "-o", tmp_path / "o.mid"))
    before = src.read_bytes()
    one_line_error(run("generate", EXAMPLE, "--revise", src, "--change", "2", "-o", src))
    assert src.read_bytes() == before
    assert "needs --revise" in one_line_error(run("generate", EXAMPLE, "--change", "2", "-o", tmp_path / "o.mid"))


def test_splicing_drops_exactly_the_notes_that_start_in_the_span(tmp_path):
    src = _users_piece(tmp_path / "mine.mid")
    out = tmp_path / "spliced.mid"
    splice_notes(src, out, 4.0, 8.0, [NoteEvent(61, 90, 4.5, 1.0)])
    got = exact_notes(out)
    want = sorted(exact_notes(src, lambda s: not 4 <= s < 8) + [(61, 90, 4.5, 5.5)])
    assert got == want


def test_a_take_follows_the_pieces_arc_and_progression_at_its_own_bars_and_has_no_form_of_its_own(tmp_path):
    from engine.events import VA
    from engine.generation.runtime import Runtime
    from engine.settings import GenerationSettings

    rt = Runtime.load()
    arc = (VA(-0.8, -0.8), VA(0.8, 0.8))
    settings = GenerationSettings(bars=8, seed=3, arc=arc, chords="C G Am F", form="i4 A4")
    piece = rt.piece(rt.plan(settings, [rt.encode(EXAMPLE)]))
    seen = []
    real = rt.plan
    rt.plan = lambda s, *a, **kw: seen.append(s) or real(s, *a, **kw)
    rev = rt.revise(settings, [], list(piece.notes), 3, 4)
    s = seen[0]
    assert s.form == "free" and s.bars == 2
    from engine.settings import arc_point

    assert [p.arousal for p in s.arc] == pytest.approx([arc_point(arc, b, 8).arousal for b in (2, 3)])   # not squeezed
    assert [c.name for c in rev.chords] == ["Am"] * 4 + ["F"] * 4        # bars 3-4 of C G Am F


def test_revising_a_piece_written_over_a_progression_keeps_its_chords_in_the_new_bars(tmp_path):
    src, out = tmp_path / "song.mid", tmp_path / "take.mid"
    assert run("generate", EXAMPLE, "-o", src, "--bars", "4", "--seed", "2", "--chords", "C G Am F").returncode == 0
    r = run("generate", EXAMPLE, "--revise", src, "--change", "2-3", "-o", out, "--seed", "4", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["chords"] == "G Am"           # read from the file's own settings
    got = recognise_bars(notes_of(out), 4)
    assert [c.root for c in got[1:3]] == [7, 9]
