"""The *Picture* panel: the thumbnail (also the drop target's face), Open… and Paste, and the
one-line message under them.

It turns what the user gives (a file chosen in a dialog, the clipboard, a drop handed over by
the window) into an ``ImageSource`` and emits it; reading the pixels is the worker's job, so
a huge or broken file never blocks the window. A dropped ``.mid`` is a phrase to continue
(``phraseChosen``); its line under the picture says what was read, with Clear beside it.
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QMimeData, pyqtSignal
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import QApplication, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .image_input import NotAnImage, can_accept, source_from_mime
from .widgets import Thumbnail
from .worker import ImageSource

MIDI_SUFFIXES = (".mid", ".midi", ".smf")
IMAGE_FILTER = "Pictures (*.jpg *.jpeg *.png *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"


class PicturePanel(QGroupBox):
    sourceChosen = pyqtSignal(object)   # ImageSource to read
    failed = pyqtSignal(str)            # what was given is not a picture (one line)
    phraseChosen = pyqtSignal(object)   # Path of a dropped .mid to continue
    phraseCleared = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Picture", parent)
        self.last_dir = str(Path.home())   # the Open… dialog starts here; the window remembers it
        self.thumb = Thumbnail()
        self.image_name = QLabel("No picture yet")
        self.image_name.setObjectName("dim")
        self.image_name.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.open_button = QPushButton("Open…")
        self.paste_button = QPushButton("Paste")
        row = QHBoxLayout()
        row.addWidget(self.image_name, 1)
        row.addWidget(self.open_button)
        row.addWidget(self.paste_button)
        col = QVBoxLayout(self)
        col.addWidget(self.thumb)
        col.addLayout(row)
        col.addWidget(self.error_label)
        self.phrase_label = QLabel("Drop a .mid here too, and the music continues it")
        self.phrase_label.setObjectName("dim")
        self.phrase_label.setWordWrap(True)
        self.clear_phrase_button = QPushButton("Clear")
        self.clear_phrase_button.setToolTip("Start from nothing again instead of continuing the phrase")
        self.clear_phrase_button.hide()
        phrase = QHBoxLayout()
        phrase.addWidget(self.phrase_label, 1)
        phrase.addWidget(self.clear_phrase_button)
        col.addLayout(phrase)
        self._column = col
        self.clear_phrase_button.clicked.connect(self.phraseCleared)
        self.open_button.clicked.connect(self.open_file)
        self.paste_button.clicked.connect(self.paste)

    def add_row(self, widget: QWidget) -> None:
        """A row of the window's own under the picture (the Chords field)."""
        self._column.addWidget(widget)

    # --- picture in ----------------------------------------------------------------------
    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window(), "Open picture", self.last_dir, IMAGE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        p = Path(path).expanduser()
        self.last_dir = str(p.resolve().parent)
        self.sourceChosen.emit(ImageSource(label=p.name or str(p), path=p))

    def paste(self) -> None:
        mime = QApplication.clipboard().mimeData()
        if mime is None:
            self.failed.emit("The clipboard is empty")
            return
        self.take_mime(mime, "clipboard")

    def take_mime(self, mime: QMimeData, what: str = "dropped item") -> None:
        try:
            source = source_from_mime(mime, what)
        except NotAnImage as err:
            self.failed.emit(str(err))
            return
        if source.path is not None and source.path.suffix.lower() in MIDI_SUFFIXES:
            self.phraseChosen.emit(source.path)
            return
        self.sourceChosen.emit(source)

    @staticmethod
    def accepts(mime: QMimeData) -> bool:
        return can_accept(mime)

    # --- what is shown -------------------------------------------------------------------
    def show_picture(self, label: str | None, thumb: QImage) -> None:
        self.image_name.setText(label or "Pasted picture")
        self.thumb.set_pixmap(QPixmap.fromImage(thumb))

    def show_phrase(self, text: str | None) -> None:
        """The phrase being continued (None: none)."""
        self.phrase_label.setText(text or "Drop a .mid here too, and the music continues it")
        self.clear_phrase_button.setVisible(text is not None)

    def set_drop_highlight(self, on: bool) -> None:
        self.thumb.set_highlight(on)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def clear_error(self) -> None:
        self.error_label.hide()
        self.error_label.clear()

    def error_text(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""
