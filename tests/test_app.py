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
import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PyQt6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage  # noqa: E402
from PyQt6.QtTest import QTest  # noqa: E402

from desktop import theme  # noqa: E402
from desktop.app import make_settings  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402
from engine.files.audio import AudioError  # noqa: E402
from engine.events import VA  # noqa: E402
from engine.settings import DEFAULT_SPREAD, GenerationSettings  # noqa: E402
from engine.generation.runtime import Runtime  # noqa: E402
from test_audio import ClockSink, needs_synth  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COFFEE = ROOT / "examples" / "coffee.jpg"
ROCKET = ROOT / "examples" / "rocket.jpg"
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

    def make(virtual_port: str | None = None, audio_sink=None) -> MainWindow:
        w = MainWindow(settings, load_runtime=lambda: runtime, virtual_port=virtual_port or unique("SynApp"),
                       audio_sink=audio_sink)
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
    w.generation.bars.setValue(bars)
    w.generation.n_variations.setValue(variations)
    w.generation.seed.setValue(seed)
    QTest.mouseClick(w.generation.generate_button, Qt.MouseButton.LeftButton)
    assert w.generating()
    qtbot.waitUntil(lambda: not w.generating(), timeout=timeout_ms)


def near(c: QColor, ref: QColor, tol: int = 40) -> bool:
    return abs(c.red() - ref.red()) + abs(c.green() - ref.green()) + abs(c.blue() - ref.blue()) < tol


@pytest.mark.timeout(30)
def test_dropping_a_picture_shows_its_va_point(make_window, qtbot):
    w = make_window()
    assert w.emotion.plane.image_va() is None and not w.picture.thumb.has_picture()
    drop_file(qtbot, w, COFFEE)
    va = w.emotion.image_va
    assert va is not None and w.emotion.plane.image_va() == va and w.picture.thumb.has_picture()
    assert w.emotion.plane.target() == va.clipped() and not w.emotion.override
    assert "coffee.jpg" in w.picture.image_name.text() and va.mood in w.emotion.image_readout.text()
    # The gold ring is painted where the picture's VA is.
    img = w.emotion.plane.grab().toImage()
    pt = w.emotion.plane.to_point(va)
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
    assert w.emotion.image_va is not None

    remote = QMimeData()
    remote.setUrls([QUrl("https://example.org/page.html")])
    drop(w, remote)
    assert "save it first" in w.error_text()
    assert w.image_label == "espresso.jpg"  # the previous picture stays


@pytest.mark.timeout(30)
def test_dragging_the_override_point_changes_the_target(make_window, qtbot):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    before = w.emotion.plane.target()
    start = w.emotion.plane.to_point(before).toPoint()
    end = start + QPoint(70, -60)  # right = more pleasant, up = more aroused
    QTest.mousePress(w.emotion.plane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(w.emotion.plane, start + QPoint(30, -25))
    QTest.mouseMove(w.emotion.plane, end)
    QTest.mouseRelease(w.emotion.plane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    after = w.target()
    assert after.valence > before.valence + 0.2 and after.arousal > before.arousal + 0.2
    assert w.emotion.override and "(yours)" in w.emotion.target_readout.text() and w.emotion.reset_button.isEnabled()

    QTest.keyClick(w.emotion.plane, Qt.Key.Key_Left)  # keyboard nudge, for users without a mouse
    assert w.target().valence == pytest.approx(after.valence - 0.05, abs=1e-3)

    QTest.mouseClick(w.emotion.reset_button, Qt.MouseButton.LeftButton)
    assert w.target() == w.emotion.image_va.clipped() and not w.emotion.override


@pytest.mark.timeout(40)
def test_generate_ranks_results_and_paints_the_piano_roll(make_window, qtbot):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    empty = w.results.roll.grab().toImage()
    generate(qtbot, w)
    assert w.results.ranked and len(w.variations) == 2
    fits = [v.fit for v in w.variations]
    assert fits == sorted(fits) and [v.rank for v in w.variations] == [1, 2]
    best = w.selected()
    assert best is w.variations[0] and best.notes and best.target == w.target()
    assert w.results.roll.notes() == list(best.notes)
    assert len(w.emotion.plane._marks) == sum(v.heard is not None for v in w.variations)
    assert w.results.list.count() == 2 and w.results.list.item(0).text().startswith("#1")
    img = w.results.roll.grab().toImage()
    bluish = sum(1 for x in range(0, img.width(), 3) for y in range(0, img.height(), 3)
                 if (c := img.pixelColor(x, y)).blue() > 140 and c.blue() > c.red() + 50)
    assert bluish > 20, "no notes painted"
    assert img != empty
    out = w.output
    assert out.play_button.isEnabled() and out.save_button.isEnabled() and out.drag_handle.isEnabled()


@pytest.mark.timeout(40)
def test_drag_out_prepares_a_valid_named_midi_file(make_window, qtbot, tmp_path):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    generate(qtbot, w, variations=1, seed=42)
    best = w.selected()
    path = w.prepare_drag_file(tmp_path)
    assert re.fullmatch(r"synesthete_(excited|tense|sad|calm)_\d+bpm_seed42\.mid", path.name), path.name
    assert best.target.mood in path.name and f"_{best.tempo:g}bpm_" in path.name
    # Auto tempo (the default): the request leaves the tempo to the engine, and the piece and
    # its file carry the one the panel shows.
    assert w.generation.auto_tempo.isChecked() and best.tempo == w.generation.tempo.value()
    mf = mido.MidiFile(str(path))
    ons = [m for t in mf.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert sorted(m.note for m in ons) == sorted(n.pitch for n in best.notes)
    tempo = [m for m in mf.tracks[0] if m.type == "set_tempo"][0]
    assert mido.tempo2bpm(tempo.tempo) == pytest.approx(best.tempo, rel=1e-3)
    assert any(m.type == "text" and "coffee.jpg" in m.text for m in mf.tracks[0])


def set_request(w: MainWindow, *, key: str, tempo: float, target: VA) -> None:
    w.generation.auto_tempo.setChecked(False)
    w.generation.tempo.setValue(tempo)
    w.generation.key.setCurrentIndex(w.generation.key.findData(key))
    w.emotion.set_user_target(target)  # what a drag on the plane does


@pytest.mark.timeout(60)
def test_the_app_composes_what_the_engine_composes(make_window, qtbot, runtime, tmp_path):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    target = VA(0.3, -0.2)
    set_request(w, key="C#", tempo=100, target=target)
    generate(qtbot, w, bars=2, variations=2, seed=7)
    # The app adds nothing of its own to a piece: the variation with the first seed is what
    # `generate` would make from the same picture, settings and target, down to the file's bytes.
    first = next(v for v in w.variations if v.index == 0)
    request = GenerationSettings(bars=2, tempo=100.0, key="C#", seed=7)
    engine = runtime.compose(request, runtime.encode(COFFEE), target)
    assert engine.notes and first.notes == engine.notes
    assert first.piece == engine  # settings, target, picture label, model id and tokens too
    assert first.key_name == "C#" and first.tempo == 100.0
    w.results.select(0)
    app_file = w.prepare_drag_file(tmp_path)
    engine_file = Path(engine.write(tmp_path / "engine.mid"))
    assert app_file.name == "synesthete_calm_100bpm_seed7.mid"
    assert app_file.read_bytes() == engine_file.read_bytes()


@pytest.mark.timeout(90)
def test_a_picture_dropped_mid_job_does_not_change_the_job(make_window, qtbot, runtime):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    coffee_target = w.target()
    w.generation.bars.setValue(16)  # long enough that the second picture lands mid-job
    w.generation.n_variations.setValue(2)
    w.generation.seed.setValue(3)
    QTest.mouseClick(w.generation.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(w.results.roll.notes()) >= 3, timeout=20_000)
    drop_file(qtbot, w, ROCKET)  # read between notes, while the job runs
    assert w.generating(), "the job ended before the second picture was read"
    assert w.target() == w.emotion.image_va != coffee_target  # the plane follows the new picture
    qtbot.waitUntil(lambda: not w.generating(), timeout=60_000)
    encoding = runtime.encode(COFFEE)
    for v in w.variations:
        assert v.target == coffee_target and v.piece.image == "coffee.jpg"
        assert v.notes == runtime.compose(v.settings, encoding, coffee_target).notes


@pytest.mark.timeout(30)
def test_a_corrupt_picture_shows_an_error_and_the_app_stays_usable(make_window, qtbot, tmp_path):
    w = make_window()
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a JPEG" * 20)
    w.open_path(bad)
    qtbot.waitUntil(lambda: bool(w.error_text()), timeout=10_000)
    assert "broken.jpg" in w.error_text() and w.emotion.image_va is None
    truncated = tmp_path / "half.jpg"
    truncated.write_bytes(COFFEE.read_bytes()[:1500])
    w.open_path(truncated)
    qtbot.waitUntil(lambda: "half.jpg" in w.error_text(), timeout=10_000)
    assert w.worker.isRunning()
    drop_file(qtbot, w, COFFEE)  # the same window keeps working
    assert w.emotion.image_va is not None and not w.error_text()


@pytest.mark.timeout(30)
def test_a_missing_model_is_reported_in_the_window(qtbot, settings, tmp_path):
    w = MainWindow(settings, load_runtime=lambda: Runtime.load(tmp_path), virtual_port=unique("SynApp"))
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: bool(w.error_text()), timeout=10_000)
    assert "model could not be loaded" in w.error_text() and "synesthete.json" in w.error_text()
    assert not w.generation.generate_button.isEnabled()
    w.close()
    assert not w.worker.isRunning()


@pytest.mark.timeout(30)
def test_settings_are_remembered_between_runs(make_window, qtbot):
    w = make_window()
    w.generation.bars.setValue(3)
    w.generation.key.setCurrentIndex(w.generation.key.findData("Am"))
    w.generation.seed.setValue(7)
    w.generation.tempo.setValue(93)
    w.generation.n_variations.setValue(5)
    w.generation.form.setCurrentIndex(w.generation.form.findData("phrases"))
    assert {s.form for s in w.generation.settings()} == {"phrases"}
    w.generation.variety.setValue(35)
    assert {s.variety for s in w.generation.settings()} == {0.35}
    assert {s.spread for s in w.generation.settings()} == {DEFAULT_SPREAD}  # the slider starts at the engine's default
    w.generation.spread.setValue(150)
    assert {s.spread for s in w.generation.settings()} == {1.5}
    w.emotion.intensity_slider.setValue(80)  # away from the default (1.5), so remembering it shows
    assert w.emotion.plane.aim() == w.emotion.aimed() and w.emotion.aimed().arousal == pytest.approx(0.8 * w.target().arousal)
    w.close()
    again = make_window()
    g = again.generation
    assert (g.bars.value(), g.key.currentData(), g.seed.value(), g.tempo.value(), g.n_variations.value(),
            g.auto_tempo.isChecked(), g.form.currentData(), g.variety.value(), g.spread.value()) == (3, "Am", 7, 93, 5, False, "phrases", 35, 150)
    assert again.emotion.intensity() == 0.8
    assert "onnxruntime:" in again.provider_label.text() and "ExecutionProvider" in again.provider_label.text()


@pytest.mark.timeout(30)
def test_closing_mid_generation_cancels_and_joins(make_window, qtbot):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    w.generation.bars.setValue(16)
    w.generation.n_variations.setValue(8)
    QTest.mouseClick(w.generation.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(w.results.roll.notes()) >= 3, timeout=10_000)
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
    i = next(i for i in range(w.output.port_combo.count()) if sink.client in w.output.port_combo.itemText(i))
    w.output.port_combo.setCurrentIndex(i)
    w.output.port_combo.activated.emit(i)


@pytest.fixture
def sink(jack_server):
    from engine.live.ports import jack_running

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
    w.generation.tempo.setValue(240)  # 2 bars in 2 s
    generate(qtbot, w, variations=1)
    best = w.selected()
    heads: list = []
    w.player.playhead.connect(heads.append)
    QTest.mouseClick(w.output.play_button, Qt.MouseButton.LeftButton)
    assert w.player.playing and w.output.stop_button.isEnabled()
    assert sink.client in w.port_label.text()
    qtbot.waitUntil(lambda: not w.player.playing, timeout=15_000)
    qtbot.waitUntil(lambda: any(m.type == "control_change" and m.control == 123 for m in sink.msgs), timeout=2000)
    assert sorted(m.note for m in sink.note_ons()) == sorted(n.pitch for n in best.notes)
    assert not sounding_at_end([(m, 0) for m in sink.msgs])
    assert any(h is not None and h > 0 for h in heads), "the playhead never moved"
    assert w.results.roll.playhead() is None and w.output.play_button.isEnabled()


@pytest.mark.jack
@pytest.mark.timeout(40)
def test_closing_while_streaming_a_generation_leaves_no_stuck_notes(make_window, qtbot, sink):
    from test_live_jack import sounding_at_end

    w = make_window()
    choose_sink(w, sink)
    drop_file(qtbot, w, COFFEE)
    w.generation.bars.setValue(16)
    w.generation.n_variations.setValue(8)
    w.generation.tempo.setValue(200)
    QTest.mouseClick(w.generation.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(w.results.roll.notes()) >= 2, timeout=10_000)
    QTest.mouseClick(w.output.play_button, Qt.MouseButton.LeftButton)  # streams variation 1 as it is generated
    assert w.player.playing and w.generating()
    qtbot.waitUntil(lambda: len(sink.note_ons()) >= 2, timeout=10_000)
    w.close()
    assert not w.worker.isRunning()
    assert not [t for t in threading.enumerate() if t.name in ENGINE_THREADS and t.is_alive()]
    time.sleep(0.2)
    assert not sounding_at_end([(m, 0) for m in sink.msgs]), "stuck notes"
    assert any(m.type == "control_change" and m.control == 123 for m in sink.msgs)
    # Only notes the model produced were played, in the order they were generated.
    assert {m.note for m in sink.note_ons()} <= {n.pitch for n in w.results.roll.notes()}


# --- Preview: audio on this computer ----------------------------------------------------------

@needs_synth
def test_preview_plays_the_selected_variation_with_a_moving_playhead_and_stops_at_once(make_window, qtbot):
    sink = ClockSink()
    w = make_window(audio_sink=sink)
    drop_file(qtbot, w, COFFEE)
    generate(qtbot, w, bars=2, variations=1)
    assert w.output.preview_button.isEnabled()
    QTest.mouseClick(w.output.preview_button, Qt.MouseButton.LeftButton)
    assert sink.frames is not None and np.abs(sink.frames).max() > 1000
    qtbot.waitUntil(lambda: (w.results.roll.playhead() or 0) > 0.5, timeout=5000)
    assert w.output.stop_button.isEnabled() and not w.output.preview_button.isEnabled()
    QTest.mouseClick(w.output.stop_button, Qt.MouseButton.LeftButton)
    assert sink.stopped and w.results.roll.playhead() is None
    assert w.output.preview_button.isEnabled()


class NoDevice:
    def play(self, frames, sample_rate):
        raise AudioError("no audio output device found")

    def position(self):
        return 0

    def active(self):
        return False

    def stop(self):
        pass


@needs_synth
def test_preview_without_an_audio_device_says_so_in_one_line_and_the_app_goes_on(make_window, qtbot):
    w = make_window(audio_sink=NoDevice())
    drop_file(qtbot, w, COFFEE)
    generate(qtbot, w, bars=1, variations=1)
    QTest.mouseClick(w.output.preview_button, Qt.MouseButton.LeftButton)
    assert "no audio output device" in w.error_text() and "\n" not in w.error_text()
    assert w.generation.generate_button.isEnabled() and w.output.save_button.isEnabled()
    generate(qtbot, w, bars=1, variations=1, seed=7)
    assert w.variations


# --- co-play: an arc on the plane, a phrase to continue, scale lock ------------------------------

def test_an_arc_drawn_on_the_plane_is_what_the_piece_follows_bar_by_bar(make_window, qtbot):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    plane = w.emotion.plane
    QTest.mouseClick(w.emotion.arc_button, Qt.MouseButton.LeftButton)
    start, end = plane.to_point(VA(-0.8, -0.8)).toPoint(), plane.to_point(VA(0.8, 0.8)).toPoint()
    QTest.mousePress(plane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 10):
        QTest.mouseMove(plane, start + (end - start) * (k / 10))
    QTest.mouseRelease(plane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    arc = w.emotion.arc()
    assert 2 <= len(arc) <= 8
    assert arc[0].valence == pytest.approx(-0.8, abs=0.05) and arc[-1].arousal == pytest.approx(0.8, abs=0.05)
    assert w.target() == arc[0] and "Arc:" in w.emotion.arc_label.text()
    generate(qtbot, w, bars=4, variations=1)
    v = w.selected()
    assert v.settings.arc == arc
    bar_vas = w.results.roll.bar_vas()
    assert len(bar_vas) == 4 and [b.arousal for b in bar_vas] == sorted(b.arousal for b in bar_vas)
    assert bar_vas[0].arousal < -0.5 < 0.5 < bar_vas[-1].arousal
    assert v.piece.metadata()["arc"] == [[p.valence, p.arousal] for p in arc]
    QTest.mouseClick(w.emotion.arc_button, Qt.MouseButton.LeftButton)   # off: one emotion again
    assert w.emotion.arc() == () and w.generation.settings()[0].arc == ()


def test_a_dropped_phrase_is_continued_in_its_key_and_tempo(make_window, qtbot, tmp_path):
    from test_coplay import d_major_phrase

    w = make_window()
    drop_file(qtbot, w, COFFEE)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(d_major_phrase(tmp_path / "phrase.mid")))])
    drop(w, mime)
    assert "phrase.mid" in w.picture.phrase_label.text() and " D " in w.picture.phrase_label.text()
    assert w.image_label == "coffee.jpg"   # the picture stays
    generate(qtbot, w, bars=2, variations=1)
    v = w.selected()
    assert v.piece.plan.primer is not None and v.key_name == "D" and v.tempo == 96
    assert v.piece.metadata()["prime"] == "phrase.mid"
    QTest.mouseClick(w.picture.clear_phrase_button, Qt.MouseButton.LeftButton)
    assert w.primer is None and w.picture.clear_phrase_button.isHidden()


def test_a_broken_phrase_file_says_so_in_one_line(make_window, qtbot, tmp_path):
    w = make_window()
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd not really")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(bad))])
    drop(w, mime)
    assert "broken.mid" in w.error_text() and w.primer is None


def test_scale_lock_in_the_app_keeps_every_note_in_the_key(make_window, qtbot):
    w = make_window()
    drop_file(qtbot, w, COFFEE)
    w.generation.scale_lock.setChecked(True)
    w.generation.temperature.setValue(1.5)
    generate(qtbot, w, bars=2, variations=2)
    for v in w.variations:
        k = v.piece.key
        steps = (0, 2, 4, 5, 7, 9, 11) if k.mode == "major" else (0, 2, 3, 5, 7, 8, 10)
        assert {n.pitch % 12 for n in v.notes} <= {(k.tonic + s) % 12 for s in steps}


@pytest.mark.jack
@pytest.mark.timeout(60)
def test_steer_live_plays_the_variation_and_follows_the_plane_from_the_next_bar(make_window, qtbot, sink):
    from test_live_jack import sounding_at_end

    w = make_window()
    choose_sink(w, sink)
    drop_file(qtbot, w, COFFEE)
    w.emotion.set_user_target(VA(-0.8, -0.8))
    w.generation.tempo.setValue(200)  # a bar is 1.2 s
    w.generation.auto_tempo.setChecked(False)
    generate(qtbot, w, bars=4, variations=1)
    v = w.selected()
    w.output.steer_box.setChecked(True)
    QTest.mouseClick(w.output.play_button, Qt.MouseButton.LeftButton)
    assert w.player.playing and w.steering is not None
    qtbot.waitUntil(lambda: (w.player._live.scheduler.playhead() or 0) > 4.5, timeout=10_000)   # in bar 2
    w.emotion.set_user_target(VA(0.9, 0.9))   # what a drag on the plane does
    qtbot.waitUntil(lambda: not w.player.playing, timeout=15_000)
    turns = w.steering.turns
    assert len(turns) == 1 and turns[0].va == VA(0.9, 0.9) and turns[0].bar in (2, 3)
    played = w.player.last_result.played
    before = [n for n in played if n.start < 4.0]
    after = [n for n in played if n.start >= turns[0].bar * 4]
    judge = w.worker.runtime.judge
    assert VA(*judge.predict(after)).arousal > VA(*judge.predict(before)).arousal + 0.2
    # until the move, the take is the variation itself (same request, same music)
    assert [(n.pitch, n.start) for n in before] == [(n.pitch, n.start) for n in v.notes if n.start < 4.0]
    assert not sounding_at_end([(m, 0) for m in sink.msgs])


def test_link_toggle_without_aalink_is_one_line_and_switches_back(make_window, qtbot, monkeypatch):
    import sys as _sys

    monkeypatch.setitem(_sys.modules, "aalink", None)
    w = make_window()
    w.output.link_button.setChecked(True)
    assert "aalink" in w.error_text() and not w.output.link_button.isChecked() and w.player.link is None


@pytest.mark.jack
@pytest.mark.timeout(60)
def test_link_toggle_plays_on_the_session_tempo(make_window, qtbot, sink):
    pytest.importorskip("aalink")
    from test_link import Peer

    peer = Peer(97.0)
    try:
        time.sleep(0.6)   # the older session wins: let the peer's be older
        w = make_window()
        choose_sink(w, sink)
        drop_file(qtbot, w, COFFEE)
        generate(qtbot, w, bars=1, variations=1)
        w.output.link_button.setChecked(True)
        assert w.player.link is not None and "97.00 BPM" in w.statusBar().currentMessage()
        QTest.mouseClick(w.output.play_button, Qt.MouseButton.LeftButton)
        assert w.player._live.tempo == pytest.approx(97.0, abs=0.01)
        qtbot.waitUntil(lambda: not w.player.playing, timeout=15_000)
        w.output.link_button.setChecked(False)
        assert w.player.link is None
    finally:
        peer.close()
