"""The *Results* panel: the job's variations (best emotion fit first once ranked) beside the
piano roll of the selected one.

While a job runs, the first variation draws itself note by note (``streaming``); when it is
done it is selected, and later ones join the list. Variations are matched by their ``index``
(generation order), since ranking hands back new, numbered ``Variation`` values.

A variation whose bars were regenerated comes back as a *take* (``add_take``): its own entry,
listed after the takes of the same variation, with its own index, so each take can be played,
dragged out and saved like any result. The roll shows the selected one's chords: the
progression it followed, or the chords heard in its notes when it followed none.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QSplitter, QVBoxLayout, QWidget,
)

from engine.events import BEATS_PER_BAR, NoteEvent
from engine.music.chords import changes, progression_of
from engine.music.form import section_name

from .generate_panel import key_label
from .piano_roll import PianoRoll
from .va_plane import Mark
from .worker import Variation


class ResultsPanel(QWidget):
    selectionChanged = pyqtSignal(object)   # Variation, or None
    regenerateRequested = pyqtSignal()      # rewrite the bars selected on the roll

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.variations: list[Variation] = []
        self.ranked = False
        self.streaming = False   # the roll shows the first variation as it is being sampled
        self.list = QListWidget()
        self.list.setAccessibleName("Results")
        self.list.setWordWrap(True)
        self.caption = QLabel(" ")
        self.caption.setObjectName("dim")
        self.caption.setWordWrap(True)
        self.roll = PianoRoll()
        self.regenerate_button = QPushButton("Regenerate bars")
        self.regenerate_button.setMinimumWidth(self.regenerate_button.fontMetrics().horizontalAdvance("Regenerate bars 88–88") + 32)
        self.regenerate_button.setToolTip("Select bars on the roll (drag across them), then rewrite only those bars "
                                          "with a new seed (Ctrl+R); each take joins the list. Ctrl+Z / Ctrl+Shift+Z "
                                          "go back and forth between takes")
        self.regenerate_button.setEnabled(False)
        self.splitter = self._lay_out()
        self.list.currentItemChanged.connect(lambda item, _prev: self._on_current(item))
        self.regenerate_button.clicked.connect(self.regenerateRequested)

    def _lay_out(self) -> QSplitter:
        list_box = QGroupBox("Results · best emotion fit first")
        QVBoxLayout(list_box).addWidget(self.list)
        list_box.setMinimumWidth(230)
        roll_box = QGroupBox("Piano roll")
        col = QVBoxLayout(roll_box)
        head = QHBoxLayout()
        head.addWidget(self.caption, 1)
        head.addWidget(self.regenerate_button)
        col.addLayout(head)
        col.addWidget(self.roll, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(list_box)
        split.addWidget(roll_box)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([270, 700])
        split.setChildrenCollapsible(False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)
        return split

    # --- a job's life --------------------------------------------------------------------
    def begin(self, bars: int, mood: str) -> None:
        self.variations, self.ranked, self.streaming = [], False, True
        self.list.clear()
        self.roll.clear("Generating…")
        self.roll.set_piece([], bars)
        self.roll.set_bar_vas([])
        self.roll.set_chords([])
        self.roll.set_sections([])
        self.caption.setText(f"Variation 1 · generating for {mood}…")
        self.selectionChanged.emit(None)

    def add_streamed_note(self, note: NoteEvent) -> None:
        if self.streaming:
            self.roll.add_note(note)

    def add_variation(self, v: Variation, keep: int | None) -> None:
        self.variations.append(v)
        self._show(keep)

    def finish(self, ranked: list[Variation], keep: int | None) -> None:
        self.variations, self.ranked = list(ranked), True
        self._show(keep)

    def set_regenerate_state(self, enabled: bool, busy: bool = False) -> None:
        sel = self.roll.selection()
        if busy:
            text = "Regenerating…"
        elif sel is None:
            text = "Regenerate bars"
        else:
            text = f"Regenerate bar{'s' if sel[1] > sel[0] else ''} {sel[0]}{f'–{sel[1]}' if sel[1] > sel[0] else ''}"
        self.regenerate_button.setText(text)
        self.regenerate_button.setEnabled(enabled and not busy)

    # --- takes -----------------------------------------------------------------------------
    def next_index(self) -> int:
        """An index no variation or take of this job has."""
        return 1 + max((v.index for v in self.variations), default=-1)

    def next_take(self, v: Variation) -> int:
        """The number the next take of ``v``'s variation gets (its first take is 2)."""
        return 1 + max(t.take for t in self.variations if t.root == v.root)

    def add_take(self, take: Variation) -> None:
        """List a new take after the other takes of its variation; the selection stays."""
        last = max((i for i, v in enumerate(self.variations) if v.root == take.root), default=len(self.variations) - 1)
        self.variations.insert(last + 1, take)
        sel = self.selected()
        self._show(sel.index if sel is not None else None)

    def cancelled(self) -> None:
        if self.streaming and not self.variations:
            self.streaming = False
            self.roll.clear("Cancelled. Generate again when ready.")
            self.caption.setText(" ")

    # --- selection -----------------------------------------------------------------------
    def selected(self) -> Variation | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def find(self, index: int) -> Variation | None:
        return next((v for v in self.variations if v.index == index), None)

    def select(self, index: int) -> None:
        self._show(index)

    def marks(self) -> list[Mark]:
        """Each judged variation's VA for the plane, numbered as in the list."""
        sel = self.selected()
        return [Mark(v.heard, self.label(v), sel is not None and v.index == sel.index)
                for v in self.variations if v.heard is not None]

    def label(self, v: Variation) -> str:
        head = str(v.rank) if self.ranked else str(v.root + 1)
        return head + "′" if v.is_take else head

    def _show(self, keep: int | None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for v in self.variations:
            item = QListWidgetItem(self._item_text(v))
            item.setData(Qt.ItemDataRole.UserRole, v)
            item.setToolTip(self._item_tooltip(v))
            self.list.addItem(item)
            if v.index == keep:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._on_current(self.list.currentItem())

    def _on_current(self, item: QListWidgetItem | None) -> None:
        v = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if v is not None:
            self.streaming = False
            self.roll.set_piece(list(v.notes), v.settings.bars)
            s = v.settings
            self.roll.set_bar_vas([s.bar_aim(v.target, b) for b in range(s.bars)] if s.arc else [])
            self.roll.set_chords(*chord_labels(v))
            self.roll.set_sections(section_labels(v))
            self.caption.setText(f"{self._head(v)}  ·  {key_label(v.key_name)}  ·  {v.settings.bars} bars at "
                                 f"{v.tempo:g} BPM  ·  {len(v.notes)} notes  ·  seed {v.settings.seed}")
        self.selectionChanged.emit(v)

    def _head(self, v: Variation) -> str:
        head = f"#{v.rank}" if self.ranked else f"Variation {v.root + 1}"
        if v.is_take:
            lo, hi = v.revised
            head += f" · take {v.take} (bar{'s' if hi > lo else ''} {lo}{f'–{hi}' if hi > lo else ''})"
        return head

    def _item_text(self, v: Variation) -> str:
        if v.heard is None:
            return f"{self._head(v)}  ·  no notes\nseed {v.settings.seed}"
        return (f"{self._head(v)}  ·  sounds {v.heard.mood}  ·  fit {v.fit:.2f}\n"
                f"seed {v.settings.seed}  ·  {len(v.notes)} notes  ·  {key_label(v.key_name)}")

    @staticmethod
    def _item_tooltip(v: Variation) -> str:
        j = v.heard
        heard = "—" if j is None else f"valence {j.valence:+.2f}, arousal {j.arousal:+.2f}"
        return (f"Judged emotion: {heard}\nTarget: valence {v.target.valence:+.2f}, arousal {v.target.arousal:+.2f}\n"
                f"Fit = distance on the plane (0 is exact)")


def section_labels(v: Variation) -> list[tuple[float, str]]:
    """(beat, name) where each section of the piece's form begins (none for a free piece)."""
    return [(float(s.start * BEATS_PER_BAR), section_name(s.letter)) for s in v.settings.sections]


def chord_labels(v: Variation) -> tuple[list[tuple[float, str]], bool]:
    """(beat, name) where the chord changes, and whether they were heard rather than asked for:
    the progression the piece followed, else the chords recognised in its notes (half a bar at
    a time, ``engine.music.chords.progression_of``); nothing for a piece without notes."""
    asked = v.piece.plan.chords
    if asked:
        return [(float(b), c.name) for b, c in changes(asked)], False
    if not v.notes:
        return [], False
    heard = progression_of(list(v.notes), v.settings.bars)
    return [(float(b), c.name) for b, c in changes(heard)], True
