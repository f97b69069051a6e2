"""The desktop window (issue 7), driven like a user would: real drops, mouse drags on the VA
plane, the real Runtime with the shipped model, and real JACK ports for playback."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

import re
import threading
import time
import uuid
from pathlib import Path

import mido
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PyQt6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage  # noqa: E402
from PyQt6.QtTest import QTest  # noqa: E402

from desktop import theme  # noqa: E402
from desktop.app import make_settings  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402
from engine.runtime import Runtime  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COFFEE = ROOT / "examples" / "coffee.jpg"
ENGINE_THREADS = ("synesthete-player", "synesthete-producer")


@pytest.fixture(scope="module")
def runtime():
    return Runtime.load()


@pytest.fixture
def settings(tmp_path):
    # Redirect the INI file so a test run never reads or writes the user's real settings.
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    return make_settings()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:4]}"


@pytest.fixture
def make_window(qtbot, runtime, settings):
    windows = []

    def make(virtual_port: str | None = None) -> MainWindow:
        w = MainWindow(settings, load_runtime=lambda: runtime, virtual_port=virtual_port or unique("SynApp"))
        w.resize(1200, 780)
        w.show()
        windows.append(w)
        qtbot.waitUntil(lambda: w._runtime_ok, timeout=10_000)
        return w

    yield make
    for w in windows:
        w.close()
        assert not w.worker.isRunning()


def drop(w: MainWindow, mime: QMimeData) -> None:
    # QApplication only routes drop events while a platform drag is in progress, which
    # offscreen cannot start; so the window's own handlers get the real events directly.
    enter = QDragEnterEvent(QPoint(40, 40), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    enter.ignore()
    w.dragEnterEvent(enter)
    assert enter.isAccepted(), "the window refused the drag"
    w.dropEvent(QDropEvent(QPointF(40, 40), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                           Qt.KeyboardModifier.NoModifier))


def drop_file(qtbot, w: MainWindow, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop(w, mime)
    qtbot.waitUntil(lambda: w.image_label == path.name, timeout=10_000)


def generate(qtbot, w: MainWindow, bars: int = 2, variations: int = 2, seed: int = 42, timeout_ms: int = 20_000) -> None:
    w.bars.setValue(bars)
    w.n_variations.setValue(variations)
    w.seed.setValue(seed)
    QTest.mouseClick(w.generate_button, Qt.MouseButton.LeftButton)
    assert w.generating()
    qtbot.waitUntil(lambda: not w.generating(), timeout=timeout_ms)


def near(c: QColor, ref: QColor, tol: int = 40) -> bool:
    return abs(c.red() - ref.red()) + abs(c.green() - ref.green()) + abs(c.blue() - ref.blue()) < tol


@pytest.mark.timeout(30)
def test_dropping_a_picture_shows_its_va_point(make_window, qtbot):
    w = make_window()
    assert w.plane.image_va() is None and not w.thumb.has_picture()
    drop_file(qtbot, w, COFFEE)
    va = w.image_va
    assert va is not None and w.plane.image_va() == va and w.thumb.has_picture()
    assert w.plane.target() == va.clipped() and not w.override
    assert "coffee.jpg" in w.image_name.text() and va.mood in w.image_readout.text()
    # The gold ring is painted where the picture's VA is.
    img = w.plane.grab().toImage()
    pt = w.plane.to_point(va)
    ring = [img.pixelColor(QPoint(int(pt.x()) + dx, int(pt.y()))) for dx in (-10, 10)]
    assert any(near(c, theme.IMAGE_POINT, 90) for c in ring), [c.name() for c in ring]
    assert not w.error_text()


@pytest.mark.timeout(30)
def test_browser_drop_uses_pixels_and_remote_only_url_explains(make_window, qtbot):
    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.org/photos/espresso.jpg")])
    mime.setImageData(QImage(str(COFFEE)))
    drop(w, mime)
    qtbot.waitUntil(lambda: w.image_label == "espresso.jpg", timeout=10_000)
    assert w.image_va is not None

    remote = QMimeData()
    remote.setUrls([QUrl("https://example.org/page.html")])
    drop(w, remote)
    assert "save it first" in w.error_text()
    assert w.image_label == "espresso.jpg"  # the previous picture stays


@pytest.mark.timeout(30)
def test_dragging_the_override_point_changes_the_target(make_window, qtbot):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    before = w.plane.target()
    start = w.plane.to_point(before).toPoint()
    end = start + QPoint(70, -60)  # right = more pleasant, up = more aroused
    QTest.mousePress(w.plane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(w.plane, start + QPoint(30, -25))
    QTest.mouseMove(w.plane, end)
    QTest.mouseRelease(w.plane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    after = w.target()
    assert after.valence > before.valence + 0.2 and after.arousal > before.arousal + 0.2
    assert w.override and "(yours)" in w.target_readout.text() and w.reset_button.isEnabled()

    QTest.keyClick(w.plane, Qt.Key.Key_Left)  # keyboard nudge, for users without a mouse
    assert w.target().valence == pytest.approx(after.valence - 0.05, abs=1e-3)

    QTest.mouseClick(w.reset_button, Qt.MouseButton.LeftButton)
    assert w.target() == w.image_va.clipped() and not w.override


@pytest.mark.timeout(40)
def test_generate_ranks_results_and_paints_the_piano_roll(make_window, qtbot):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    empty = w.roll.grab().toImage()
    generate(qtbot, w)
    assert w.ranked and len(w.variations) == 2
    fits = [v.fit for v in w.variations]
    assert fits == sorted(fits) and [v.rank for v in w.variations] == [1, 2]
    best = w.selected()
    assert best is w.variations[0] and best.notes and best.target == w.target()
    assert w.roll.notes() == best.notes
    assert len(w.plane._marks) == sum(v.judged is not None for v in w.variations)
    assert w.results.count() == 2 and w.results.item(0).text().startswith("#1")
    img = w.roll.grab().toImage()
    bluish = sum(1 for x in range(0, img.width(), 3) for y in range(0, img.height(), 3)
                 if (c := img.pixelColor(x, y)).blue() > 140 and c.blue() > c.red() + 50)
    assert bluish > 20, "no notes painted"
    assert img != empty
    assert w.play_button.isEnabled() and w.save_button.isEnabled() and w.drag_handle.isEnabled()


@pytest.mark.timeout(40)
def test_drag_out_prepares_a_valid_named_midi_file(make_window, qtbot, tmp_path):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    generate(qtbot, w, variations=1, seed=42)
    best = w.selected()
    path = w.prepare_drag_file(tmp_path)
    assert re.fullmatch(r"synesthete_(excited|tense|sad|calm)_\d+bpm_seed42\.mid", path.name), path.name
    assert best.target.mood in path.name and f"_{best.settings.tempo:g}bpm_" in path.name
    mf = mido.MidiFile(str(path))
    ons = [m for t in mf.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert sorted(m.note for m in ons) == sorted(n.pitch for n in best.notes)
    tempo = [m for m in mf.tracks[0] if m.type == "set_tempo"][0]
    assert mido.tempo2bpm(tempo.tempo) == pytest.approx(best.settings.tempo, rel=1e-3)
    assert any(m.type == "text" and "coffee.jpg" in m.text for m in mf.tracks[0])


@pytest.mark.timeout(30)
def test_a_corrupt_picture_shows_an_error_and_the_app_stays_usable(make_window, qtbot, tmp_path):
    w = make_window()
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a JPEG" * 20)
    w.open_path(bad)
    qtbot.waitUntil(lambda: bool(w.error_text()), timeout=10_000)
    assert "broken.jpg" in w.error_text() and w.image_va is None
    truncated = tmp_path / "half.jpg"
    truncated.write_bytes(COFFEE.read_bytes()[:1500])
    w.open_path(truncated)
    qtbot.waitUntil(lambda: "half.jpg" in w.error_text(), timeout=10_000)
    assert w.worker.isRunning()
    drop_file(qtbot, w, COFFEE)  # the same window keeps working
    assert w.image_va is not None and not w.error_text()


@pytest.mark.timeout(30)
def test_a_missing_model_is_reported_in_the_window(qtbot, settings, tmp_path):
    w = MainWindow(settings, load_runtime=lambda: Runtime.load(tmp_path), virtual_port=unique("SynApp"))
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: bool(w.error_text()), timeout=10_000)
    assert "model could not be loaded" in w.error_text() and "synesthete.json" in w.error_text()
    assert not w.generate_button.isEnabled()
    w.close()
    assert not w.worker.isRunning()


@pytest.mark.timeout(30)
def test_settings_are_remembered_between_runs(make_window, qtbot):
    w = make_window()
    w.bars.setValue(3)
    w.key.setCurrentIndex(w.key.findData("Am"))
    w.seed.setValue(7)
    w.tempo.setValue(93)
    w.n_variations.setValue(5)
    w.close()
    again = make_window()
    assert (again.bars.value(), again.key.currentData(), again.seed.value(), again.tempo.value(),
            again.n_variations.value(), again.auto_tempo.isChecked()) == (3, "Am", 7, 93, 5, False)
    assert "onnxruntime:" in again.provider_label.text() and "ExecutionProvider" in again.provider_label.text()


@pytest.mark.timeout(30)
def test_closing_mid_generation_cancels_and_joins(make_window, qtbot):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    w.bars.setValue(16)
    w.n_variations.setValue(8)
    QTest.mouseClick(w.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(w.roll.notes()) >= 3, timeout=10_000)
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < 3
    assert not w.worker.isRunning()
    assert not [t for t in threading.enumerate() if t.name in ENGINE_THREADS and t.is_alive()]


# --- real JACK ports -------------------------------------------------------------------------
class Sink:
    """A JACK MIDI input the app can connect to (an "existing output port" in its menu)."""

    def __init__(self) -> None:
        import rtmidi

        self.client = unique("AppSink")
        self.midi = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, self.client)
        self.midi.open_virtual_port("in")
        self.msgs: list[mido.Message] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            ev = self.midi.get_message()
            if ev is None:
                time.sleep(0.0005)
                continue
            self.msgs.append(mido.Message.from_bytes(ev[0]))

    def note_ons(self) -> list[mido.Message]:
        return [m for m in list(self.msgs) if m.type == "note_on" and m.velocity > 0]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.midi.close_port()
        self.midi.delete()


def choose_sink(w: MainWindow, sink: Sink) -> None:
    w.refresh_ports()
    i = next(i for i in range(w.port_combo.count()) if sink.client in w.port_combo.itemText(i))
    w.port_combo.setCurrentIndex(i)
    w.port_combo.activated.emit(i)


@pytest.fixture
def sink(jack_server):
    from engine.ports import jack_running

    # The engine caches "no JACK" for a second; earlier tests may have asked just before
    # the fixture's server started.
    deadline = time.monotonic() + 3
    while not jack_running() and time.monotonic() < deadline:
        time.sleep(0.1)
    s = Sink()
    yield s
    s.close()


@pytest.mark.jack
@pytest.mark.timeout(40)
@pytest.mark.flaky(reruns=2, reruns_delay=1)
def test_play_into_a_real_jack_port_delivers_the_notes(make_window, qtbot, sink):
    from test_live_jack import sounding_at_end

    w = make_window()
    choose_sink(w, sink)
    drop_file(qtbot, w, COFFEE)
    w.tempo.setValue(240)  # 2 bars in 2 s
    generate(qtbot, w, variations=1)
    best = w.selected()
    heads: list = []
    w.player.playhead.connect(heads.append)
    QTest.mouseClick(w.play_button, Qt.MouseButton.LeftButton)
    assert w.player.playing and w.stop_button.isEnabled()
    assert sink.client in w.port_label.text()
    qtbot.waitUntil(lambda: not w.player.playing, timeout=15_000)
    qtbot.waitUntil(lambda: any(m.type == "control_change" and m.control == 123 for m in sink.msgs), timeout=2000)
    assert sorted(m.note for m in sink.note_ons()) == sorted(n.pitch for n in best.notes)
    assert not sounding_at_end([(m, 0) for m in sink.msgs])
    assert any(h is not None and h > 0 for h in heads), "the playhead never moved"
    assert w.roll.playhead() is None and w.play_button.isEnabled()


@pytest.mark.jack
@pytest.mark.timeout(40)
def test_closing_while_streaming_a_generation_leaves_no_stuck_notes(make_window, qtbot, sink):
    from test_live_jack import sounding_at_end

    w = make_window()
    choose_sink(w, sink)
    drop_file(qtbot, w, COFFEE)
    w.bars.setValue(16)
    w.n_variations.setValue(8)
    w.tempo.setValue(200)
    QTest.mouseClick(w.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(w.roll.notes()) >= 2, timeout=10_000)
    QTest.mouseClick(w.play_button, Qt.MouseButton.LeftButton)  # streams variation 1 as it is generated
    assert w.player.playing and w.generating()
    qtbot.waitUntil(lambda: len(sink.note_ons()) >= 2, timeout=10_000)
    w.close()
    assert not w.worker.isRunning()
    assert not [t for t in threading.enumerate() if t.name in ENGINE_THREADS and t.is_alive()]
    time.sleep(0.2)
    assert not sounding_at_end([(m, 0) for m in sink.msgs]), "stuck notes"
    assert any(m.type == "control_change" and m.control == 123 for m in sink.msgs)
    # Only notes the model produced were played, in the order they were generated.
    assert {m.note for m in sink.note_ons()} <= {n.pitch for n in w.roll.notes()}
