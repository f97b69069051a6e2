"""The one window: picture in → its emotion on the VA plane → generate → piano roll → play / drag out.

Six panels own their widgets: ``PicturePanel`` (with ``ChordPanel`` under the picture), ``EmotionPanel`` (left),
``GeneratePanel``, ``ResultsPanel``, ``OutputPanel`` (right). The window only wires them to
``EngineThread`` (model, pictures, variations, regenerated bars) and ``Player`` (ports,
playback), and keeps what spans panels: the current picture's ``Encoding``, the running job,
what is playing, and the history of takes (a ``QUndoStack``: each Regenerate is one step, and
undo/redo select the take before or after it; every take stays in the Results list). Nothing
here blocks for longer than opening a port.
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSettings
from PyQt6.QtGui import (
    QAction, QCloseEvent, QDragEnterEvent, QDragLeaveEvent, QDropEvent, QImage, QKeySequence, QUndoCommand, QUndoStack,
)
from PyQt6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QMainWindow, QVBoxLayout, QWidget

from engine.errors import SettingError
from engine.events import VA, NoteEvent
from engine.files.midi_io import MidiError
from engine.files.outputs import check_output_path
from engine.live.link import LinkUnavailable
from engine.music.primer import Primer, PrimerError, primer_from_midi
from engine.live.steering import Pacer, Steering
from engine.live.ports import DEFAULT_OUTPUT, PortError
from engine.generation.runtime import Encoding, Runtime

from . import dragout
from .audition import Audition
from .chord_panel import ChordPanel
from .emotion_panel import EmotionPanel
from .generate_panel import GeneratePanel
from .output_panel import OutputPanel
from .picture_panel import PicturePanel
from .player import Player
from .results_panel import ResultsPanel
from .worker import EngineThread, GenerationJob, ImageSource, NoteFeed, RevisionJob, Variation

LEFT_WIDTH = 380


class TakeStep(QUndoCommand):
    """One Regenerate: redo shows the new take, undo the take it was made from."""

    def __init__(self, window: "MainWindow", before: int, after: int, text: str) -> None:
        super().__init__(text)
        self.window, self.before, self.after = window, before, after

    def redo(self) -> None:
        self.window.show_take(self.after)

    def undo(self) -> None:
        self.window.show_take(self.before)


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, load_runtime=Runtime.load,
                 virtual_port: str = DEFAULT_OUTPUT, audio_sink=None) -> None:
        super().__init__()
        self.setWindowTitle("Synesthete")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.encoding: Encoding | None = None   # the current picture's; every job takes it as it is
        self.picture_path: Path | None = None   # its file, when it came from one
        self._requested_path: Path | None = None
        self.job_id: int | None = None
        self.job: GenerationJob | None = None
        self._image_req: int | None = None
        self.primer: Primer | None = None        # a dropped phrase the music continues
        self.primer_path: Path | None = None     # its file: an input, never saved over
        self._steer_va: VA | None = None          # the plane's target for live steering (read by the player's thread)
        self.steering: Steering | None = None     # the live-steered take, if one plays
        self._playing: int | None = None        # index of the variation playing (None: nothing, or the stream)
        self._playing_stream = False
        self._played_notes = 0
        self._provider = "loading…"
        self._runtime_ok = False
        self._shut_down = False
        self.revision_id: int | None = None      # the Regenerate running
        self.revision: RevisionJob | None = None
        self.takes = QUndoStack(self)            # Regenerate steps: undo/redo move between takes

        self.worker = EngineThread(load_runtime, self)
        self.player = Player(virtual_port, self)
        self.audition = Audition(audio_sink, self)   # Preview; audio_sink None: the computer's output
        self.picture, self.chords, self.emotion = PicturePanel(), ChordPanel(), EmotionPanel()
        self.generation, self.results, self.output = GeneratePanel(), ResultsPanel(), OutputPanel()
        self._lay_out()
        self._build_status_bar()
        self._build_actions()
        self._connect_worker()
        self._connect_player()
        self._connect_panels()
        self._load_settings()
        self.refresh_ports()
        self._update_enabled()
        self.worker.start()

    # --- building ------------------------------------------------------------------------
    def _lay_out(self) -> None:
        left_w = QWidget()
        left_w.setFixedWidth(LEFT_WIDTH)
        left = QVBoxLayout(left_w)
        left.setContentsMargins(0, 0, 0, 0)
        left.setSpacing(12)
        self.picture.add_row(self.chords)   # beside the picture: what the music's harmony follows
        left.addWidget(self.picture)
        left.addWidget(self.emotion, 1)
        right = QVBoxLayout()
        right.setSpacing(12)
        right.addWidget(self.generation)
        right.addWidget(self.results, 1)
        right.addWidget(self.output)
        central = QWidget()
        root = QHBoxLayout(central)
        root.setContentsMargins(12, 12, 12, 8)
        root.setSpacing(12)
        root.addWidget(left_w)
        root.addLayout(right, 1)
        self.setCentralWidget(central)
        self.resize(1280, 820)

    def _build_status_bar(self) -> None:
        self.provider_label = QLabel()
        self.port_label = QLabel()
        for lab in (self.provider_label, self.port_label):
            lab.setObjectName("dim")
            lab.setContentsMargins(8, 0, 8, 0)
        self.statusBar().addPermanentWidget(self.port_label)
        self.statusBar().addPermanentWidget(self.provider_label)
        self._show_provider()
        self._show_port(self.player.describe())

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

        self.open_action = action("&Open picture…", self.picture.open_file, QKeySequence.StandardKey.Open)
        self.paste_action = action("&Paste picture", self.picture.paste, QKeySequence.StandardKey.Paste)
        menu.addSeparator()
        self.save_action = action("&Save MIDI…", self.save_as, QKeySequence.StandardKey.Save)
        self.generate_action = action("&Generate", self.generate, QKeySequence("Ctrl+Return"))
        menu.addSeparator()
        action("&Quit", self.close, QKeySequence.StandardKey.Quit)

        menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.takes.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.takes.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for a in (self.undo_action, self.redo_action):
            menu.addAction(a)
            self.addAction(a)
        menu.addSeparator()
        self.regenerate_action = action("Re&generate selected bars", self.regenerate, QKeySequence("Ctrl+R"))

    def _connect_worker(self) -> None:
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
        w.revisionReady.connect(self._on_revision_ready)
        w.revisionFailed.connect(self._on_revision_failed)

    def _connect_player(self) -> None:
        p = self.player
        p.playhead.connect(self.results.roll.set_playhead)
        p.noteOn.connect(self._on_note_played)
        p.started.connect(lambda name: self._status(f"Playing into {name}…"))
        p.finished.connect(self._on_play_finished)
        p.failed.connect(self._on_play_failed)
        p.portChanged.connect(self._show_port)
        a = self.audition
        a.playhead.connect(self.results.roll.set_playhead)
        a.started.connect(lambda s: self._status(f"Previewing {s:.1f} s of audio…"))
        a.finished.connect(lambda by_user: (self._status("Preview stopped" if by_user else "Preview finished", 4000),
                                            self._update_enabled()))
        a.failed.connect(self.show_error)

    def _connect_panels(self) -> None:
        self.picture.sourceChosen.connect(self._request_image)
        self.picture.phraseChosen.connect(self.load_phrase)
        self.picture.phraseCleared.connect(lambda: self.load_phrase(None))
        self.picture.failed.connect(self.show_error)
        self.emotion.aimChanged.connect(self.generation.follow_target)
        self.generation.generateRequested.connect(self.generate)
        self.generation.cancelRequested.connect(self.cancel)
        self.results.selectionChanged.connect(self._on_selection)
        self.results.regenerateRequested.connect(self.regenerate)
        self.results.roll.barsSelected.connect(lambda _bars: self._update_enabled())
        o = self.output
        o.portChosen.connect(self._on_port_chosen)
        o.refreshRequested.connect(self.refresh_ports)
        o.playRequested.connect(self.play)
        o.previewRequested.connect(self.preview)
        o.stopRequested.connect(self.stop)
        o.dragRequested.connect(self.drag_out)
        o.saveRequested.connect(self.save_as)
        o.linkToggled.connect(self.set_link)
        self.emotion.targetChanged.connect(self._steer_to)

    # --- settings ------------------------------------------------------------------------
    def _load_settings(self) -> None:
        s = self.settings
        self.generation.load(s)
        self.chords.load(s)
        self.emotion.load(s)
        self.player.choose(s.value("midi/port", "", type=str) or None)
        self.picture.last_dir = s.value("paths/lastDir", str(Path.home()), type=str)
        geo = s.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        split = s.value("window/splitter")
        if split is not None:
            self.results.splitter.restoreState(split)

    def _save_settings(self) -> None:
        s = self.settings
        self.generation.save(s)
        self.chords.save(s)
        self.emotion.save(s)
        s.setValue("midi/port", self.player.choice() or "")
        s.setValue("paths/lastDir", self.picture.last_dir)
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/splitter", self.results.splitter.saveState())
        s.sync()

    # --- status and errors ---------------------------------------------------------------
    def _status(self, text: str, ms: int = 0) -> None:
        self.statusBar().showMessage(text, ms)

    def show_error(self, text: str) -> None:
        self.picture.show_error(text)
        self._status(text)

    def clear_error(self) -> None:
        self.picture.clear_error()

    def error_text(self) -> str:
        return self.picture.error_text()

    def _show_provider(self) -> None:
        self.provider_label.setText(f"onnxruntime: {self._provider}")

    def _show_port(self, text: str) -> None:
        self.port_label.setText(f"MIDI: {text}")

    # --- picture in ----------------------------------------------------------------------
    @property
    def image_label(self) -> str | None:
        return self.encoding.image if self.encoding is not None else None

    def open_path(self, path: str | Path) -> None:
        self.picture.open_path(path)

    def load_phrase(self, path: str | Path | None) -> None:
        """Continue this MIDI phrase from now on (None: start from nothing again)."""
        self.clear_error()
        if path is None:
            self.primer = self.primer_path = None
            self.picture.show_phrase(None)
            return
        try:
            primer = primer_from_midi(path)
        except (MidiError, PrimerError) as err:
            self.show_error(str(err))
            return
        except Exception as err:  # noqa: BLE001 - an exception out of a Qt slot aborts the app
            self.show_error(f"{Path(path).name}: cannot be read as a phrase ({type(err).__name__})")
            return
        self.primer, self.primer_path = primer, Path(path)
        tempo = f" at {primer.tempo:g} BPM" if primer.tempo else ""
        self.picture.show_phrase(f"Continuing {primer.name}: {primer.bars} bar{'s' if primer.bars > 1 else ''} "
                                 f"in {primer.key.name}{tempo}")

    def _request_image(self, source: ImageSource) -> None:
        self.clear_error()
        self._image_req = self.worker.analyse_image(source)  # results of older requests are ignored
        self._requested_path = source.path
        self._status(f"Reading {source.label}…")

    def dragEnterEvent(self, e: QDragEnterEvent) -> None:
        if e.source() is None and self.picture.accepts(e.mimeData()):  # not our own drag-out
            e.acceptProposedAction()
            self.picture.set_drop_highlight(True)

    def dragLeaveEvent(self, e: QDragLeaveEvent) -> None:
        self.picture.set_drop_highlight(False)

    def dropEvent(self, e: QDropEvent) -> None:
        self.picture.set_drop_highlight(False)
        e.acceptProposedAction()
        self.picture.take_mime(e.mimeData())

    def _on_image_ready(self, rid: int, encoding: Encoding, thumb: QImage) -> None:
        if rid != self._image_req:
            return  # an older picture finished after a newer one was asked for
        self.encoding = encoding
        self.picture_path = self._requested_path  # a save must never overwrite it
        self.picture.show_picture(encoding.image, thumb)
        self.emotion.set_image_va(encoding.va)
        va = encoding.va
        self._status(f"{encoding.image}: {va.mood} (valence {va.valence:+.2f}, arousal {va.arousal:+.2f})")
        self._update_enabled()

    def _on_image_failed(self, rid: int, message: str) -> None:
        if rid == self._image_req:
            self.show_error(message)

    # --- generating ----------------------------------------------------------------------
    def target(self) -> VA:
        return self.emotion.target()

    def generating(self) -> bool:
        return self.job_id is not None

    def generate(self) -> None:
        if not self._runtime_ok:
            return
        if self.chords.error():
            self.show_error(f"Chords: {self.chords.error()}")
            return
        try:
            settings = self.generation.settings(intensity=self.emotion.intensity(), arc=self.emotion.arc(),
                                                chords=self.chords.text())
            if self.primer is not None:  # the phrase's key and tempo where the user left them automatic
                settings = [self.primer.settle(s) for s in settings]
        except SettingError as err:
            self.show_error(str(err))
            return
        self.clear_error()
        self.player.stop()
        self.job = GenerationJob(tuple(settings), self.target(), self.encoding, self.primer)
        self.revision_id = self.revision = None   # a take of the old results would have nowhere to go
        self.takes.clear()
        self.results.begin(settings[0].bars, self.job.target.mood)
        self.job_id = self.worker.generate(self.job)
        self.generation.job_started(len(settings))
        self._status("Generating…")
        self._update_enabled()

    def cancel(self) -> None:
        if self.generating():
            self.worker.cancel()
            self._status("Cancelling…")

    def _on_note_generated(self, jid: int, note: NoteEvent) -> None:
        if jid == self.job_id:
            self.results.add_streamed_note(note)

    def _on_progress(self, jid: int, pct: int) -> None:
        if jid == self.job_id:
            self.generation.set_progress(pct)

    def _on_variation_ready(self, jid: int, v: Variation) -> None:
        if jid != self.job_id:
            return
        if v.index == 0 and self._playing_stream:
            self._playing = 0  # the streamed notes are this variation's: keep it on screen
        sel = self.results.selected()
        self.results.add_variation(v, keep=sel.index if sel is not None else (0 if v.index == 0 else None))

    def _on_generation_finished(self, jid: int, ranked: list[Variation]) -> None:
        if jid != self.job_id:
            return
        self.job_id = None
        # While a variation plays, keep it on screen; otherwise show the best.
        keep = self._playing if self._playing is not None else (ranked[0].index if ranked else None)
        self.results.finish(ranked, keep)
        self.generation.job_ended("Done", 100)
        if ranked:
            n = len(ranked)
            self._status(f"{n} variation{'s' if n > 1 else ''} ready; "
                         f"best fit #1 is {ranked[0].fit:.2f} from the target")
        self._update_enabled()

    def _on_generation_cancelled(self, jid: int) -> None:
        if jid != self.job_id:
            return
        self.job_id = None
        self.generation.job_ended("Cancelled", 0)
        self._status("Generation cancelled")
        self.results.cancelled()
        self._update_enabled()

    def _on_generation_failed(self, jid: int, message: str) -> None:
        if jid != self.job_id:
            return
        self.job_id = None
        self.generation.job_ended("Failed")
        self.show_error(f"Generation failed: {message}")
        self._update_enabled()

    # --- regenerating bars: takes ---------------------------------------------------------
    def revising(self) -> bool:
        return self.revision_id is not None

    def can_regenerate(self) -> bool:
        v = self.selected()
        return (self._runtime_ok and v is not None and not self.generating() and not self.revising()
                and not self.results.streaming and self.results.roll.selection() is not None)

    def regenerate(self) -> None:
        """Rewrite the bars selected on the roll of the selected result, with a new seed, in the
        worker thread; the take comes back to ``_on_revision_ready``."""
        if not self.can_regenerate():
            return
        v = self.selected()
        lo, hi = self.results.roll.selection()
        self.clear_error()
        self.revision = RevisionJob(v, lo, hi, self._take_seed(), self.results.next_index(), self.results.next_take(v))
        self.revision_id = self.worker.revise(self.revision)
        self._status(f"Regenerating bar{'s' if hi > lo else ''} {lo}{f'–{hi}' if hi > lo else ''} "
                     f"(seed {self.revision.seed})…")
        self._update_enabled()

    def _take_seed(self) -> int:
        """A seed no result on the list has: each take is new music."""
        return 1 + max(v.settings.seed for v in self.variations)

    def _on_revision_ready(self, jid: int, take: Variation) -> None:
        if jid != self.revision_id:
            return
        job, self.revision_id, self.revision = self.revision, None, None
        self.results.add_take(take)
        lo, hi = take.revised
        self.takes.push(TakeStep(self, job.variation.index, take.index, f"regenerate bars {lo}–{hi}"))
        self._status(f"Take {take.take}: bar{'s' if hi > lo else ''} {lo}{f'–{hi}' if hi > lo else ''} rewritten "
                     f"(seed {take.settings.seed}); Ctrl+Z goes back", 8000)
        self._update_enabled()

    def _on_revision_failed(self, jid: int, message: str) -> None:
        if jid != self.revision_id:
            return
        self.revision_id = self.revision = None
        self.show_error(f"Regenerate failed: {message}")
        self._update_enabled()

    def show_take(self, index: int) -> None:
        """Select a take (undo/redo); one no longer listed is left alone."""
        if self.results.find(index) is not None:
            self.results.select(index)

    # --- results -------------------------------------------------------------------------
    @property
    def variations(self) -> list[Variation]:
        return self.results.variations

    def selected(self) -> Variation | None:
        return self.results.selected()

    def _on_selection(self, _v: Variation | None) -> None:
        self.emotion.set_marks(self.results.marks())
        self._update_enabled()

    # --- playing -------------------------------------------------------------------------
    def play(self) -> None:
        self.clear_error()
        v = self.selected()
        if v is None and self.generating() and self.results.streaming:
            if self._play_stream():
                return
            v = self.results.find(0)
        if v is None or not v.notes:
            return
        self._played_notes = 0
        self.audition.stop()
        if v.index != getattr(self.selected(), "index", None):
            self.results.select(v.index)
        steer = self.output.steer_box.isChecked() and self.worker.runtime is not None
        if steer and v.is_take:  # steering composes the request again; a take's new bars are no request
            self._status("Steer live follows generated variations; this take plays as it is", 6000)
            steer = False
        if steer:
            ok = self._play_steered(v)
        else:
            self.steering = None
            ok = self.player.play(v.notes, v.tempo)
        if ok:
            self._playing = v.index
        self._update_enabled()

    def _play_steered(self, v: Variation) -> bool:
        """Compose the variation again as it plays (same request, so the same music until the
        target moves), each bar just ahead of playback, following the plane from the next bar."""
        rt = self.worker.runtime
        self._steer_va = None
        pacer = Pacer()
        self.steering = Steering(v.settings, lambda: self._steer_va, pacer).for_piece(1, v.target)
        notes = rt.stream_notes(v.piece.plan, steer=self.steering)
        return self.player.play(notes, v.tempo, pacer=pacer)

    def _steer_to(self, va: VA) -> None:
        if self.player.playing and self.steering is not None:
            self._steer_va = va

    def set_link(self, on: bool) -> None:
        """The Link toggle: join or leave the session (one line when aalink is missing)."""
        try:
            self._status(self.player.set_link(on, tempo=self.generation.tempo.value()), 6000)
        except LinkUnavailable as err:
            self.show_error(str(err))
            self.output.link_button.blockSignals(True)
            self.output.link_button.setChecked(False)
            self.output.link_button.blockSignals(False)

    def _play_stream(self) -> bool:
        """Play the first variation while it is sampled; False when it finished meanwhile."""
        feed = NoteFeed()
        if not self.worker.attach_feed(self.job_id, feed):
            return False
        first = self.job.settings[0]
        self._played_notes = 0
        if self.player.play(feed, first.tempo_for(self.job.target), feed=feed):
            self._playing_stream = True
            self._update_enabled()
        return True

    def preview(self) -> None:
        """Listen to the selected variation on this computer (audio, not MIDI)."""
        self.clear_error()
        v = self.selected()
        if v is None or not v.notes:
            return
        self.player.stop()
        self.audition.play(v.notes, v.tempo)
        self._update_enabled()

    def stop(self) -> None:
        self.player.stop()
        self.audition.stop()
        self._update_enabled()

    def _on_note_played(self, note: NoteEvent) -> None:
        self._played_notes += 1
        if self.results.roll.playhead() is None:
            self.results.roll.set_playhead(note.start)

    def _on_play_finished(self, by_user: bool) -> None:
        self._playing, self._playing_stream = None, False
        self._status("Stopped: all notes off" if by_user else f"Played {self._played_notes} notes", 5000)
        self._update_enabled()

    def _on_play_failed(self, message: str) -> None:
        self._playing, self._playing_stream = None, False
        self.show_error(f"MIDI: {message}")
        self._update_enabled()

    def refresh_ports(self) -> None:
        try:
            outputs = self.player.available_outputs()
        except PortError as err:
            outputs = []
            self._status(f"MIDI ports unavailable: {str(err).splitlines()[0]}")
        self.output.set_ports(self.player.virtual_name, outputs, self.player.choice())

    def _on_port_chosen(self, port: str | None) -> None:
        self.player.choose(port)
        self._update_enabled()

    # --- out -----------------------------------------------------------------------------
    def prepare_drag_file(self, directory: str | Path | None = None) -> Path | None:
        v = self.selected()
        if v is None or not v.notes:
            return None
        try:
            return dragout.prepare_drag_file(v.piece, directory, take=v.take)
        except (OSError, ValueError) as err:
            self.show_error(f"Cannot write the MIDI file: {err}")
            return None

    def drag_out(self) -> None:
        path = self.prepare_drag_file()
        if path is not None:
            handle = self.output.drag_handle
            dragout.start_drag(handle, path, handle.grab())

    def save_as(self) -> None:
        v = self.selected()
        if v is None or not v.notes:
            return
        start = str(Path(self.picture.last_dir) / dragout.midi_name(v.piece, v.take))
        path, _ = QFileDialog.getSaveFileName(self, "Save MIDI", start, "MIDI files (*.mid)")
        if not path:
            return
        if not path.lower().endswith((".mid", ".midi")):
            path += ".mid"
        try:
            check_output_path(path, inputs=[self.picture_path, self.primer_path])
            out = Path(v.piece.write(path))
        except (OSError, ValueError) as err:
            self.show_error(f"Cannot save: {err}")
            return
        self.picture.last_dir = str(out.parent)
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
        self.generation.set_state(ready=self._runtime_ok, busy=busy)
        self.generate_action.setEnabled(self._runtime_ok)
        self.output.set_state(can_play=has_notes or (busy and self.results.streaming),
                              playing=self.player.playing, has_notes=has_notes, previewing=self.audition.playing)
        self.save_action.setEnabled(has_notes)
        can = self.can_regenerate()
        self.regenerate_action.setEnabled(can)
        self.results.set_regenerate_state(can, busy=self.revising())

    def shutdown(self) -> None:
        """Cancel generation, silence and close the port, join the worker. Safe to call twice."""
        if self._shut_down:
            return
        self._shut_down = True
        self._save_settings()
        self.worker.cancel()
        self.audition.stop()
        self.player.shutdown()
        self.worker.stop()

    def closeEvent(self, e: QCloseEvent) -> None:
        self.shutdown()
        e.accept()
