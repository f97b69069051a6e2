"""The one window: picture in → its emotion on the VA plane → generate → piano roll → play / drag out.

The window holds state and wiring only. The engine runs on ``EngineThread``, playback timing
lives in ``engine.live`` behind ``Player``; nothing here blocks for longer than opening a port.
"""
from __future__ import annotations

import random
from pathlib import Path

from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDragLeaveEvent, QDropEvent, QImage, QKeySequence, QPixmap
from PyQt6.QtWidgets import (
    QApplication, QComboBox, QDoubleSpinBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
    QListWidget, QListWidgetItem, QMainWindow, QProgressBar, QPushButton, QSpinBox, QSplitter,
    QToolButton, QVBoxLayout, QWidget,
)

from engine.cli import default_tempo
from engine.events import VA, NoteEvent
from engine.keys import PITCH_CLASSES
from engine.ports import DEFAULT_OUTPUT, PortError
from engine.runtime import MAX_BARS, GenerationSettings, Runtime

from . import dragout
from .image_input import NotAnImage, can_accept, source_from_mime
from .piano_roll import PianoRoll
from .player import Player
from .va_plane import Mark, VAPlane
from .widgets import DragHandle, Thumbnail
from .worker import EngineThread, GenerationJob, ImageSource, NoteFeed, Variation

IMAGE_FILTER = "Pictures (*.jpg *.jpeg *.png *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"
MAX_VARIATIONS = 8
DEFAULTS = {"bars": 8, "tempo": 108.0, "auto_tempo": True, "key": "auto", "temperature": 1.0,
            "seed": 42, "variations": 3}


def key_label(key: str) -> str:
    """'Am' → 'A minor', 'Eb' → 'E♭ major' style names for menus and captions."""
    if key.endswith("m"):
        return f"{key[:-1]} minor"
    return f"{key} major"


def key_choices() -> list[tuple[str, str]]:
    majors = [(pc, key_label(pc)) for pc in PITCH_CLASSES]
    minors = [(pc + "m", key_label(pc + "m")) for pc in PITCH_CLASSES]
    return [("auto", "Auto (from valence)")] + majors + minors


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, load_runtime=Runtime.load,
                 virtual_port: str = DEFAULT_OUTPUT) -> None:
        super().__init__()
        self.setWindowTitle("Synesthete")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.image_label: str | None = None
        self.image_va: VA | None = None
        self.override = False
        self.job_id: int | None = None
        self.variations: list[Variation] = []
        self.ranked = False
        self.streaming = False        # the live-filled first variation is what is shown/played
        self.playing: Variation | None = None
        self._pil_image = None
        self._image_req: int | None = None
        self._labels: dict[int, str] = {}
        self._playing_stream = False
        self._provider = "loading…"
        self._runtime_ok = False
        self._quiet_tempo = False
        self._shut_down = False
        self._played_notes = 0

        self.worker = EngineThread(load_runtime, self)
        self.player = Player(virtual_port, self)
        self._build_ui()
        self._build_actions()
        self._connect()
        self._load_settings()
        self.refresh_ports()
        self._update_enabled()
        self.worker.start()

    # --- building ------------------------------------------------------------------------
    def _build_ui(self) -> None:
        central = QWidget()
        root = QHBoxLayout(central)
        root.setContentsMargins(12, 12, 12, 8)
        root.setSpacing(12)

        # Left column: the picture and its emotion.
        left = QVBoxLayout()
        left.setSpacing(12)
        pic_box = QGroupBox("Picture")
        pic = QVBoxLayout(pic_box)
        self.thumb = Thumbnail()
        self.image_name = QLabel("No picture yet")
        self.image_name.setObjectName("dim")
        self.image_name.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        open_row = QHBoxLayout()
        self.open_button = QPushButton("Open…")
        self.paste_button = QPushButton("Paste")
        open_row.addWidget(self.image_name, 1)
        open_row.addWidget(self.open_button)
        open_row.addWidget(self.paste_button)
        pic.addWidget(self.thumb)
        pic.addLayout(open_row)
        pic.addWidget(self.error_label)
        left.addWidget(pic_box)

        va_box = QGroupBox("Emotion (valence × arousal)")
        va = QVBoxLayout(va_box)
        self.plane = VAPlane()
        va.addWidget(self.plane, 1)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        dot_img = QLabel("◯")
        dot_img.setStyleSheet("color: #f0c674; font-weight: bold;")
        dot_tgt = QLabel("●")
        dot_tgt.setStyleSheet("color: #5ab0ff;")
        self.image_readout = QLabel("—")
        self.target_readout = QLabel("—")
        for lab in (self.image_readout, self.target_readout):
            lab.setObjectName("readout")
        grid.addWidget(dot_img, 0, 0)
        grid.addWidget(QLabel("Picture"), 0, 1)
        grid.addWidget(self.image_readout, 0, 2)
        grid.addWidget(dot_tgt, 1, 0)
        grid.addWidget(QLabel("Target"), 1, 1)
        grid.addWidget(self.target_readout, 1, 2)
        grid.setColumnStretch(2, 1)
        va.addLayout(grid)
        self.reset_button = QPushButton("Use image's VA")
        self.reset_button.setToolTip("Snap the target back to what the picture says")
        va.addWidget(self.reset_button)
        left.addWidget(va_box, 1)
        left_w = QWidget()
        left_w.setLayout(left)
        left.setContentsMargins(0, 0, 0, 0)
        left_w.setFixedWidth(380)
        root.addWidget(left_w)

        # Right column: generate, results + piano roll, output.
        right = QVBoxLayout()
        right.setSpacing(12)
        gen_box = QGroupBox("Generate")
        g = QGridLayout(gen_box)
        g.setHorizontalSpacing(10)
        g.setVerticalSpacing(8)
        self.bars = QSpinBox()
        self.bars.setRange(1, MAX_BARS)
        self.bars.setSuffix(" bars")
        self.tempo = QDoubleSpinBox()
        self.tempo.setRange(20, 300)
        self.tempo.setDecimals(0)
        self.tempo.setSuffix(" BPM")
        self.auto_tempo = QToolButton()
        self.auto_tempo.setText("Auto")
        self.auto_tempo.setCheckable(True)
        self.auto_tempo.setToolTip("Follow the target's arousal (calmer = slower)")
        self.key = QComboBox()
        for value, label in key_choices():
            self.key.addItem(label, value)
        self.key.setMaxVisibleItems(13)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.1, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setDecimals(2)
        self.temperature.setToolTip("Lower: safer, more repetitive. Higher: more surprising.")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2_147_483_647)
        self.dice = QToolButton()
        self.dice.setText("⚄")
        self.dice.setToolTip("New random seed")
        self.dice.setAccessibleName("Random seed")
        self.n_variations = QSpinBox()
        self.n_variations.setRange(1, MAX_VARIATIONS)
        self.n_variations.setToolTip("Each variation uses the next seed; results are ranked by emotion fit")
        tempo_row = QHBoxLayout()
        tempo_row.setSpacing(4)
        tempo_row.addWidget(self.tempo, 1)
        tempo_row.addWidget(self.auto_tempo)
        seed_row = QHBoxLayout()
        seed_row.setSpacing(4)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        cells = [("Bars", self.bars), ("Tempo", tempo_row), ("Key", self.key),
                 ("Temperature", self.temperature), ("Seed", seed_row), ("Variations", self.n_variations)]
        for i, (name, w) in enumerate(cells):
            row, col = divmod(i, 3)
            lab = QLabel(name)
            lab.setObjectName("dim")
            g.addWidget(lab, row, col * 2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if isinstance(w, QHBoxLayout):
                g.addLayout(w, row, col * 2 + 1)
            else:
                g.addWidget(w, row, col * 2 + 1)
        for c in (1, 3, 5):
            g.setColumnStretch(c, 1)
        act = QHBoxLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("primary")
        self.generate_button.setToolTip("Generate (Ctrl+Enter)")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("Ready")
        act.addWidget(self.generate_button)
        act.addWidget(self.cancel_button)
        act.addWidget(self.progress, 1)
        g.addLayout(act, 2, 0, 1, 6)
        right.addWidget(gen_box)

        split = QSplitter(Qt.Orientation.Horizontal)
        res_box = QGroupBox("Results · best emotion fit first")
        rl = QVBoxLayout(res_box)
        self.results = QListWidget()
        self.results.setAccessibleName("Results")
        self.results.setWordWrap(True)
        rl.addWidget(self.results)
        roll_box = QGroupBox("Piano roll")
        pl = QVBoxLayout(roll_box)
        self.roll_caption = QLabel(" ")
        self.roll_caption.setObjectName("dim")
        self.roll = PianoRoll()
        pl.addWidget(self.roll_caption)
        pl.addWidget(self.roll, 1)
        split.addWidget(res_box)
        split.addWidget(roll_box)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([270, 700])
        split.setChildrenCollapsible(False)
        res_box.setMinimumWidth(230)
        self.splitter = split
        right.addWidget(split, 1)

        out_box = QGroupBox("Output")
        o = QHBoxLayout(out_box)
        o.setSpacing(8)
        port_lab = QLabel("MIDI port")
        port_lab.setObjectName("dim")
        self.port_combo = QComboBox()
        self.port_combo.setMinimumContentsLength(22)
        self.port_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.port_combo.setAccessibleName("MIDI output port")
        self.refresh_button = QToolButton()
        self.refresh_button.setText("Refresh")
        self.refresh_button.setToolTip("Look for MIDI ports again")
        self.play_button = QPushButton("▶  Play")
        self.play_button.setObjectName("primary")
        self.stop_button = QPushButton("■  Stop")
        self.stop_button.setToolTip("Stop and silence every note (panic)")
        self.drag_handle = DragHandle("⇲  Drag .mid", self.drag_out)
        self.save_button = QPushButton("Save…")
        o.addWidget(port_lab)
        o.addWidget(self.port_combo, 1)
        o.addWidget(self.refresh_button)
        o.addSpacing(12)
        o.addWidget(self.play_button)
        o.addWidget(self.stop_button)
        o.addSpacing(12)
        o.addWidget(self.drag_handle)
        o.addWidget(self.save_button)
        right.addWidget(out_box)
        root.addLayout(right, 1)
        self.setCentralWidget(central)

        self.provider_label = QLabel()
        self.port_label = QLabel()
        for lab in (self.provider_label, self.port_label):
            lab.setObjectName("dim")
            lab.setContentsMargins(8, 0, 8, 0)
        self.statusBar().addPermanentWidget(self.port_label)
        self.statusBar().addPermanentWidget(self.provider_label)
        self._show_provider()
        self._show_port(self.player.describe())
        self.resize(1280, 820)

    def _build_actions(self) -> None:
        menu = self.menuBar().addMenu("&File")

        def action(text, slot, shortcut=None) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(shortcut)
            a.triggered.connect(slot)
            menu.addAction(a)
            self.addAction(a)
            return a

        self.open_action = action("&Open picture…", self.open_file, QKeySequence.StandardKey.Open)
        self.paste_action = action("&Paste picture", self.paste, QKeySequence.StandardKey.Paste)
        menu.addSeparator()
        self.save_action = action("&Save MIDI…", self.save_as, QKeySequence.StandardKey.Save)
        self.generate_action = action("&Generate", self.generate, QKeySequence("Ctrl+Return"))
        menu.addSeparator()
        action("&Quit", self.close, QKeySequence.StandardKey.Quit)

    def _connect(self) -> None:
        w = self.worker
        w.ready.connect(self._on_ready)
        w.loadFailed.connect(self._on_load_failed)
        w.imageReady.connect(self._on_image_ready)
        w.imageFailed.connect(self._on_image_failed)
        w.noteGenerated.connect(self._on_note_generated)
        w.progress.connect(self._on_progress)
        w.variationReady.connect(self._on_variation_ready)
        w.generationFinished.connect(self._on_generation_finished)
        w.generationCancelled.connect(self._on_generation_cancelled)
        w.generationFailed.connect(self._on_generation_failed)
        p = self.player
        p.playhead.connect(self.roll.set_playhead)
        p.noteOn.connect(self._on_note_played)
        p.started.connect(lambda name: self._status(f"Playing into {name}…"))
        p.finished.connect(self._on_play_finished)
        p.failed.connect(self._on_play_failed)
        p.portChanged.connect(self._show_port)

        self.open_button.clicked.connect(self.open_file)
        self.paste_button.clicked.connect(self.paste)
        self.plane.targetChanged.connect(self._on_plane_moved)
        self.reset_button.clicked.connect(self.use_image_va)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        self.dice.clicked.connect(lambda: self.seed.setValue(random.randint(0, 99_999)))
        self.tempo.valueChanged.connect(self._on_tempo_edited)
        self.auto_tempo.toggled.connect(self._on_auto_tempo)
        self.results.currentItemChanged.connect(self._on_selection)
        self.play_button.clicked.connect(self.play)
        self.stop_button.clicked.connect(self.stop)
        self.save_button.clicked.connect(self.save_as)
        self.refresh_button.clicked.connect(self.refresh_ports)
        self.port_combo.activated.connect(self._on_port_chosen)

    # --- settings ------------------------------------------------------------------------
    def _load_settings(self) -> None:
        s = self.settings
        self.bars.setValue(s.value("generate/bars", DEFAULTS["bars"], type=int))
        self.temperature.setValue(s.value("generate/temperature", DEFAULTS["temperature"], type=float))
        self.seed.setValue(s.value("generate/seed", DEFAULTS["seed"], type=int))
        self.n_variations.setValue(s.value("generate/variations", DEFAULTS["variations"], type=int))
        i = self.key.findData(s.value("generate/key", DEFAULTS["key"], type=str))
        self.key.setCurrentIndex(max(0, i))
        self._quiet_tempo = True
        self.tempo.setValue(s.value("generate/tempo", DEFAULTS["tempo"], type=float))
        self._quiet_tempo = False
        self.auto_tempo.setChecked(s.value("generate/autoTempo", DEFAULTS["auto_tempo"], type=bool))
        port = s.value("midi/port", "", type=str)
        self.player.choose(port or None)
        self._last_dir = s.value("paths/lastDir", str(Path.home()), type=str)
        geo = s.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        split = s.value("window/splitter")
        if split is not None:
            self.splitter.restoreState(split)

    def _save_settings(self) -> None:
        s = self.settings
        s.setValue("generate/bars", self.bars.value())
        s.setValue("generate/tempo", self.tempo.value())
        s.setValue("generate/autoTempo", self.auto_tempo.isChecked())
        s.setValue("generate/key", self.key.currentData())
        s.setValue("generate/temperature", self.temperature.value())
        s.setValue("generate/seed", self.seed.value())
        s.setValue("generate/variations", self.n_variations.value())
        s.setValue("midi/port", self.player.choice() or "")
        s.setValue("paths/lastDir", self._last_dir)
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/splitter", self.splitter.saveState())
        s.sync()

    # --- status and errors ---------------------------------------------------------------
    def _status(self, text: str, ms: int = 0) -> None:
        self.statusBar().showMessage(text, ms)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()
        self._status(text)

    def clear_error(self) -> None:
        self.error_label.hide()
        self.error_label.clear()

    def error_text(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def _show_provider(self) -> None:
        self.provider_label.setText(f"onnxruntime: {self._provider}")

    def _show_port(self, text: str) -> None:
        self.port_label.setText(f"MIDI: {text}")

    # --- picture in ----------------------------------------------------------------------
    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open picture", self._last_dir, IMAGE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        p = Path(path).expanduser()
        self._last_dir = str(p.resolve().parent)
        self._request_image(ImageSource(label=p.name or str(p), path=p))

    def paste(self) -> None:
        mime = QApplication.clipboard().mimeData()
        if mime is None:
            self.show_error("The clipboard is empty")
            return
        self.load_mime(mime, "clipboard")

    def load_mime(self, mime, what: str = "dropped item") -> None:
        try:
            source = source_from_mime(mime, what)
        except NotAnImage as err:
            self.show_error(str(err))
            return
        self._request_image(source)

    def _request_image(self, source: ImageSource) -> None:
        self.clear_error()
        self._image_req = self.worker.analyse_image(source)
        self._labels = {self._image_req: source.label}  # older requests' results are ignored
        self._status(f"Reading {source.label}…")

    def dragEnterEvent(self, e: QDragEnterEvent) -> None:
        if e.source() is None and can_accept(e.mimeData()):  # not our own drag-out
            e.acceptProposedAction()
            self.thumb.set_highlight(True)

    def dragLeaveEvent(self, e: QDragLeaveEvent) -> None:
        self.thumb.set_highlight(False)

    def dropEvent(self, e: QDropEvent) -> None:
        self.thumb.set_highlight(False)
        e.acceptProposedAction()
        self.load_mime(e.mimeData())

    def _on_image_ready(self, rid: int, va: VA, thumb: QImage, pil) -> None:
        if rid != self._image_req:
            return  # an older picture finished after a newer one was asked for
        self._pil_image = pil
        self.image_label = self._labels.pop(rid, None)
        self.image_name.setText(self.image_label or "Pasted picture")
        self.thumb.set_pixmap(QPixmap.fromImage(thumb))
        self.image_va = va
        self.plane.set_image_va(va)
        if not self.override:
            self._set_target(va)
        self._refresh_readouts()
        self._status(f"{self.image_label}: {va.mood} (valence {va.valence:+.2f}, arousal {va.arousal:+.2f})")
        self._update_enabled()

    def _on_image_failed(self, rid: int, message: str) -> None:
        if rid == self._image_req:
            self.show_error(message)

    # --- target VA -----------------------------------------------------------------------
    def target(self) -> VA:
        return self.plane.target()

    def _set_target(self, va: VA) -> None:
        self.plane.set_target(va)
        self._refresh_readouts()
        if self.auto_tempo.isChecked():
            self._set_tempo_quietly(default_tempo(va.arousal))

    def _on_plane_moved(self, valence: float, arousal: float) -> None:
        self.override = True
        self._set_target(VA(valence, arousal))
        self._update_enabled()

    def use_image_va(self) -> None:
        self.override = False
        if self.image_va is not None:
            self._set_target(self.image_va)
        self._update_enabled()

    def _refresh_readouts(self) -> None:
        def fmt(va: VA | None) -> str:
            return "—" if va is None else f"V {va.valence:+.2f}  A {va.arousal:+.2f}  {va.mood}"
        self.image_readout.setText(fmt(self.image_va))
        self.target_readout.setText(fmt(self.target()) + ("  (yours)" if self.override else ""))

    def _set_tempo_quietly(self, bpm: float) -> None:
        self._quiet_tempo = True
        self.tempo.setValue(bpm)
        self._quiet_tempo = False

    def _on_tempo_edited(self, _value: float) -> None:
        if not self._quiet_tempo:
            self.auto_tempo.setChecked(False)  # the user's tempo wins until Auto is pressed again

    def _on_auto_tempo(self, on: bool) -> None:
        if on:
            self._set_tempo_quietly(default_tempo(self.target().arousal))

    # --- generating ----------------------------------------------------------------------
    def generating(self) -> bool:
        return self.job_id is not None

    def current_settings(self) -> list[GenerationSettings]:
        base = dict(bars=self.bars.value(), tempo=float(self.tempo.value()), key=self.key.currentData(),
                    temperature=round(self.temperature.value(), 3))
        return [GenerationSettings(seed=self.seed.value() + i, **base) for i in range(self.n_variations.value())]

    def generate(self) -> None:
        if not self._runtime_ok:
            return
        try:
            settings = self.current_settings()
        except ValueError as err:
            self.show_error(str(err))
            return
        self.clear_error()
        self.player.stop()
        self.variations = []
        self.ranked = False
        self.results.clear()
        self.plane.set_marks([])
        self.streaming = True
        self.roll.clear("Generating…")
        self.roll.set_piece([], settings[0].bars)
        self.roll_caption.setText(f"Variation 1 · generating for {self.target().mood}…")
        self.job_id = self.worker.generate(GenerationJob(tuple(settings), self.target(), self._pil_image))
        self.progress.setValue(0)
        self.progress.setFormat(f"Generating {len(settings)} variation{'s' if len(settings) > 1 else ''}… %p%")
        self._status("Generating…")
        self._update_enabled()

    def cancel(self) -> None:
        if self.generating():
            self.worker.cancel()
            self._status("Cancelling…")

    def _on_note_generated(self, jid: int, note: NoteEvent) -> None:
        if jid == self.job_id and self.streaming:
            self.roll.add_note(note)

    def _on_progress(self, jid: int, pct: int) -> None:
        if jid == self.job_id:
            self.progress.setValue(pct)

    def _on_variation_ready(self, jid: int, v: Variation) -> None:
        if jid != self.job_id:
            return
        self.variations.append(v)
        if v.index == 0 and self._playing_stream:
            self.playing = v  # the streamed notes are this variation's: keep it on screen
        self._rebuild_results(keep=self.selected() or (v if v.index == 0 else None))

    def _on_generation_finished(self, jid: int, ranked: list[Variation]) -> None:
        if jid != self.job_id:
            return
        self.job_id = None
        self.variations = list(ranked)
        self.ranked = True
        # While the streamed first variation plays, keep it on screen; otherwise show the best.
        keep = self.playing if self.playing is not None else (ranked[0] if ranked else None)
        self._rebuild_results(keep=keep)
        self.progress.setFormat("Done")
        self.progress.setValue(100)
        best = ranked[0] if ranked else None
        if best is not None:
            self._status(f"{len(ranked)} variation{'s' if len(ranked) > 1 else ''} ready; best fit #1 "
                         f"is {best.fit:.2f} from the target")
        self._update_enabled()

    def _on_generation_cancelled(self, jid: int) -> None:
        if jid != self.job_id:
            return
        self.job_id = None
        self.progress.setFormat("Cancelled")
        self.progress.setValue(0)
        self._status("Generation cancelled")
        if self.streaming and not self.variations:
            self.streaming = False
            self.roll.clear("Cancelled. Generate again when ready.")
            self.roll_caption.setText(" ")
        self._update_enabled()

    def _on_generation_failed(self, jid: int, message: str) -> None:
        if jid != self.job_id:
            return
        self.job_id = None
        self.progress.setFormat("Failed")
        self.show_error(f"Generation failed: {message}")
        self._update_enabled()

    # --- results -------------------------------------------------------------------------
    def _rebuild_results(self, keep: Variation | None = None) -> None:
        self.results.blockSignals(True)
        self.results.clear()
        for v in self.variations:
            item = QListWidgetItem(self._result_text(v))
            item.setData(Qt.ItemDataRole.UserRole, v)
            item.setToolTip(self._result_tooltip(v))
            self.results.addItem(item)
            if v is keep:
                self.results.setCurrentItem(item)
        self.results.blockSignals(False)
        self._on_selection(self.results.currentItem(), None)

    def _label(self, v: Variation) -> str:
        return str(v.rank) if self.ranked else str(v.index + 1)

    def _result_text(self, v: Variation) -> str:
        head = f"#{v.rank}" if self.ranked else f"Variation {v.index + 1}"
        if v.judged is None:
            return f"{head}  ·  no notes\nseed {v.settings.seed}"
        return (f"{head}  ·  sounds {v.judged.mood}  ·  fit {v.fit:.2f}\n"
                f"seed {v.settings.seed}  ·  {len(v.notes)} notes  ·  {key_label(v.key)}")

    def _result_tooltip(self, v: Variation) -> str:
        j = v.judged
        judged = "—" if j is None else f"valence {j.valence:+.2f}, arousal {j.arousal:+.2f}"
        return (f"Judged emotion: {judged}\nTarget: valence {v.target.valence:+.2f}, arousal {v.target.arousal:+.2f}\n"
                f"Fit = distance on the plane (0 is exact)")

    def selected(self) -> Variation | None:
        item = self.results.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _on_selection(self, item, _previous) -> None:
        v = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        marks = [Mark(x.judged, self._label(x), x is v) for x in self.variations if x.judged is not None]
        self.plane.set_marks(marks)
        if v is not None:
            self.streaming = False
            s = v.settings
            self.roll.set_piece(v.notes, s.bars)
            self.roll_caption.setText(f"{'#' + str(v.rank) if self.ranked else 'Variation ' + str(v.index + 1)}"
                                      f"  ·  {key_label(v.key)}  ·  {s.bars} bars at {s.tempo:g} BPM"
                                      f"  ·  {len(v.notes)} notes  ·  seed {s.seed}")
        self._update_enabled()

    # --- playing -------------------------------------------------------------------------
    def play(self) -> None:
        self.clear_error()
        v = self.selected()
        if v is None and self.generating() and self.streaming:
            feed = NoteFeed()
            if self.worker.attach_feed(self.job_id, feed):
                tempo = float(self.tempo.value())
                self._played_notes = 0
                if self.player.play(feed, tempo, feed=feed):
                    self._playing_stream = True
                    self._update_enabled()
                return
            v = next((x for x in self.variations if x.index == 0), None)
        if v is None or not v.notes:
            return
        self._played_notes = 0
        if v is not self.selected():
            self._rebuild_results(keep=v)
        if self.player.play(v.notes, v.settings.tempo):
            self.playing = v
        self._update_enabled()

    def stop(self) -> None:
        self.player.stop()
        self._update_enabled()

    def _on_note_played(self, note: NoteEvent) -> None:
        self._played_notes += 1
        if self.roll.playhead() is None:
            self.roll.set_playhead(note.start)

    def _on_play_finished(self, by_user: bool) -> None:
        self.playing = None
        self._playing_stream = False
        self._status("Stopped: all notes off" if by_user else f"Played {self._played_notes} notes", 5000)
        self._update_enabled()

    def _on_play_failed(self, message: str) -> None:
        self.playing = None
        self._playing_stream = False
        self.show_error(f"MIDI: {message}")
        self._update_enabled()

    def refresh_ports(self) -> None:
        current = self.player.choice()
        self.port_combo.clear()
        self.port_combo.addItem(f"Virtual port “{self.player.virtual_name}”", None)
        try:
            outputs = self.player.available_outputs()
        except PortError as err:
            outputs = []
            self._status(f"MIDI ports unavailable: {str(err).splitlines()[0]}")
        for name in outputs:
            self.port_combo.addItem(name, name)
        if current is not None and current not in outputs:
            self.port_combo.addItem(f"{current} (not found)", current)
        self.port_combo.setCurrentIndex(max(0, self.port_combo.findData(current)))

    def _on_port_chosen(self, index: int) -> None:
        self.player.choose(self.port_combo.itemData(index))
        self._update_enabled()

    # --- out -----------------------------------------------------------------------------
    def _model_id(self) -> str | None:
        rt = self.worker.runtime
        return rt.sidecar.get("training", {}).get("data_hash") if rt is not None else None

    def prepare_drag_file(self, directory: str | Path | None = None) -> Path | None:
        v = self.selected()
        if v is None or not v.notes:
            return None
        try:
            return dragout.prepare_drag_file(v, image_label=self.image_label, model=self._model_id(),
                                             directory=directory)
        except (OSError, ValueError) as err:
            self.show_error(f"Cannot write the MIDI file: {err}")
            return None

    def drag_out(self) -> None:
        path = self.prepare_drag_file()
        if path is not None:
            dragout.start_drag(self.drag_handle, path, self.drag_handle.grab())

    def save_as(self) -> None:
        v = self.selected()
        if v is None or not v.notes:
            return
        start = str(Path(self._last_dir) / dragout.midi_name(v))
        path, _ = QFileDialog.getSaveFileName(self, "Save MIDI", start, "MIDI files (*.mid)")
        if not path:
            return
        if not path.lower().endswith((".mid", ".midi")):
            path += ".mid"
        try:
            out = dragout.write_variation(v, path, image_label=self.image_label, model=self._model_id())
        except (OSError, ValueError) as err:
            self.show_error(f"Cannot save: {err}")
            return
        self._last_dir = str(out.parent)
        self._status(f"Saved {out}", 6000)

    # --- engine life ---------------------------------------------------------------------
    def _on_ready(self, provider: str) -> None:
        self._runtime_ok = True
        self._provider = provider
        self._show_provider()
        self._status("Ready: drop a picture, or move the target and Generate", 6000)
        self._update_enabled()

    def _on_load_failed(self, message: str) -> None:
        self._provider = "model not loaded"
        self._show_provider()
        self.show_error(f"The model could not be loaded: {message}")
        self._update_enabled()

    def _update_enabled(self) -> None:
        v = self.selected()
        has_notes = v is not None and bool(v.notes)
        busy = self.generating()
        self.generate_button.setEnabled(self._runtime_ok)
        self.generate_action.setEnabled(self._runtime_ok)
        self.cancel_button.setEnabled(busy)
        self.reset_button.setEnabled(self.image_va is not None and self.override)
        self.play_button.setEnabled(not self.player.playing and (has_notes or (busy and self.streaming)))
        self.stop_button.setEnabled(self.player.playing)
        self.drag_handle.setEnabled(has_notes)
        self.save_button.setEnabled(has_notes)
        self.save_action.setEnabled(has_notes)

    def shutdown(self) -> None:
        """Cancel generation, silence and close the port, join the worker. Safe to call twice."""
        if self._shut_down:
            return
        self._shut_down = True
        self._save_settings()
        self.worker.cancel()
        self.player.shutdown()
        self.worker.stop()

    def closeEvent(self, e: QCloseEvent) -> None:
        self.shutdown()
        e.accept()
