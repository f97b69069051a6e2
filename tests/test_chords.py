"""Chords: every spelling parses to one value, progressions read as bars or beats, bad names are
one-line errors, the corpora's labels convert, and notes written for a chord are recognised as it."""
import itertools

import numpy as np
import pytest

from engine.music.chords import (NO_CHORD, QUALITIES, RECOGNISED, Chord, from_pop1k7, from_pop909, parse_chord,
                           parse_progression, per_bar, per_beat, recognise, recognise_bars)
from engine.errors import UsageError
from engine.events import NoteEvent

C, Db, D, Eb, E, F, Gb, G, Ab, A, Bb, B = range(12)


# --- names --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, root, quality, tones, bass", [
    ("C", C, "maj", {C, E, G}, C),
    ("Cm", C, "min", {C, Eb, G}, C),
    ("C7", C, "7", {C, E, G, Bb}, C),
    ("Cmaj7", C, "maj7", {C, E, G, B}, C),
    ("Cm7", C, "min7", {C, Eb, G, Bb}, C),
    ("Cdim", C, "dim", {C, Eb, Gb}, C),
    ("Csus4", C, "sus4", {C, F, G}, C),
    ("C/E", C, "maj", {C, E, G}, E),
    ("F#m", Gb, "min", {Gb, A, Db}, Gb),
    ("Bb7", Bb, "7", {Bb, D, F, Ab}, Bb),
    ("Ebmaj7/G", Eb, "maj7", {Eb, G, Bb, D}, G),
    ("Caug", C, "aug", {C, E, Ab}, C),
    ("Dsus2", D, "sus2", {D, E, A}, D),
    ("Bm7b5", B, "hdim7", {B, D, F, A}, B),
    ("C#dim7", Db, "dim7", {Db, E, G, Bb}, Db),
    ("A6", A, "maj6", {A, Db, E, Gb}, A),
    ("G7sus4", G, "7sus4", {G, C, D, F}, G),
])
def test_every_spelling_parses_to_root_quality_tones_and_bass(text, root, quality, tones, bass):
    c = parse_chord(text)
    assert (c.root, c.quality, set(c.tones), c.bass) == (root, quality, tones, bass)


@pytest.mark.parametrize("a, b", [
    ("C#", "Db"), ("F#m", "Gbm"), ("Bb7", "A#7"), ("CM7", "Cmaj7"), ("C-7", "Cm7"), ("Cmin", "Cm"),
    ("C°", "Cdim"), ("Csus", "Csus4"), ("C+", "Caug"), ("Cø", "Cm7b5"), ("C/C", "C"), ("am", "Am"), ("C♯m", "C#m"),
])
def test_spellings_of_one_chord_are_equal(a, b):
    assert parse_chord(a) == parse_chord(b)


def test_no_chord_has_no_root_no_tones_and_is_written_N():
    n = parse_chord("N")
    assert n == NO_CHORD and n.is_none and n.root is None and n.tones == frozenset() and n.name == "N"


def test_every_chord_name_parses_back_to_the_same_chord():
    for root, quality, bass in itertools.product(range(12), QUALITIES, (None, 4)):
        c = Chord(root, quality, None if bass is None else (root + bass) % 12)
        assert parse_chord(c.name) == c, c.name


def test_a_progression_gives_one_chord_a_bar_or_the_beats_written():
    assert parse_progression("Am F C G") == [(parse_chord(n), 4.0) for n in ("Am", "F", "C", "G")]
    assert parse_progression("Am:2 F:2 | C:1.5, G:2.5") == [(parse_chord("Am"), 2.0), (parse_chord("F"), 2.0),
                                                            (parse_chord("C"), 1.5), (parse_chord("G"), 2.5)]


@pytest.mark.parametrize("text, named", [
    ("Am Hm7 C", "'Hm7'"), ("Cmaj9", "'Cmaj9'"), ("C/X", "'C/X'"), ("X", "'X'"),
    ("Am:0", "'Am:0'"), ("Am:x", "'Am:x'"), ("", "empty"), ("  | , ", "empty"),
])
def test_bad_progressions_are_one_line_usage_errors_naming_the_culprit(text, named):
    with pytest.raises(UsageError) as e:
        parse_progression(text)
    msg = str(e.value)
    assert named in msg and "\n" not in msg


def test_an_unknown_chord_name_is_a_one_line_usage_error():
    with pytest.raises(UsageError, match="unknown chord 'Q7'"):
        parse_chord("Q7")


def test_per_beat_and_per_bar_expand_and_summarise_a_progression():
    prog = parse_progression("Am:2 F:2 C G")
    beats = per_beat(prog)
    assert [c.name for c in beats] == ["Am", "Am", "F", "F"] + ["C"] * 4 + ["G"] * 4
    assert [c.name for c in per_beat(prog, 14)][-2:] == ["Am", "Am"]  # repeats
    assert [c.name for c in per_bar(beats)] == ["Am", "C", "G"]  # a tie goes to the earlier chord
    assert per_bar([NO_CHORD, NO_CHORD, parse_chord("D"), NO_CHORD])[0].name == "D"


# --- the corpora's labels -----------------------------------------------------------------

@pytest.mark.parametrize("label, name", [
    ("C:maj7", "Cmaj7"), ("A:min", "Am"), ("N", "N"), ("G:7/b7", "G7/F"), ("C:maj/3", "C/E"), ("A:min/b3", "Am/C"),
    ("F:maj/5", "F/C"), ("Db:maj7/7", "C#maj7/C"), ("F:sus4(b7)", "F7sus4"), ("B:hdim7", "Bm7b5"), ("E:dim", "Edim"),
    ("Bb:sus2", "Bbsus2"), ("Ab:aug", "Abaug"), ("C:minmaj7", "Cmmaj7"), ("D:maj6", "D6"), ("E:min6", "Em6"), ("F#:dim7", "F#dim7"),
])
def test_pop909_labels_convert(label, name):
    assert from_pop909(label) == parse_chord(name)


@pytest.mark.parametrize("marker, name", [
    ("G_m7_F", "Gm7/F"), ("D#_M7_D#", "Ebmaj7"), ("G_M_G", "G"), ("A_m_C", "Am/C"), ("C_7_C", "C7"), ("B_o_B", "Bdim"),
    ("A#_+_A#", "Bbaug"), ("D_sus4_D", "Dsus4"), ("E_sus2_E", "Esus2"), ("D_/o7_D", "Dm7b5"), ("C_o7_C", "Cdim7"), ("N_N_N", "N"),
])
def test_pop1k7_markers_convert(marker, name):
    assert from_pop1k7(marker) == parse_chord(name)


@pytest.mark.parametrize("bad", ["H:maj", "C:min9", "C:maj/x"])
def test_a_bad_pop909_label_is_a_one_line_error(bad):
    with pytest.raises(UsageError, match="POP909"):
        from_pop909(bad)


def test_a_bad_pop1k7_marker_is_a_one_line_error():
    with pytest.raises(UsageError, match="Pop1K7"):
        from_pop1k7("C_Q_C")


# --- recognition --------------------------------------------------------------------------

def block(pitches, start=0.0, dur=4.0, vel=80):
    return [NoteEvent(p, vel, start, dur) for p in pitches]


def voicing(chord: Chord, bass_tone: int = 0) -> list[int]:
    """Close position above a bass: the chord's ``bass_tone``-th tone in octave 3, all tones in octave 4."""
    ivs = QUALITIES[chord.quality]
    return [48 + (chord.root + ivs[bass_tone]) % 12] + [60 + (chord.root + i) % 12 for i in ivs]


@pytest.mark.parametrize("quality", RECOGNISED)
def test_every_template_is_recognised_at_every_root(quality):
    for root in range(12):
        chord = Chord(root, quality)
        got = recognise(block(voicing(chord)), 0, 4)
        assert got.same_harmony(chord), (chord.name, got.name)
        assert got.bass == root


# A major or minor seventh over its third holds a whole triad on that bass (Cmaj7/E ⊃ E G B,
# Cm7/Eb ⊃ Eb G Bb): with the bass doubled, that triad wins — Cm7/Eb reads as Eb (Eb6), as often heard.
AMBIGUOUS = {("maj7", 1): "min", ("min7", 1): "maj"}


@pytest.mark.parametrize("quality", RECOGNISED)
def test_inversions_keep_the_root_and_name_the_bass(quality):
    for root, inv in itertools.product(range(12), range(1, len(QUALITIES[quality]))):
        chord = Chord(root, quality)
        bass = (root + QUALITIES[quality][inv]) % 12
        got = recognise(block(voicing(chord, inv)), 0, 4)
        if (quality, inv) in AMBIGUOUS:
            assert got == Chord(bass, AMBIGUOUS[quality, inv]), (chord.name, got.name)
            continue
        assert got.same_harmony(chord), (chord.name, inv, got.name)
        assert got.bass == bass


def test_first_inversion_c_is_read_as_c_over_e():
    assert recognise(block([52, 60, 64, 67]), 0, 4).name == "C/E"


def test_an_arpeggio_with_passing_tones_is_its_chord():
    # Alberti bass C G E G in eighths under a melody that passes through D, F and B
    notes = [NoteEvent(p, 70, i * 0.5, 0.5) for i, p in enumerate([48, 55, 52, 55] * 2)]
    notes += [NoteEvent(p, 90, t, d) for p, t, d in [(72, 0, 1), (74, 1, 0.5), (76, 1.5, 1.5), (77, 3, 0.25), (71, 3.25, 0.25), (72, 3.5, 0.5)]]
    assert recognise(notes, 0, 4).name == "C"
    # the same in A minor: A E C E, melody through B and G#
    notes = [NoteEvent(p, 70, i * 0.5, 0.5) for i, p in enumerate([45, 52, 48, 52] * 2)]
    notes += [NoteEvent(p, 90, t, d) for p, t, d in [(69, 0, 1.5), (71, 1.5, 0.5), (72, 2, 1), (68, 3, 0.5), (69, 3.5, 0.5)]]
    assert recognise(notes, 0, 4).name == "Am"


def test_a_passing_seventh_does_not_make_a_seventh_chord_but_a_held_one_does():
    triad = block([48, 60, 64, 67])
    assert recognise(triad + [NoteEvent(71, 80, 3.5, 0.5)], 0, 4).name == "C"
    assert recognise(triad + [NoteEvent(71, 80, 0, 4)], 0, 4).name == "Cmaj7"
    assert recognise(triad + [NoteEvent(70, 80, 0, 4)], 0, 4).name == "C7"


def test_the_bass_decides_between_chords_sharing_their_tones():
    assert recognise(block([45, 60, 64, 67, 69]), 0, 4).name == "Am7"   # A C E G over A
    assert recognise(block([48, 60, 64, 67, 69]), 0, 4).name == "C"     # over C: C with an added 6th


def test_silence_and_near_silence_are_no_chord():
    assert recognise([], 0, 4) == NO_CHORD
    assert recognise(block([60, 64, 67], start=8), 0, 4) == NO_CHORD      # sounds outside the span only
    assert recognise([NoteEvent(60, 80, 0, 0.25)], 0, 4) == NO_CHORD      # 1/16 of the span: below MIN_SOUND
    assert recognise([NoteEvent(60, 80, 0, 1.0)], 0, 4).root == C         # a quarter of it: a chord


def test_only_the_span_counts():
    notes = block([48, 60, 64, 67], 0, 4) + block([45, 60, 64, 69], 4, 4)
    assert [c.name for c in recognise_bars(notes, 2)] == ["C", "Am"]


def test_notes_written_for_a_progression_are_recognised_as_it():
    rng = np.random.default_rng(0)
    text = "Am F C G Dm7 G7 Cmaj7 Bdim Esus4 E7 Am Fmaj7 Bb C/E Gm7 A"
    prog = parse_progression(text)
    notes = []
    for bar, (chord, _) in enumerate(prog):
        ivs = QUALITIES[chord.quality]
        t0 = bar * 4
        notes.append(NoteEvent(36 + chord.bass, 70, t0, 2))                          # bass
        for k in range(8):                                                            # broken chord in eighths
            notes.append(NoteEvent(55 + (chord.root + ivs[k % len(ivs)] - 55) % 12, 60, t0 + k * 0.5, 0.5))
        for k in range(4):                                                            # a melody on chord tones,
            tone = (chord.root + ivs[int(rng.integers(len(ivs)))]) % 12
            notes.append(NoteEvent(72 + tone, 90, t0 + k, 0.75))
        notes.append(NoteEvent(72 + (chord.root + 2) % 12, 90, t0 + 3.75, 0.25))      # and a passing note
    got = recognise_bars(notes, len(prog))
    assert [g.name for g in got] == [c.name for c, _ in prog]
