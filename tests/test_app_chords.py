"""The app's chords and takes (issue 25): a progression typed or dropped beside the picture, the
chords over the piano roll, and bars regenerated on the roll with undo/redo between the takes —
driven in a real offscreen window with the shipped model, as test_app.py drives the rest."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

from pathlib import Path

import mido
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PyQt6.QtGui import QColor, QDragEnterEvent, QDropEvent  # noqa: E402
from PyQt6.QtTest import QTest  # noqa: E402

from desktop import theme  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402
from desktop.piano_roll import CHORD_H, RULER_H  # noqa: E402
from engine.events import BEATS_PER_BAR, NoteEvent  # noqa: E402
from engine.files.midi_io import write_midi  # noqa: E402
from engine.music.chords import per_bar  # noqa: E402
from engine.music.form import section_name  # noqa: E402
from test_app import COFFEE, drop_file, generate, make_window, runtime, settings  # noqa: E402,F401
from test_coplay import d_major_phrase  # noqa: E402


def type_chords(w: MainWindow, text: str) -> None:
    w.chords.field.clear()
    QTest.keyClicks(w.chords.field, text)


def drop_on_field(w: MainWindow, path: Path) -> None:
    # As test_app.drop: offscreen cannot start a platform drag, so the field gets the real events.
    field = w.chords.field
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    enter.ignore()
    field.dragEnterEvent(enter)
    assert enter.isAccepted(), "the chord field refused the .mid"
    field.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                               Qt.KeyboardModifier.NoModifier))


def block_chords(path: Path, triads) -> Path:
    """A clip of whole-bar triads, one per bar."""
    notes = [NoteEvent(p, 80, b * BEATS_PER_BAR, BEATS_PER_BAR - 0.05) for b, chord in enumerate(triads) for p in chord]
    return Path(write_midi(notes, path, tempo=100))


def near(c: QColor, ref: QColor, tol: int = 60) -> bool:
    return abs(c.red() - ref.red()) + abs(c.green() - ref.green()) + abs(c.blue() - ref.blue()) < tol


def lane_pixels(w: MainWindow, bar: int, colour: QColor) -> int:
    """Pixels of ``colour`` on the roll's chord lane over ``bar`` (from 1)."""
    roll = w.results.roll
    g = roll._grid()
    img = roll.grab().toImage()
    x0, x1 = int(g.x_of((bar - 1) * BEATS_PER_BAR)), int(g.x_of(bar * BEATS_PER_BAR))
    return sum(near(img.pixelColor(x, y), colour) for x in range(x0, x1) for y in range(RULER_H, RULER_H + CHORD_H))


@pytest.mark.timeout(60)
def test_a_typed_progression_reaches_the_worker_and_labels_the_bars(make_window, qtbot, tmp_path):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    type_chords(w, "Am F C G")
    assert w.chords.text() == "Am F C G" and not w.chords.error()
    assert "C major for a bright mood, A minor for a dark one" in w.chords.note.text()
    jobs = []
    real = w.worker.generate
    w.worker.generate = lambda job: (jobs.append(job), real(job))[1]
    generate(qtbot, w, bars=4, variations=2)
    assert [s.chords for s in jobs[0].settings] == ["Am F C G"] * 2   # what the worker thread composes from
    for v in w.variations:
        # the key follows the chords, in the reading the coffee's pleasant mood picks
        assert v.settings.chords == "Am F C G" and v.key_name == "C"
        assert [c.name for c in per_bar(v.piece.plan.chords)] == ["Am", "F", "C", "G"]
    roll = w.results.roll
    assert roll.chord_labels() == [(0.0, "Am"), (4.0, "F"), (8.0, "C"), (12.0, "G")] and not roll.chords_heard()
    assert roll.chord_at_bar(2) == "F" and roll.chord_at_bar(4) == "G"
    assert lane_pixels(w, 2, theme.IMAGE_POINT) > 5, "no chord name painted over bar 2"
    # The file carries them too, as markers a DAW shows.
    marks = [m.text for t in mido.MidiFile(str(w.prepare_drag_file(tmp_path))).tracks for m in t if m.type == "marker"]
    assert marks == ["Am", "F", "C", "G"]
    # Empty again: the model's own harmony, and the roll shows only what it hears, marked so.
    w.chords.field.clear()
    generate(qtbot, w, bars=2, variations=1)
    assert w.selected().settings.chords == "" and w.selected().piece.plan.chords == ()
    assert roll.chords_heard() and roll.chord_labels() and roll.chord_labels()[0][0] == 0.0


@pytest.mark.timeout(30)
def test_a_bad_chord_shows_one_line_and_nothing_crashes(make_window, qtbot):
    w = make_window()
    type_chords(w, "Am Fx C G")
    err = w.chords.error()
    assert "Fx" in err and "\n" not in err
    assert w.chords.note.text() == err and w.chords.note.objectName() == "error" and not w.chords.note.isHidden()
    assert w.chords.field.toolTip() == err and theme.ERROR.name() in w.chords.field.styleSheet()
    QTest.mouseClick(w.generation.generate_button, Qt.MouseButton.LeftButton)
    assert not w.generating() and "Fx" in w.error_text()   # refused, said in one line, nothing started
    type_chords(w, "Am:2 F:2 C:4")   # fixed: the outline and the message go
    assert not w.chords.error() and w.chords.field.styleSheet() == "" and w.chords.note.objectName() == "dim"
    assert w.generation.settings(chords=w.chords.text())[0].chords == "Am:2 F:2 C:4"
    assert w.worker.isRunning()


@pytest.mark.timeout(30)
def test_dropping_a_midi_clip_on_the_field_fills_it_with_its_chords(make_window, qtbot, tmp_path):
    w = make_window()
    clip = block_chords(tmp_path / "loop.mid", [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)])
    drop_on_field(w, clip)
    assert w.chords.text() == "Am F C G" and not w.chords.error() and w.primer is None  # not a phrase
    waltz = d_major_phrase(tmp_path / "waltz.mid", meter=(3, 4))
    drop_on_field(w, waltz)   # refused in one line; the field keeps what it had
    assert "waltz.mid" in w.chords.note.text() and "4/4" in w.chords.note.text()
    assert w.chords.text() == "Am F C G" and w.worker.isRunning()
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd not really")
    drop_on_field(w, broken)
    assert "broken.mid" in w.chords.note.text() and w.chords.text() == "Am F C G"


def roll_drag(w: MainWindow, first: int, last: int) -> None:
    """Press on bar ``first`` of the roll, drag to bar ``last``, release: as a user selects bars."""
    roll = w.results.roll
    g = roll._grid()
    y = int(g.area.top() + g.area.height() / 2)
    at = [QPoint(int(g.x_of((b - 0.5) * BEATS_PER_BAR)), y) for b in (first, last)]
    QTest.mousePress(roll, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[0])
    QTest.mouseMove(roll, (at[0] + at[1]) / 2)
    QTest.mouseMove(roll, at[1])
    QTest.mouseRelease(roll, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[1])


def outside(notes, first: int, last: int) -> list[NoteEvent]:
    lo, hi = (first - 1) * BEATS_PER_BAR, last * BEATS_PER_BAR
    return sorted((n for n in notes if not lo <= n.start < hi), key=lambda n: (n.start, n.pitch))


@pytest.mark.timeout(120)
def test_regenerating_bars_2_3_makes_a_take_and_undo_redo_move_between_takes(make_window, qtbot, tmp_path):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    generate(qtbot, w, bars=4, variations=1, seed=42)
    original = w.selected()
    assert original.notes and not w.results.regenerate_button.isEnabled()   # no bars selected yet
    roll_drag(w, 2, 3)
    assert w.results.roll.selection() == (2, 3)
    button = w.results.regenerate_button
    assert button.isEnabled() and "2–3" in button.text()
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    assert w.revising() and not button.isEnabled()
    qtbot.waitUntil(lambda: not w.revising(), timeout=90_000)
    assert not w.error_text()
    take = w.selected()
    assert take.is_take and take.revised == (2, 3) and take.take == 2 and take.root == original.index
    assert take.settings.seed != original.settings.seed and take.key_name == original.key_name
    assert outside(take.notes, 2, 3) == outside(original.notes, 2, 3)   # every other bar as it was
    assert take.notes != original.notes
    assert w.results.roll.notes() == list(take.notes) and w.results.roll.selection() == (2, 3)
    # Its own entry in Results, after the variation it came from; it drags out as its own file.
    assert [v.index for v in w.variations] == [original.index, take.index] and w.results.list.count() == 2
    assert "take 2" in w.results.list.item(1).text()
    path = w.prepare_drag_file(tmp_path)
    assert path.name.endswith(f"seed{take.settings.seed}_take2.mid")
    ons = [m for t in mido.MidiFile(str(path)).tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert sorted(m.note for m in ons) == sorted(n.pitch for n in take.notes)
    # Undo returns the previous take, redo the new one (Ctrl+Z, Ctrl+Shift+Z, as a user presses them).
    w.activateWindow()
    w.results.roll.setFocus()
    QTest.keyClick(w.results.roll, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.selected().index == original.index and w.results.roll.notes() == list(original.notes)
    assert w.results.list.count() == 2   # the take stays listed
    QTest.keyClick(w.results.roll, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert w.selected().index == take.index and w.results.roll.notes() == list(take.notes)
    # Another take of the same bars, from this one: a seed of its own, listed after take 2.
    QTest.keyClick(w.results.roll, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not w.revising(), timeout=90_000)
    third = w.selected()
    assert third.take == 3 and third.root == original.index and third.settings.seed not in (42, take.settings.seed)
    assert outside(third.notes, 2, 3) == outside(original.notes, 2, 3) and third.notes != take.notes
    assert [v.index for v in w.variations] == [original.index, take.index, third.index]
    for back in (take, original):
        QTest.keyClick(w.results.roll, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert w.selected().index == back.index and w.results.roll.notes() == list(back.notes)
    assert not w.undo_action.isEnabled()
    QTest.keyClick(w.results.roll, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert w.selected().index == take.index
    QTest.keyClick(w.results.roll, Qt.Key.Key_Escape)   # the selection goes, and Regenerate with it
    assert w.results.roll.selection() is None and not w.results.regenerate_button.isEnabled()
    # A new Generate starts a new history.
    generate(qtbot, w, bars=2, variations=1, seed=5)
    assert not w.undo_action.isEnabled() and w.results.list.count() == 1


@pytest.mark.timeout(60)
def test_regenerated_bars_hold_the_progressions_chords_under_them(make_window, qtbot, runtime, monkeypatch):
    held = []
    real = runtime.revise
    monkeypatch.setattr(runtime, "revise", lambda *a, **kw: held.append(real(*a, **kw)) or held[-1])
    w = make_window()
    type_chords(w, "Am F C G")
    generate(qtbot, w, bars=4, variations=1, seed=11)   # from the VA alone: no picture needed
    original = w.selected()
    w.results.roll.select_bars((2, 3))
    QTest.mouseClick(w.results.regenerate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.revising(), timeout=90_000)
    take = w.selected()
    assert take.is_take and not w.error_text()
    assert [c.name for c in held[0].chords] == ["F"] * 4 + ["C"] * 4   # bars 2-3 of Am F C G, not its start
    assert take.settings.chords == "Am F C G" and take.key_name == original.key_name   # the piece's key kept
    assert outside(take.notes, 2, 3) == outside(original.notes, 2, 3)
    assert [w.results.roll.chord_at_bar(b) for b in (1, 2, 3, 4)] == ["Am", "F", "C", "G"]


@pytest.mark.timeout(60)
def test_a_piece_with_a_form_shows_its_sections_over_the_roll(make_window, qtbot):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    w.generation.form.setCurrentIndex(w.generation.form.findData("auto"))
    generate(qtbot, w, bars=16, variations=1)
    v = w.results.list.currentItem().data(Qt.ItemDataRole.UserRole)
    sections = v.settings.sections
    assert sections and sum(s.bars for s in sections) == 16          # auto drew a real song's form
    labels = w.results.roll.section_labels()
    assert [b for b, _ in labels] == [s.start * BEATS_PER_BAR for s in sections]
    assert [n for _, n in labels] == [section_name(s.letter) for s in sections]
