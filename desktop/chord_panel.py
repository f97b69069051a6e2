"""The *Chords* row under the picture: the progression the harmony follows.

Typed (``Am F C G``, ``Am:2 F:2 C:4``; empty: the model's own harmony) or filled by dropping a
``.mid`` on the field, which reads the progression the clip plays (``engine.music.chords``). The
text is checked as it is typed with the engine's own parser: a chord it does not know turns the
field's outline red and the one-line reason shows under it and in its tooltip, so a bad chord is
seen before Generate (which would refuse it with the same line). A dropped clip is read by
``progression_from_midi``, as ``generate --chords-from`` reads it. ``text()`` is what goes into
the request's ``GenerationSettings.chords``.
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QMimeData, QSettings, pyqtSignal
from PyQt6.QtGui import QDragEnterEvent, QDropEvent
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from engine.errors import UsageError
from engine.files.midi_io import MidiError
from engine.music.chords import parse_progression, progression_from_midi

from . import theme
from .picture_panel import MIDI_SUFFIXES

PLACEHOLDER = "Am F C G, Am:2 F:2 C:4, or drop a .mid"
HELP = ("The chords the harmony follows, one a bar ('Am F C G') or with beats ('Am:2 F:2 C:4'), repeated to fill "
        "the piece; the key follows them unless set. Drop a .mid here to use the chords it plays. "
        "Empty: the model's own harmony")


def check_progression(text: str) -> str:
    """'' when ``text`` is a progression the engine takes (or empty), else its one-line reason."""
    if not text.strip():
        return ""
    try:
        parse_progression(text)
    except UsageError as err:
        return str(err).strip().splitlines()[0]
    except Exception as err:  # noqa: BLE001 - it runs as the user types: never out of a Qt slot
        return f"cannot read these chords ({type(err).__name__})"
    return ""


def midi_path(mime: QMimeData) -> Path | None:
    """The dropped file, when the drop is one local MIDI file."""
    if not mime.hasUrls():
        return None
    local = [u for u in mime.urls() if u.isLocalFile()]
    if len(local) != 1:
        return None
    path = Path(local[0].toLocalFile())
    return path if path.suffix.lower() in MIDI_SUFFIXES else None


class ChordField(QLineEdit):
    """A line edit that also takes a dropped ``.mid`` (``midiDropped``); other drops are text."""

    midiDropped = pyqtSignal(object)   # Path

    def dragEnterEvent(self, e: QDragEnterEvent) -> None:
        if midi_path(e.mimeData()) is not None:
            e.acceptProposedAction()
        else:
            super().dragEnterEvent(e)

    def dragMoveEvent(self, e) -> None:
        if midi_path(e.mimeData()) is not None:
            e.acceptProposedAction()
        else:
            super().dragMoveEvent(e)

    def dropEvent(self, e: QDropEvent) -> None:
        path = midi_path(e.mimeData())
        if path is None:
            super().dropEvent(e)
            return
        e.acceptProposedAction()
        self.midiDropped.emit(path)


class ChordPanel(QWidget):
    changed = pyqtSignal(str)   # the text, whenever it changes (valid or not)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = ChordField()
        self.field.setPlaceholderText(PLACEHOLDER)
        self.field.setClearButtonEnabled(True)
        self.field.setAccessibleName("Chord progression")
        self.field.setAcceptDrops(True)
        label = QLabel("Chords")
        label.setObjectName("dim")
        label.setBuddy(self.field)
        self.note = QLabel()   # what the chords imply, or why they are refused; hidden when empty
        self.note.setObjectName("dim")
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(label)
        row.addWidget(self.field, 1)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(4)
        col.addLayout(row)
        col.addWidget(self.note)
        self._error = ""
        self.field.textChanged.connect(self._on_text)
        self.field.midiDropped.connect(self.load_midi)
        self._on_text(self.field.text())

    # --- the value -----------------------------------------------------------------------
    def text(self) -> str:
        """The progression for ``GenerationSettings.chords`` ('' = the model's own harmony)."""
        return " ".join(self.field.text().split())

    def set_text(self, text: str) -> None:
        self.field.setText(text)

    def error(self) -> str:
        """The one-line reason the text is refused ('' when it is fine)."""
        return self._error

    def load_midi(self, path: str | Path) -> bool:
        """Fill the field with the progression a MIDI clip plays; a file that cannot give one
        leaves the field as it was and says why. Never raises (it runs in a Qt slot)."""
        path = Path(path)
        try:
            text = progression_from_midi(path)
        except (UsageError, MidiError) as err:
            self._show_problem(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__)
            return False
        except Exception as err:  # noqa: BLE001 - an exception out of a Qt slot aborts the app
            self._show_problem(f"{path.name}: cannot be read for its chords ({type(err).__name__})")
            return False
        if not text.strip() or all(w.split(":")[0] == "N" for w in text.split()):
            self._show_problem(f"{path.name}: no chords could be heard in it")
            return False
        self.field.setText(text)
        self.note.setText(f"The chords of {path.name}; the harmony follows them")
        return True

    # --- what is shown -------------------------------------------------------------------
    def _on_text(self, raw: str) -> None:
        self._error = check_progression(raw)
        if self._error:
            self._show_problem(self._error)
        else:
            self.field.setStyleSheet("")
            self.field.setToolTip(HELP)
            self.note.setObjectName("dim")
            self.note.setText(self._summary(raw))
            self.note.setVisible(bool(raw.strip()))
            self._restyle_note()
        self.changed.emit(self.text())

    def _summary(self, raw: str) -> str:
        if not raw.strip():
            return ""
        from engine.request import chords_key

        try:
            bright, dark = chords_key(raw, "major"), chords_key(raw, "minor")
        except Exception:  # noqa: BLE001 - only a caption
            return "The harmony follows these chords"
        named = lambda k: f"{k.name[:-1]} minor" if k.name.endswith("m") else f"{k.name} major"
        if bright == dark:
            return f"Key when Auto: {named(bright)}"
        # the chords fit a major key and its relative minor alike: the mood picks (engine.request.make_plan)
        return f"Key when Auto: {named(bright)} for a bright mood, {named(dark)} for a dark one"

    def _show_problem(self, text: str) -> None:
        self.field.setStyleSheet(f"QLineEdit {{ border: 1px solid {theme.ERROR.name()}; border-radius: 4px; }}")
        self.field.setToolTip(text)
        self.note.setObjectName("error")
        self.note.setText(text)
        self.note.show()
        self._restyle_note()

    def _restyle_note(self) -> None:
        self.note.style().unpolish(self.note)
        self.note.style().polish(self.note)

    # --- remembered between runs ---------------------------------------------------------
    def load(self, s: QSettings) -> None:
        self.field.setText(s.value("generate/chords", "", type=str))

    def save(self, s: QSettings) -> None:
        s.setValue("generate/chords", self.field.text())
