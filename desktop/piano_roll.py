"""A read-only piano roll: notes as bars over pitch (rows) and beats (columns), with a playhead.

It only draws what it is given: notes arrive whole (a finished variation) or one by one (the
first variation while it is being generated), and the playhead beat comes from the player.
When the emotion moves through the piece (an arc, several pictures), each bar's VA is shown
on the ruler: a chip in its mood's colour with the numbers where there is room.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from engine.events import BEATS_PER_BAR, VA, NoteEvent

from . import theme

KEYS_W = 44          # keyboard gutter
RULER_H = 22         # bar numbers
MIN_SPAN = 24        # semitones shown at least, so a few notes do not fill the screen
BLACK = {1, 3, 6, 8, 10}


@dataclass(frozen=True)
class _Grid:
    """Where pitches and beats land in the widget for one paint."""

    area: QRectF
    lo: int
    hi: int
    beats: float

    @property
    def row_h(self) -> float:
        return self.area.height() / (self.hi - self.lo + 1)

    @property
    def beat_w(self) -> float:
        return self.area.width() / self.beats

    def y_of(self, pitch: int) -> float:
        return self.area.bottom() - (pitch - self.lo + 1) * self.row_h

    def x_of(self, beat: float) -> float:
        return self.area.left() + beat * self.beat_w


class PianoRoll(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._notes: list[NoteEvent] = []
        self._beats = 8.0
        self._playhead: float | None = None
        self._sounding: set[int] = set()
        self._placeholder = "Generate to see the notes here."
        self._caption = ""
        self._bar_vas: list[VA] = []
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
        self._beats = float(max(1, bars) * BEATS_PER_BAR)
        self._caption = caption
        self._playhead = None
        self._sounding.clear()
        self.setAccessibleDescription(f"{len(self._notes)} notes over {bars} bars. {caption}")
        self.update()

    def set_bar_vas(self, vas: list[VA]) -> None:
        """The VA each bar was composed for (empty: one VA throughout, nothing shown)."""
        self._bar_vas = list(vas)
        self.update()

    def bar_vas(self) -> list[VA]:
        return list(self._bar_vas)

    def add_note(self, note: NoteEvent) -> None:
        self._notes.append(note)
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        if placeholder is not None:
            self._placeholder = placeholder
        self.set_piece([], int(self._beats // BEATS_PER_BAR))

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

    def _grid(self) -> _Grid:
        area = QRectF(KEYS_W, RULER_H, self.width() - KEYS_W - 1, self.height() - RULER_H - 1)
        lo, hi = self._pitch_range()
        last_bar_end = math.ceil(max((n.end for n in self._notes), default=0.0) / BEATS_PER_BAR) * BEATS_PER_BAR
        return _Grid(area, lo, hi, max(self._beats, last_bar_end))

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.fillRect(self.rect(), theme.PANEL)
        g = self._grid()
        small = QFont(self.font())
        small.setPointSizeF(self.font().pointSizeF() * 0.85)
        p.setFont(small)
        self._paint_keys(p, g, QFontMetrics(small))
        self._paint_beats(p, g)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_notes(p, g)
        if self._playhead is not None:
            x = g.x_of(self._playhead)
            p.setPen(QPen(theme.IMAGE_POINT, 2))
            p.drawLine(QPointF(x, 0), QPointF(x, g.area.bottom()))
        if not self._notes:
            p.setFont(self.font())
            p.setPen(theme.TEXT_DIM)
            p.drawText(g.area, Qt.AlignmentFlag.AlignCenter, self._placeholder)
        p.end()

    def _paint_keys(self, p: QPainter, g: _Grid, fm: QFontMetrics) -> None:
        # Rows: black-key rows darker, C rows outlined.
        row_h, area = g.row_h, g.area
        c_rows: list[tuple[int, float]] = []
        for pitch in range(g.lo, g.hi + 1):
            y = g.y_of(pitch)
            black = pitch % 12 in BLACK
            if black:
                p.fillRect(QRectF(area.left(), y, area.width(), row_h), QColor("#1f232a"))
            p.fillRect(QRectF(0, y, KEYS_W - 14 if black else KEYS_W - 2, row_h - 0.5),
                       QColor("#2a2e36") if black else QColor("#c9ced6"))
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

    def _paint_beats(self, p: QPainter, g: _Grid) -> None:
        # Beat and bar lines, bar numbers on the ruler.
        bar_w = BEATS_PER_BAR * g.beat_w
        for b in range(int(g.beats) + 1):
            x = g.x_of(b)
            bar = b % BEATS_PER_BAR == 0
            p.setPen(QPen(theme.GRID_STRONG if bar else theme.GRID, 1))
            p.drawLine(QPointF(x, g.area.top()), QPointF(x, g.area.bottom()))
            if bar and b < g.beats:
                p.setPen(theme.TEXT_DIM)
                p.drawText(QRectF(x + 4, 0, bar_w - 4, RULER_H), Qt.AlignmentFlag.AlignVCenter,
                           str(b // BEATS_PER_BAR + 1))
        self._paint_bar_vas(p, g, bar_w)
        p.setPen(QPen(theme.GRID, 1))
        p.drawLine(QPointF(0, RULER_H - 0.5), QPointF(self.width(), RULER_H - 0.5))

    def _paint_bar_vas(self, p: QPainter, g: _Grid, bar_w: float) -> None:
        fm = p.fontMetrics()
        for i, va in enumerate(self._bar_vas):
            x = g.x_of(i * BEATS_PER_BAR) + 4 + fm.horizontalAdvance(str(i + 1)) + 6
            colour = QColor(theme.QUADRANT_COLOURS[va.mood])
            p.fillRect(QRectF(x, RULER_H / 2 - 4, 8, 8), colour)
            text = f"{va.valence:+.1f} {va.arousal:+.1f}"
            if fm.horizontalAdvance(text) + 30 < bar_w:
                p.setPen(colour)
                p.drawText(QRectF(x + 11, 0, bar_w, RULER_H), Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_notes(self, p: QPainter, g: _Grid) -> None:
        # Brightness follows velocity; sounding notes light up while playing.
        for i, n in enumerate(self._notes):
            if not (g.lo <= n.pitch <= g.hi):
                continue
            rect = QRectF(g.x_of(n.start), g.y_of(n.pitch) + 0.5,
                          max(2.0, n.duration * g.beat_w - 1), max(2.0, g.row_h - 1))
            col = QColor(theme.ACCENT)
            col.setHsvF(col.hsvHueF(), 0.35 + 0.5 * n.velocity / 127, 0.55 + 0.45 * n.velocity / 127)
            if i in self._sounding:
                col = QColor("#ffffff")
            p.setPen(QPen(col.darker(160), 1))
            p.setBrush(col)
            p.drawRoundedRect(rect, 2, 2)
