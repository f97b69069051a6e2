"""The pop-piano songs as pretraining windows (issue #24): 4/4 songs only, in the reference key, real velocities."""
import numpy as np
import pytest

from engine.generation.tokens import BAR, BOS, MODE0, decode
from engine.training.corpus import parse_spec
from engine.training.song_corpus import song_windows


class FakeSong:
    def __init__(self, notes, key, meter="4/4"):
        self.notes, self.key, self.meter = np.asarray(notes), key, meter


def d_major_song(bars=40):
    # D major arpeggios, a bar each, velocities rising: a song long enough for several windows
    notes = [(62 + i, 40 + b, b * 16 + k * 4, 4) for b in range(bars) for k, i in enumerate((0, 4, 7, 12))]
    return FakeSong(notes, (2, "major"))


def test_a_four_four_song_becomes_bar_aligned_windows_in_the_reference_key_with_its_velocities():
    wins = song_windows(d_major_song(), 128)
    assert len(wins) > 1 and all(len(w) <= 128 for w in wins)
    first = [int(t) for t in wins[0]]
    assert first[:3] == [BOS, MODE0, BAR]                      # major, from a bar line
    notes = decode(first)
    assert {n.pitch % 12 for n in notes} == {0, 4, 7}           # D F# A moved to C E G
    assert len({n.velocity for n in notes}) > 1                  # the song's own dynamics, binned


def test_a_song_in_another_meter_gives_no_windows():
    assert song_windows(FakeSong(d_major_song().notes, (2, "major"), meter="3/4"), 128) == []


def test_the_pop_corpora_are_corpus_sets_with_an_optional_song_count():
    assert parse_spec("pop909") == ("pop909", 0) and parse_spec("pop1k7:12") == ("pop1k7", 12)
    with pytest.raises(ValueError):
        parse_spec("pop2000")
