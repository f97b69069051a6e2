"""A read-only piano roll: notes as bars over pitch (rows) and beats (columns), with a playhead.

It only draws what it is given: notes arrive whole (a finished variation) or one by one (the
first variation while it is being generated), and the playhead beat comes from the player.
"""
from __future__ import annotations

import math

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from engine.events import NoteEvent

from . import theme

KEYS_W = 44          # keyboard gutter
RULER_H = 22         # bar numbers
MIN_SPAN = 24        # semitones shown at least, so a few notes do not fill the screen
BLACK = {1, 3, 6, 8, 10}
NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


class PianoRoll(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._notes: list[NoteEvent] = []
        self._beats = 8.0
        self._playhead: float | None = None
        self._sounding: set[int] = set()
        self._placeholder = "Generate to see the notes here."
        self._caption = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(360, 220)
        self.setAccessibleName("Piano roll")

    def sizeHint(self) -> QSize:
        return QSize(720, 360)

    # --- state ---------------------------------------------------------------------------
    def notes(self) -> list[NoteEvent]:
        return list(self._notes)

    def set_piece(self, notes: list[NoteEvent], bars: int, caption: str = "") -> None:
        self._notes = list(notes)
        self._beats = float(max(1, bars) * 4)
        self._caption = caption
        self._playhead = None
        self._sounding.clear()
        self.setAccessibleDescription(f"{len(self._notes)} notes over {bars} bars. {caption}")
        self.update()

    def add_note(self, note: NoteEvent) -> None:
        self._notes.append(note)
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        if placeholder is not None:
            self._placeholder = placeholder
        self.set_piece([], int(self._beats // 4))

    def set_playhead(self, beat: float | None) -> None:
        if beat == self._playhead:
            return
        self._playhead = beat
        if beat is None:
            self._sounding.clear()
        else:
            self._sounding = {i for i, n in enumerate(self._notes) if n.start <= beat < n.end}
        self.update()

    def playhead(self) -> float | None:
        return self._playhead

    # --- painting ------------------------------------------------------------------------
    def _pitch_range(self) -> tuple[int, int]:
        if not self._notes:
            return 48, 48 + MIN_SPAN
        lo = min(n.pitch for n in self._notes) - 2
        hi = max(n.pitch for n in self._notes) + 2
        if hi - lo < MIN_SPAN:
            mid = (hi + lo) / 2
            lo, hi = int(mid - MIN_SPAN / 2), int(mid + MIN_SPAN / 2)
        return max(0, lo), min(127, hi)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.fillRect(self.rect(), theme.PANEL)
        area = QRectF(KEYS_W, RULER_H, self.width() - KEYS_W - 1, self.height() - RULER_H - 1)
        lo, hi = self._pitch_range()
        rows = hi - lo + 1
        row_h = area.height() / rows
        beats = max(self._beats, math.ceil(max((n.end for n in self._notes), default=0.0) / 4) * 4)
        beat_w = area.width() / beats

        def y_of(pitch: int) -> float:
            return area.bottom() - (pitch - lo + 1) * row_h

        small = QFont(self.font())
        small.setPointSizeF(self.font().pointSizeF() * 0.85)
        p.setFont(small)
        fm = QFontMetrics(small)

        c_rows: list[tuple[int, float]] = []
        # Rows: black-key rows darker, C rows outlined, names in the gutter where they fit.
        for pitch in range(lo, hi + 1):
            y = y_of(pitch)
            if pitch % 12 in BLACK:
                p.fillRect(QRectF(area.left(), y, area.width(), row_h), QColor("#1f232a"))
            key_col = QColor("#2a2e36") if pitch % 12 in BLACK else QColor("#c9ced6")
            p.fillRect(QRectF(0, y, KEYS_W - 14 if pitch % 12 in BLACK else KEYS_W - 2, row_h - 0.5), key_col)
            if pitch % 12 == 0:
                p.setPen(QPen(theme.GRID_STRONG, 1))
                p.drawLine(QPointF(area.left(), y + row_h), QPointF(area.right(), y + row_h))
                c_rows.append((pitch, y))

        # Octave names over the keys, on a chip so they stay readable however thin the rows.
        for pitch, y in c_rows:
            chip = QRectF(KEYS_W - 30, y + row_h - fm.height(), 26, fm.height())
            if chip.top() < RULER_H:
                continue
            p.fillRect(chip, theme.PANEL_HI)
            p.setPen(theme.TEXT)
            p.drawText(chip, Qt.AlignmentFlag.AlignCenter, f"C{pitch // 12 - 1}")

        # Beat and bar lines, bar numbers on the ruler.
        for b in range(int(beats) + 1):
            x = area.left() + b * beat_w
            bar = b % 4 == 0
            p.setPen(QPen(theme.GRID_STRONG if bar else theme.GRID, 1))
            p.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            if bar and b < beats:
                p.setPen(theme.TEXT_DIM)
                p.drawText(QRectF(x + 4, 0, 4 * beat_w - 4, RULER_H), Qt.AlignmentFlag.AlignVCenter, str(b // 4 + 1))
        p.setPen(QPen(theme.GRID, 1))
        p.drawLine(QPointF(0, RULER_H - 0.5), QPointF(self.width(), RULER_H - 0.5))

        # Notes: brightness follows velocity; sounding notes light up while playing.
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for i, n in enumerate(self._notes):
            if not (lo <= n.pitch <= hi):
                continue
            rect = QRectF(area.left() + n.start * beat_w, y_of(n.pitch) + 0.5,
                          max(2.0, n.duration * beat_w - 1), max(2.0, row_h - 1))
            col = QColor(theme.ACCENT)
            col.setHsvF(col.hsvHueF(), 0.35 + 0.5 * n.velocity / 127, 0.55 + 0.45 * n.velocity / 127)
            if i in self._sounding:
                col = QColor("#ffffff")
            p.setPen(QPen(col.darker(160), 1))
            p.setBrush(col)
            p.drawRoundedRect(rect, 2, 2)

        if self._playhead is not None:
            x = area.left() + self._playhead * beat_w
            p.setPen(QPen(theme.IMAGE_POINT, 2))
            p.drawLine(QPointF(x, 0), QPointF(x, area.bottom()))

        if not self._notes:
            p.setFont(self.font())
            p.setPen(theme.TEXT_DIM)
            p.drawText(area, Qt.AlignmentFlag.AlignCenter, self._placeholder)
        p.end()
