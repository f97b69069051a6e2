"""Each generation setting is declared once, in ``engine.settings.SETTINGS``, and every front end is
made from that row: the command line's flag and its help, validation naming the flag, the app's
control and the value it remembers, the ``.mid`` metadata. The last row, ``swing``, was added with
no edit anywhere but its row and the module that plays it (``engine.music.humanize``)."""
from __future__ import annotations

import json
import os

import mido
import pytest

from engine.cli import build_parser, main
from engine.events import VA, NoteEvent
from engine.music.humanize import swing, swing_time
from engine.settings import SETTINGS, GenerationSettings, setting
from test_cli import EXAMPLE

NUMERIC = [s for s in SETTINGS if s.kind in (int, float) and s.lo is not None]


def generate_help() -> str:
    sub = build_parser()._subparsers._group_actions[0].choices
    return sub["generate"].format_help() + sub["stream"].format_help()


@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_a_flag_of_generate_and_stream_with_its_help(s):
    sub = build_parser()._subparsers._group_actions[0].choices
    for command in ("generate", "stream"):
        flags = {o for a in sub[command]._actions for o in a.option_strings}
        assert s.flag in flags, (command, s.flag)
    assert s.help.split()[0] in generate_help()


@pytest.mark.parametrize("s", NUMERIC, ids=lambda s: s.name)
def test_a_value_out_of_range_is_refused_naming_its_flag(s, tmp_path, capsys):
    bad = s.hi + (1 if s.kind is int else 0.5)
    assert main(["generate", str(EXAMPLE), "-o", str(tmp_path / "x.mid"), s.flag, str(bad)]) == 2
    err = capsys.readouterr().err
    assert s.flag in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.mid").exists()


def test_the_metadata_keeps_each_stored_setting_and_leaves_out_defaults_that_ask_to_be():
    meta = GenerationSettings().metadata(VA(0.1, 0.2))
    for s in SETTINGS:
        assert (s.name in meta) == (s.stored == "always"), s.name
    changed = GenerationSettings(swing=0.5, scale_lock=True, arc=(VA(0, 0), VA(1, 1)))
    assert {"swing": 0.5, "scale_lock": True, "arc": [[0, 0], [1, 1]]}.items() <= changed.metadata(VA(0, 0)).items()


def test_swing_moves_the_off_beats_toward_the_triplet_and_keeps_the_beats():
    assert [swing_time(b, 1.0) for b in (0.0, 0.5, 1.0, 2.5)] == pytest.approx([0.0, 2 / 3, 1.0, 2 + 2 / 3])
    assert swing_time(0.25, 1.0) == pytest.approx(1 / 3)   # a 16th follows its eighth
    assert swing_time(0.75, 1.0) == pytest.approx(5 / 6)
    assert [swing_time(b, 0.0) for b in (0.25, 0.5, 0.75)] == [0.25, 0.5, 0.75]
    times = [i / 16 for i in range(64)]
    moved = [swing_time(t, 0.7) for t in times]
    assert moved == sorted(moved) and len(set(moved)) == len(moved)  # order kept, nothing merged
    played = list(swing([NoteEvent(60, 90, 0.5, 0.5), NoteEvent(64, 90, 1.0, 1.0)], 1.0))
    assert played[0].start == pytest.approx(2 / 3) and played[0].end == pytest.approx(1.0) and played[1].start == 1.0


def test_swing_reaches_the_file_from_the_flag(tmp_path):
    out = tmp_path / "swung.mid"
    assert main(["generate", str(EXAMPLE), "-o", str(out), "--bars", "2", "--seed", "3", "--swing", "1"]) == 0
    mf = mido.MidiFile(str(out))
    meta = json.loads(next(m.text for m in mf.tracks[0] if m.type == "text").removeprefix("synesthete "))
    assert meta["swing"] == 1.0
    from engine.files.midi_io import read_midi

    offbeats = {round(n.start_beat % 1, 3) for n in read_midi(out).notes} - {0.0}
    assert offbeats and offbeats <= {0.333, 0.667, 0.833}  # eighths and sixteenths on the swung grid


@pytest.mark.timeout(60)
def test_every_setting_with_a_control_is_in_the_app_and_reaches_the_request(qtbot, tmp_path):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QSettings

    from desktop.generate_panel import CONTROLS, GeneratePanel

    panel = GeneratePanel()
    qtbot.addWidget(panel)
    panel.load(QSettings(str(tmp_path / "first.ini"), QSettings.Format.IniFormat))
    assert {s.name for s in CONTROLS} >= {"bars", "tempo", "key", "seed", "humanize", "variety", "spread", "swing"}
    assert panel.settings()[0].swing == setting("swing").default  # a setting never saved starts at its default
    panel.controls["swing"].setValue(40)
    assert {s.swing for s in panel.settings()} == {0.4}
    store = QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat)
    panel.save(store)
    store.sync()
    again = GeneratePanel()
    qtbot.addWidget(again)
    again.load(QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat))
    assert again.settings()[0].swing == 0.4
