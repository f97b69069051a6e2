"""Preview: hear the selected variation through the computer's audio output, with the playhead.

A thin Qt shell over ``engine.files.preview.Preview`` (the engine renders with the SoundFont synth
and plays on a sink): a timer turns the sink's position into the piano roll's playhead and
notices the end. No SoundFont, synth or audio device is one line for the window; the rest
of the app is unaffected.
"""
from __future__ import annotations

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from engine.files.audio import AudioError
from engine.events import NoteEvent
from engine.files.preview import AudioSink, Preview

POLL_MS = 30


class Audition(QObject):
    playhead = pyqtSignal(object)   # beat heard, or None when stopped
    started = pyqtSignal(float)     # seconds of audio
    finished = pyqtSignal(bool)     # True if stopped by the user
    failed = pyqtSignal(str)

    def __init__(self, sink: AudioSink | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.preview = Preview(sink)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def play(self, notes: list[NoteEvent], tempo: float) -> bool:
        self.stop()
        try:
            seconds = self.preview.play(list(notes), tempo)
        except AudioError as err:
            self.failed.emit(f"Preview: {err}")
            return False
        self._timer.start()
        self.started.emit(seconds)
        return True

    def stop(self) -> None:
        was = self.playing
        self.preview.stop()
        self._timer.stop()
        if was:
            self.playhead.emit(None)
            self.finished.emit(True)

    def _poll(self) -> None:
        beat = self.preview.playhead()
        if beat is None:
            self._timer.stop()
            self.playhead.emit(None)
            self.finished.emit(False)
        else:
            self.playhead.emit(beat)
