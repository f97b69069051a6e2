"""Songs from the pretraining corpora: one grid (step 0 = the bar line at or before the first note),
the dataset's own beats and bar lines, the melody track, the form labels on the bars, chords per
beat, the key; a cache keyed by content; and the fixed split by song, written down."""
import json
from pathlib import Path

import mido
import numpy as np
import pytest

from engine.music.chords import parse_chord
from engine.training import song_split
from engine.training.songs import (FormLabel, corpus_dir, form_bars, load_song, load_songs, parse_form, read_song,
                                   song_ids, triplet_share)

SECONDS_PER_BEAT = 0.5  # the fixtures' tempo: 120 BPM


# --- fixtures -----------------------------------------------------------------------------

def write_midi(path: Path, tracks: dict[str, list[tuple[float, float, int]]], *, offset: float = 0.0,
               meta_extra=(), tpb: int = 480, tempos=((0, 500000),)) -> None:
    """Type-1 MIDI: a meta track (tempos, ``meta_extra`` = (tick, MetaMessage)) and one track per
    name holding (beat, beats, pitch) notes, each ``offset`` beats later on the tick grid."""
    mf = mido.MidiFile(type=1, ticks_per_beat=tpb)
    meta = [(t, mido.MetaMessage("set_tempo", tempo=v)) for t, v in tempos]
    meta += [(0, mido.MetaMessage("time_signature", numerator=2, denominator=4))] + list(meta_extra)
    mf.tracks.append(_track(meta))
    for ch, (name, notes) in enumerate(tracks.items()):
        ev = [(0, mido.MetaMessage("track_name", name=name))]
        for beat, beats, pitch in notes:
            on, off = int(round((beat + offset) * tpb)), int(round((beat + beats + offset) * tpb))
            ev += [(on, mido.Message("note_on", channel=ch, note=pitch, velocity=90)),
                   (off, mido.Message("note_on", channel=ch, note=pitch, velocity=0))]
        mf.tracks.append(_track(ev))
    path.parent.mkdir(parents=True, exist_ok=True)
    mf.save(path)


def _track(events):
    tr, last = mido.MidiTrack(), 0
    for tick, msg in sorted(events, key=lambda e: (e[0], e[1].type == "note_on" and e[1].velocity > 0)):
        tr.append(msg.copy(time=tick - last))
        last = tick
    return tr


def make_pop909(root: Path, num: str = "001", *, downbeats=None, beats: int = 50, measure: int = 2,
                piano=None, melody=None, bridge=(), labels: str = "i1A4B4A2o1", melody_rest: int = 12,
                chords=((0, 8, "C:maj"), (8, 16, "A:min"), (16, 50, "G:7/b7")), key: str = "C:maj",
                offset: float = 0.3) -> Path:
    """A POP909 song folder. The annotated beats sit ``offset`` beats after the MIDI's tick grid,
    as in the real files (song 001: 40 ticks); ``downbeats`` are the 4/4 downbeats (column 3),
    ``measure`` the notated measure (column 2: every 2 beats, or 3 in 3/4)."""
    d = root / "pop909" / num
    downbeats = list(range(0, beats, 4)) if downbeats is None else downbeats
    if piano is None:  # a low C on every downbeat and a chord on every beat
        piano = [(b, 1.0, 48) for b in downbeats] + [(b, 0.5, p) for b in range(beats - 2) for p in (60, 64, 67)]
    if melody is None:  # a pickup on beat 7, then one note a beat, stepping up and down
        melody = [(7 + k, 1.0, 72 + (k % 5)) for k in range(beats - 10)]
    write_midi(d / f"{num}.mid", {"MELODY": melody, "BRIDGE": list(bridge), "PIANO": piano}, offset=offset)
    d.joinpath("beat_midi.txt").write_text("".join(
        f"{(k + offset) * SECONDS_PER_BEAT} {float(k % measure == 0)} {float(k in downbeats)}\n" for k in range(beats)))
    d.joinpath("chord_midi.txt").write_text("".join(
        f"{(a + offset) * SECONDS_PER_BEAT:.6f}\t{(b + offset) * SECONDS_PER_BEAT:.6f}\t{name}\n" for a, b, name in chords))
    d.joinpath("human_label1.txt").write_text(labels + "\n")
    rest = [f"0 {melody_rest}\n"] if melody_rest else []
    d.joinpath("melody.txt").write_text("".join(rest + [f"{p} 4\n" for _, _, p in melody]))
    d.joinpath("analyzed_key.txt").write_text(key + "\n")
    d.joinpath("tempo.txt").write_text("120")
    return d


def make_pop1k7(root: Path, name: str = "src_002/7", *, first_tick: int = 1910, bars: int = 6, jitter: int = 15) -> Path:
    """A Pop1K7 file: 480 ticks a tracked beat whatever the tempo map says, chord markers per beat
    (root_quality_bass), a global_bpm marker, notes a few ticks off the grid."""
    rng = np.random.default_rng(0)
    notes = []
    for b in range(bars * 4):
        tick = first_tick + b * 480 + int(rng.integers(-jitter, jitter + 1))
        for p in ((45, 60, 64, 69) if (b // 4) % 2 else (41, 60, 65, 69)):  # F | Am | F | Am ...
            notes.append((tick / 480, 0.9, p))
    marks = [(0, mido.MetaMessage("marker", text="global_bpm_93")), (0, mido.MetaMessage("marker", text="N_N_N")),
             (480, mido.MetaMessage("time_signature", numerator=4, denominator=4))]
    start = (first_tick + 240) // 1920 * 1920
    for b in range(bars):
        marks.append((start + b * 1920, mido.MetaMessage("marker", text="A_m_A" if b % 2 else "F_M_F")))
    path = root / "pop1k7" / f"{name}.mid"
    write_midi(path, {"piano": notes}, meta_extra=marks, tempos=((0, 500000), (960, 2400000), (1440, 650000), (3000, 700000)))
    return path


# --- POP909 -------------------------------------------------------------------------------

def test_pop909_time_comes_from_the_annotated_beats_not_the_ticks(tmp_path):
    make_pop909(tmp_path)
    s = read_song(tmp_path, "pop909/001")
    assert s.id == "pop909/001" and s.corpus == "pop909"
    # every note began on a beat of beat_midi.txt, 0.3 beats after the tick grid: on the 16th grid it is on the beat
    assert set((s.notes[:, 2] % 2).tolist()) == {0}
    assert s.notes[:, 2].min() == 0 and s.bars[0] == 0
    lows = sorted(int(st) for p, _, st, _ in s.notes.tolist() if p == 48)
    assert lows[:3] == [0, 16, 32]


def test_pop909_melody_is_the_melody_track(tmp_path):
    make_pop909(tmp_path)
    s = read_song(tmp_path, "pop909/001")
    mel = s.notes[s.melody]
    assert len(mel) == 40 and set(mel[:, 0].tolist()) <= set(range(72, 77))
    assert mel[:, 2].min() == 28  # the pickup on beat 7
    assert not s.melody[s.notes[:, 0] < 70].any()
    assert [n.pitch for n in s.events(melody=True)][:3] == [72, 73, 74]


def test_pop909_bars_follow_the_annotated_downbeats_including_a_short_bar(tmp_path):
    downbeats = [0, 4, 8, 12, 16, 20, 22, 26, 30, 34, 38, 42, 46]  # a 2-beat bar at beat 20
    make_pop909(tmp_path, downbeats=downbeats)
    s = read_song(tmp_path, "pop909/001")
    assert s.bars[:9].tolist() == [4 * b for b in downbeats[:9]]
    assert s.bar_lengths[5] == 2 and s.meter == "4/4"   # 12 of its 13 bars have 4 beats
    assert s.bar_lines(5, 2) == [0.0, 2.0, 6.0]


def test_pop909_form_labels_sit_on_the_bars_from_the_melody_files_start(tmp_path):
    # melody.txt rests 12 16ths before the melody's first note on beat 7: the labels start at beat 4
    make_pop909(tmp_path, labels="i1A4B4o1")
    s = read_song(tmp_path, "pop909/001")
    assert s.n_bars == 13
    assert s.form[0] is None                        # bar 0 is before the labels
    assert s.form[1] == FormLabel("i", 0, 0, 1)
    assert [f.section + str(f.bar) for f in s.form[2:7]] == ["A0", "A1", "A2", "A3", "B0"]
    assert s.form[2].melodic and not s.form[1].melodic
    assert s.form[10] == FormLabel("o", 3, 0, 1) and s.form[11:] == [None, None]  # past the labels' 10 bars
    assert s.form_text == "i1A4B4o1" and s.info["form_on_bar_lines"] == 1.0


def test_pop909_form_labels_drift_half_a_bar_after_a_short_bar_and_take_the_earlier(tmp_path):
    downbeats = [0, 4, 8, 12, 16, 20, 22, 26, 30, 34, 38, 42, 46]
    make_pop909(tmp_path, downbeats=downbeats, labels="i1A4B4A2o1")
    s = read_song(tmp_path, "pop909/001")
    # label bars start at 4, 8, ..., 20, 24, 28; the song's bar at 22 is halfway between 20 and 24
    assert [f.section + str(f.bar) for f in s.form[5:8]] == ["A3", "A3", "B0"]
    assert s.info["form_on_bar_lines"] < 1.0


def test_pop909_chords_are_per_beat_and_the_key_is_the_analysed_one(tmp_path):
    make_pop909(tmp_path)
    s = read_song(tmp_path, "pop909/001")
    assert [c.name for c in s.chords[:9]] == ["C"] * 8 + ["Am"]
    assert s.chords[16] == parse_chord("G7/F")
    assert s.key == (0, "major") and s.key_source == "analyzed_key.txt" and s.tempo_bpm == 120


def test_pop909_in_three_has_three_beat_bars(tmp_path):
    make_pop909(tmp_path, downbeats=list(range(0, 48, 6)), measure=3, beats=48, labels="A4A4")
    s = read_song(tmp_path, "pop909/001")
    assert s.meter == "3/4" and not s.four_four
    assert set(np.diff(s.bars).tolist()) == {12}


def test_pop909_in_compound_time_is_flagged(tmp_path):
    triplets = [(b + k / 3, 1 / 3, 72) for b in range(8, 40) for k in range(3)]
    make_pop909(tmp_path, melody=triplets, melody_rest=16, piano=[(b, 1.0, 48) for b in range(0, 48, 4)])
    s = read_song(tmp_path, "pop909/001")
    assert s.triplet_share > 0.5 and s.meter == "compound" and not s.four_four


def test_pop909_meter_comes_from_index_xlsx_when_openpyxl_is_there(tmp_path, monkeypatch):
    import sys
    import types

    from engine.training import songs

    rows = [("song_id", "name", "artist", "modify_times", "num_beats_per_measure", "num_quavers_per_beat"),
            ("001", "x", "y", "1", "2", "3"), ("002", "x", "y", "1", "2", "2")]
    book = types.SimpleNamespace(worksheets=[types.SimpleNamespace(iter_rows=lambda values_only: iter(rows))])
    monkeypatch.setitem(sys.modules, "openpyxl", types.SimpleNamespace(load_workbook=lambda path, read_only: book))
    monkeypatch.setattr(songs, "_INDEX", {})
    make_pop909(tmp_path, "001")
    make_pop909(tmp_path, "002")
    one, two = read_song(tmp_path, "pop909/001"), read_song(tmp_path, "pop909/002")
    assert (one.meter, one.info["meter_source"]) == ("compound", "index.xlsx")
    assert (two.meter, two.info["meter_source"]) == ("4/4", "index.xlsx")


def test_triplet_share_counts_onsets_on_thirds_of_a_beat():
    assert triplet_share(np.array([0, 1 / 3, 2 / 3, 1.0])) == 0.5
    assert triplet_share(np.array([0, 0.25, 0.5, 0.75])) == 0.0


def test_form_lines_parse_into_phrases_and_bars():
    assert parse_form("i4A4B8o3") == [("i", 4), ("A", 4), ("B", 8), ("o", 3)]
    bars = form_bars(parse_form("i2A3"))
    assert bars == [FormLabel("i", 0, 0, 2), FormLabel("i", 0, 1, 2), FormLabel("A", 1, 0, 3), FormLabel("A", 1, 1, 3), FormLabel("A", 1, 2, 3)]
    for bad in ("", "A", "4A", "A4-B4"):
        with pytest.raises(ValueError):
            parse_form(bad)


# --- Pop1K7 -------------------------------------------------------------------------------

def test_pop1k7_ticks_are_beats_and_bars_run_from_tick_zero(tmp_path):
    make_pop1k7(tmp_path)  # first notes ~10 ticks before beat 4, the tempo map changing throughout
    s = read_song(tmp_path, "pop1k7/src_002/7")
    assert s.meter == "4/4" and s.melody is None and s.form is None
    assert s.info["origin_beat"] == 4.0          # tick 0's bar is empty: the song starts at bar 1
    assert set((s.notes[:, 2] % 4).tolist()) == {0}  # jitter of ±15 ticks rounds onto the beats
    assert s.bars.tolist() == [0, 16, 32, 48, 64, 80, 96]
    assert s.tempo_bpm == 93


def test_pop1k7_chords_come_from_the_markers_per_beat(tmp_path):
    make_pop1k7(tmp_path)
    s = read_song(tmp_path, "pop1k7/src_002/7")
    assert [c.name for c in s.chords[:9]] == ["F"] * 4 + ["Am"] * 4 + ["F"]
    assert s.key_source == "estimated" and s.key in ((5, "major"), (9, "minor"))


def test_pop1k7_pickup_stays_in_bar_zero(tmp_path):
    make_pop1k7(tmp_path, first_tick=1440, jitter=0)   # first note on beat 3: a one-beat pickup
    s = read_song(tmp_path, "pop1k7/src_002/7")
    assert s.info["origin_beat"] == 0.0 and s.notes[:, 2].min() == 12


def test_song_ids_list_both_corpora_in_order(tmp_path):
    make_pop909(tmp_path, "002")
    make_pop909(tmp_path, "001")
    for n in ("src_002/10", "src_002/9", "src_003/1"):
        make_pop1k7(tmp_path, n)
    assert song_ids(tmp_path) == ["pop909/001", "pop909/002", "pop1k7/src_002/9", "pop1k7/src_002/10", "pop1k7/src_003/1"]
    assert song_ids(tmp_path, "pop1k7")[0] == "pop1k7/src_002/9"
    with pytest.raises(ValueError):
        read_song(tmp_path, "other/1")


def test_songs_are_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNESTHETE_CACHE", str(tmp_path / "cache"))
    make_pop909(tmp_path / "c")
    make_pop1k7(tmp_path / "c")
    ids = ["pop909/001", "pop1k7/src_002/7"]
    first = load_songs(tmp_path / "c", ids)
    assert len(list((tmp_path / "cache" / "songs").glob("*.npz"))) == 2
    again = load_songs(tmp_path / "c", ids)
    for a, b in zip(first, again):
        assert np.array_equal(a.notes, b.notes) and np.array_equal(a.bars, b.bars)
        assert a.chords == b.chords and a.form == b.form and a.key == b.key and a.meter == b.meter
        assert (a.melody is None) == (b.melody is None)
    assert np.array_equal(first[0].melody, again[0].melody)
    # a changed label file is a new song
    (tmp_path / "c" / "pop909" / "001" / "human_label1.txt").write_text("A4A4A4\n")
    assert load_song(tmp_path / "c", "pop909/001").form_text == "A4A4A4"


def test_corpus_dir_needs_both_corpora(tmp_path):
    (tmp_path / "images.csv").write_text("path\n")
    (tmp_path / "midi.csv").write_text("path\n")
    with pytest.raises(FileNotFoundError, match="pop909"):
        corpus_dir(str(tmp_path))
    (tmp_path / "corpus" / "pop909").mkdir(parents=True)
    (tmp_path / "corpus" / "pop1k7").mkdir()
    assert corpus_dir(str(tmp_path)) == (tmp_path / "corpus").resolve()


# --- the split ----------------------------------------------------------------------------

def test_the_committed_split_follows_the_rule_and_lists_each_song_once():
    data = json.loads(song_split.SPLIT_FILE.read_text())
    assert set(data) == {"pop909", "pop1k7"}
    for corpus, entry in data.items():
        ids = [i for s in song_split.SPLITS for i in entry[s]]
        assert len(ids) == len(set(ids)) and all(i.startswith(corpus + "/") for i in ids)
        for s in song_split.SPLITS:
            assert entry[s] == sorted(entry[s])
            assert all(song_split.split_by_rule(i, entry["duplicates"]) == s for i in entry[s])
        shares = [len(entry[s]) / len(ids) for s in song_split.SPLITS]
        assert shares[0] == pytest.approx(0.9, abs=0.03) and shares[2] == pytest.approx(0.05, abs=0.02)
        for group in entry["duplicates"]:
            assert len({song_split.split_of(i) for i in group}) == 1


def test_the_split_rule_is_a_stable_hash_and_duplicates_follow_their_first_song():
    assert song_split.bucket("pop909/001") == song_split.bucket("pop909/001")
    assert song_split.split_by_rule("x/2", [["x/2", "x/1"]]) == song_split.split_by_rule("x/1")
    made = song_split.make_split([f"pop909/{k:03d}" for k in range(1, 400)] + ["pop1k7/src_002/5"], [["pop909/017", "pop909/018"]])
    assert sum(len(made["pop909"][s]) for s in song_split.SPLITS) == 399
    assert made["pop909"]["duplicates"] == [["pop909/017", "pop909/018"]]
    assert made["pop1k7"]["duplicates"] == []
    assert set(song_split.split_ids("test")) == set(song_split.split_ids("test", "pop909")) | set(song_split.split_ids("test", "pop1k7"))
    with pytest.raises(ValueError):
        song_split.split_ids("dev")


# --- the real corpora (skipped without them) ----------------------------------------------

def _real_corpus():
    try:
        return corpus_dir()
    except FileNotFoundError:
        pytest.skip("the corpora are not here (data directory with corpus/pop909 and corpus/pop1k7)")


def test_the_committed_split_matches_the_corpora():
    root = _real_corpus()
    assert song_split.make_split(song_ids(root), song_split.duplicate_groups(root)) == song_split.load_split()


def test_a_real_pop909_song_reads_with_its_pickup_form_and_key():
    s = read_song(_real_corpus(), "pop909/001")
    assert s.four_four and s.key == (6, "major")          # Gb major
    assert s.notes[:, 2].min() == 14                      # a pickup an eighth before bar 1
    assert s.form[0] is None and s.form[1] == FormLabel("i", 0, 0, 4) and s.form[5].section == "A"
    assert s.melody.sum() > 250 and s.chords[4].name == "B"


def test_a_real_pop1k7_song_reads_with_its_chords():
    s = read_song(_real_corpus(), "pop1k7/src_002/111")
    assert s.four_four and s.info["origin_beat"] == 4.0
    assert [c.name for c in s.chords[:4]] == ["G", "G", "Gm7/F", "Gm7/F"]
