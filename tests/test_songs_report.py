"""Songs (32 bars) as a specification (engine/training/songs_report.py, docs/SONGS.md): a piece measures the
same whoever wrote it; a repeating piece shows its form and a random one none; the structural features tell
apart what the 21 note statistics cannot; real songs are read from their first downbeat on 4-beat bars, short
ones left out; the report renders its tables from a record."""
import json
import math

import numpy as np
import pytest

from engine.events import NoteEvent
from engine.training import form_stats as FS
from engine.training import musicality as M
from engine.training import reports as R
from engine.training import songs_report as S
from fixtures import make_data_dir, needs_train_extra
from test_form_stats import phrase_piece, random_bar, random_piece
from test_songs import make_pop909, make_pop1k7


def bars_in_order(rng, bars: int = 16, period: int = 4, shuffle: bool = False) -> list[NoteEvent]:
    """``period`` random bars played in turn (a phrase coming back every ``period`` bars), or the same
    bars as often each in a shuffled order (the same notes, no form)."""
    phrase = [random_bar(rng, b) for b in range(period)]
    order = [b % period for b in range(bars)]
    if shuffle:
        order = [int(b) for b in rng.permutation(order)]
    return [NoteEvent(n.pitch, n.velocity, n.start + 4 * (k - b), n.duration) for k, b in enumerate(order) for n in phrase[b]]


# --- a piece's features -----------------------------------------------------------------------

def test_a_repeating_piece_shows_its_form_and_a_random_one_none():
    rep, rnd = S.piece_features(phrase_piece(period=4), 32), S.piece_features(random_piece(), 32)
    assert set(rep) == set(S.FEATURES) and len(S.FEATURES) == len(M.FEATURES) + len(S.STRUCTURE)
    assert rep["restated"] == pytest.approx(28 / 31) and rnd["restated"] == 0.0
    assert rep["sim_4"] == pytest.approx(1.0) and rep["sim_8"] == pytest.approx(1.0) and rep["sim_1"] < 0.2
    assert rep["contrast"] > 0.8 and abs(rnd["contrast"]) < 0.05
    assert max(rnd[f"sim_{k}"] for k in S.LAGS) < 0.1
    # the same measures as form_stats and musicality give, on the same 4-beat grid
    notes = phrase_piece(period=4)
    fs, ms = FS.statistics(notes, 32), M.statistics(notes, 32)
    assert all(rep[k] == pytest.approx(fs[k], nan_ok=True) for k in S.FORM + S.MELODY)
    assert all(rep[k] == pytest.approx(ms[k], nan_ok=True) for k in M.FEATURES)


def test_a_piece_is_clipped_to_its_bars_and_an_empty_one_gives_nan():
    notes = phrase_piece(bars=40, period=4)
    assert S.piece_features(notes, 32) == pytest.approx(S.piece_features([n for n in notes if n.start < 128], 32), nan_ok=True)
    empty = S.piece_features([], 32)
    assert math.isnan(empty["restated"]) and math.isnan(empty["sim_4"]) and empty["onsets_per_beat"] == 0.0
    assert S.feature_matrix([notes, []], 32).shape == (2, len(S.FEATURES))


@needs_train_extra  # scikit-learn's random forest
def test_structure_tells_apart_what_the_note_statistics_cannot():
    """A phrase coming back every 4 bars against the same bars in a shuffled order: the notes are the same,
    so the 21 note statistics are near chance; the lag profile sees the form."""
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    xa = S.feature_matrix([bars_in_order(rng) for _ in range(20)], 16)
    xb = S.feature_matrix([bars_in_order(rng, shuffle=True) for _ in range(20)], 16)
    structure = M._two_sample(xa, xb, 0, 5, 1, S.FEATURES, 50, columns=S.FEATURES)
    notes = M._two_sample(xa, xb, 0, 5, 1, list(M.FEATURES), 50, columns=S.FEATURES)
    assert structure["mean"] > 0.9 and notes["mean"] < 0.75
    assert set(structure["importance"]) & {"sim_4", "contrast", "restated"}
    more = S.feature_matrix([bars_in_order(rng) for _ in range(20)], 16)
    floor = M._floor(np.concatenate([xa, more]), 0, 1, 5, 1, S.FEATURES, 50, columns=S.FEATURES, half=10)
    assert floor["n_per_class"] == 10 and floor["mean"] < 0.75


# --- real songs -----------------------------------------------------------------------------

def song_corpus(root, pop909=("017", "058"), pop1k7=("src_002/114", "src_002/139", "src_002/140"), short=None, bars: int = 12):
    """A few of the split's test songs under ``root/corpus`` (and ``short``, a test song of 5 bars; and a
    train song, pop909/001, that the test split leaves out)."""
    c = root / "corpus"
    for num in pop909:
        make_pop909(c, num, beats=4 * bars + 2)
    if short:
        make_pop909(c, short, beats=20)
    make_pop909(c, "001")
    for name in pop1k7:
        make_pop1k7(c, name, bars=bars)
    return c


def test_real_songs_start_at_their_first_downbeat_on_four_beat_bars(tmp_path, monkeypatch):
    from engine.training.song_split import split_ids, split_of

    monkeypatch.setenv("SYNESTHETE_CACHE", str(tmp_path / "cache"))
    assert split_of("pop909/001") != "test" and split_of("pop909/059") == "test"
    d = make_data_dir(tmp_path / "data")
    c = song_corpus(d, short="059")
    # one song opens with a pickup on beat 3 of bar 0: it is measured from bar 1's line
    piano = [(2, 1.0, 50)] + [(b, 0.5, p) for b in range(4, 48) for p in (60, 64, 67)]
    make_pop909(c, "018", beats=50, piano=piano)
    songs, counts = S.real_songs(str(d), 8)
    assert counts["POP909"] == {"songs": 4, "absent": len(split_ids("test", "pop909")) - 4, "not_four_four": 0, "too_short": 1, "n": 3}
    assert counts["Pop1K7"]["n"] == 3 and counts["Pop1K7"]["too_short"] == 0
    for piece in songs["POP909"] + songs["Pop1K7"]:
        assert min(n.start for n in piece) >= 0 and max(n.start for n in piece) < 32 and max(n.end for n in piece) <= 32
    pickup = songs["POP909"][1]  # 018, in the split's order (017, 018, 058)
    assert 50 not in {n.pitch for n in pickup} and min(n.start for n in pickup) == 0.0


# --- the report -----------------------------------------------------------------------------

def fixture_run(name: str, restate: bool, n: int = 6) -> dict:
    """A run as ``run`` keeps it, on made-up pieces (no model, no data)."""
    rng = np.random.default_rng(1)
    real = {"POP909": S.feature_matrix([phrase_piece(16, 4, s) for s in range(n)], 16),
            "Pop1K7": S.feature_matrix([phrase_piece(16, 4, 10 + s) for s in range(n)], 16)}
    gen = S.feature_matrix([bars_in_order(rng) if restate else random_piece(16, 20 + k) for k in range(n)], 16)
    res = S.compare(real, gen, folds=2, repeats=1, trees=10)
    res.update(name=name, settings={"form": "phrases" if restate else "free"}, n=n, generation_seconds=12.0, seconds=13.0)
    counts = {c: {"songs": n, "absent": 0, "not_four_four": 0, "too_short": 0, "n": n} for c in real}
    return {"bars": 16, "split": "test", "grid": "4-beat bars from the first downbeat", "seed": 0, "n_real": 2 * n, "n_pictures": n,
            "corpora": counts, "features": S.FEATURES, "forest": {"trees": 10, "folds": 2, "repeats": 1, "floor_splits": 1},
            "machine": "2 CPU cores", "real": {c: S.summary(x) for c, x in real.items()},
            "floor": S.floors(real, n, folds=2, repeats=1, splits=1, trees=10), "systems": [res], "seconds": 14.0}


@needs_train_extra  # scikit-learn's random forest
def test_the_songs_report_renders_every_table_from_its_record(tmp_path):
    pytest.importorskip("sklearn")
    S.write(fixture_run("free fixture", False), tmp_path / "SONGS.md", str(tmp_path / "songs.json"), "free", log=lambda m: None)
    text = (tmp_path / "SONGS.md").read_text()  # not the committed report: the run alone, in the generator's layout
    assert [ln for ln in text.splitlines() if ln.startswith("#")] == [
        "# Songs (16 bars)", "## Form", "## Melody (the top line)", "## Register", "## Similarity by lag", "## Two-sample test"]
    assert "| real POP909 test songs | 6 | 0." in text and "| real Pop1K7 test songs | 6 |" in text and "| free fixture | 6 |" in text
    assert "| real vs real (floor) | " in text and "What gives free fixture away" in text and "in 12 s (2 CPU cores)." in text
    S.write(fixture_run("phrases fixture", True), tmp_path / "other.md", str(tmp_path / "songs.json"), "phrases", log=lambda m: None)
    rec = json.loads((tmp_path / "songs.json").read_text())  # through JSON, as a committed record is read
    assert list(rec["runs"]) == ["free", "phrases"]
    form = R.render("{{form_table rows=free,phrases.0}}", "songs", rec)
    rows = {ln.split(" | ")[0].strip("| "): ln.split(" | ") for ln in form.splitlines()[2:]}
    assert list(rows) == ["real POP909 test songs", "real Pop1K7 test songs", "free fixture", "phrases fixture"]
    restated = lambda name: float(rows[name][2])  # noqa: E731
    assert restated("phrases fixture") > 0.5 > restated("free fixture")
    table = R.render("{{two_sample_table rows=phrases,free}}", "songs", rec)
    assert [ln.split(" | ")[0] for ln in table.splitlines()[2:]] == ["| real vs real (floor)", "| phrases fixture", "| free fixture"]
    assert "real songs, 39 features ↓" in table and "real songs, 21 note statistics ↓" in table and " (6) |" in table
