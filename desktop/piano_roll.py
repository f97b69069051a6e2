"""The piano roll: notes as bars over pitch (rows) and beats (columns), with a playhead, the
chords over the bars, and a selection of bars to rewrite.

It only draws what it is given: notes arrive whole (a finished variation) or one by one (the
first variation while it is being generated), and the playhead beat comes from the player.
When the emotion moves through the piece (an arc, several pictures), each bar's VA is shown
on the ruler: a chip in its mood's colour with the numbers where there is room.

The form's sections (``set_sections``: Intro, A, B, ...) sit on a lane under the ruler, a line
through the roll where each begins. The chords (``set_chords``) sit on a lane under that, a name where the harmony changes:
the progression the piece was asked to follow in the text's colour, or, for a piece without
one, the chords heard in its notes, dim and in italics. A click or a drag across the ruler or
the notes selects whole bars (``barsSelected``: first and last, from 1); Escape or a click on
the keyboard clears it. The notes themselves are never edited here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QKeyEvent, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from engine.events import BEATS_PER_BAR, VA, NoteEvent

from . import theme

KEYS_W = 44          # keyboard gutter
RULER_H = 22         # bar numbers
CHORD_H = 18         # the chord lane under the ruler, when there are chords
SECTION_H = 18       # the form's lane above it, when the piece has sections
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
    barsSelected = pyqtSignal(object)   # (first, last) bars from 1, inclusive; None: no selection

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._notes: list[NoteEvent] = []
        self._beats = 8.0
        self._chords: list[tuple[float, str]] = []   # (beat, name) where the harmony changes
        self._sections: list[tuple[float, str]] = []  # (beat, name) where each section of the form begins
        self._chords_heard = False
        self._selection: tuple[int, int] | None = None
        self._anchor: int | None = None
        self._playhead: float | None = None
        self._sounding: set[int] = set()
        self._placeholder = "Generate to see the notes here."
        self._caption = ""
        self._bar_vas: list[VA] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(360, 220)
        self.setAccessibleName("Piano roll")
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setToolTip("Drag across bars to select them, then Regenerate to rewrite only those bars")

    def sizeHint(self) -> QSize:
        return QSize(720, 360)

    # --- state ---------------------------------------------------------------------------
    def notes(self) -> list[NoteEvent]:
        return list(self._notes)

    def bars(self) -> int:
        return int(self._beats // BEATS_PER_BAR)

    def set_piece(self, notes: list[NoteEvent], bars: int, caption: str = "") -> None:
        """Show these notes over ``bars`` bars; a selection of bars stays while it fits them."""
        self._notes = list(notes)
        self._beats = float(max(1, bars) * BEATS_PER_BAR)
        if self._selection is not None and self._selection[1] > self.bars():
            self.select_bars(None)
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

    def set_chords(self, changes: list[tuple[float, str]], heard: bool = False) -> None:
        """The chord names to show, each from the beat where it starts (empty: no lane). ``heard``:
        recognised in the notes rather than asked for, and drawn so."""
        self._chords = [(float(b), str(n)) for b, n in changes]
        self._chords_heard = bool(heard) and bool(self._chords)
        self.update()

    def set_sections(self, starts: list[tuple[float, str]]) -> None:
        """The form's sections to show, each from the beat where it begins (empty: no lane)."""
        self._sections = [(float(b), str(n)) for b, n in starts]
        self.update()

    def section_labels(self) -> list[tuple[float, str]]:
        return list(self._sections)

    def chord_labels(self) -> list[tuple[float, str]]:
        return list(self._chords)

    def chords_heard(self) -> bool:
        return self._chords_heard

    def chord_at_bar(self, bar: int) -> str | None:
        """The chord sounding at the start of ``bar`` (from 1), as labelled; None without chords."""
        beat = (bar - 1) * BEATS_PER_BAR
        name = None
        for b, n in self._chords:
            if b <= beat + 1e-9:
                name = n
        return name

    # --- selecting bars ------------------------------------------------------------------
    def selection(self) -> tuple[int, int] | None:
        """The selected bars (first, last), from 1 and inclusive; None when none are."""
        return self._selection

    def select_bars(self, bars: tuple[int, int] | None) -> None:
        if bars is not None:
            lo, hi = sorted(int(b) for b in bars)
            lo, hi = max(1, lo), min(self.bars(), hi)
            bars = (lo, hi) if lo <= hi else None
        if bars != self._selection:
            self._selection = bars
            self.update()
            self.barsSelected.emit(bars)

    def bar_at(self, x: float) -> int:
        """The bar (from 1) under the widget's x, within the piece."""
        g = self._grid()
        beat = (x - g.area.left()) / g.beat_w
        return max(1, min(self.bars(), int(math.floor(beat / BEATS_PER_BAR)) + 1))

    def mousePressEvent(self, e: QMouseEvent) -> None:
        if e.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(e)
        x = e.position().x()
        if x < KEYS_W:
            self._anchor = None
            self.select_bars(None)
            return
        bar = self.bar_at(x)
        if e.modifiers() & Qt.KeyboardModifier.ShiftModifier and self._selection is not None:
            self._anchor = self._selection[0]
        else:
            self._anchor = bar
        self.select_bars((self._anchor, bar))

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        if self._anchor is not None and e.buttons() & Qt.MouseButton.LeftButton:
            self.select_bars((self._anchor, self.bar_at(e.position().x())))

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        if self._anchor is not None and e.button() == Qt.MouseButton.LeftButton:
            self.select_bars((self._anchor, self.bar_at(e.position().x())))
            self._anchor = None

    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.key() == Qt.Key.Key_Escape and self._selection is not None:
            self.select_bars(None)
        else:
            super().keyPressEvent(e)

    def add_note(self, note: NoteEvent) -> None:
        self._notes.append(note)
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        if placeholder is not None:
            self._placeholder = placeholder
        self._chords, self._chords_heard, self._sections = [], False, []
        self.select_bars(None)
        self.set_piece([], self.bars())

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
        top = RULER_H + (SECTION_H if self._sections else 0) + (CHORD_H if self._chords else 0)
        area = QRectF(KEYS_W, top, self.width() - KEYS_W - 1, self.height() - top - 1)
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
        self._paint_selection(p, g)
        self._paint_beats(p, g)
        self._paint_sections(p, g)
        self._paint_chords(p, g)
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
            if chip.top() < g.area.top():
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

    def _paint_selection(self, p: QPainter, g: _Grid) -> None:
        if self._selection is None:
            return
        lo, hi = self._selection
        x0, x1 = g.x_of((lo - 1) * BEATS_PER_BAR), g.x_of(hi * BEATS_PER_BAR)
        shade = QColor(theme.ACCENT)
        shade.setAlpha(38)
        p.fillRect(QRectF(x0, 0, x1 - x0, g.area.bottom()), shade)
        shade.setAlpha(110)
        p.fillRect(QRectF(x0, 0, x1 - x0, RULER_H), shade)

    def _paint_chords(self, p: QPainter, g: _Grid) -> None:
        # Each chord's name from where it starts to where the next begins, on its own lane.
        if not self._chords:
            return
        top = RULER_H + (SECTION_H if self._sections else 0)
        font = QFont(p.font())
        font.setItalic(self._chords_heard)
        font.setBold(not self._chords_heard)
        labels = [(beat, "N.C." if name == "N" else name) for beat, name in self._chords]
        self._paint_lane(p, g, labels, top, CHORD_H, font, theme.TEXT_DIM if self._chords_heard else theme.IMAGE_POINT,
                         QPen(theme.GRID_STRONG, 1), top + 3, top + CHORD_H - 2)
        if self._chords_heard:
            p.save()
            p.setFont(font)
            p.setPen(theme.TEXT_DIM)
            p.drawText(QRectF(2, top, KEYS_W - 4, CHORD_H), Qt.AlignmentFlag.AlignVCenter, "heard")
            p.restore()

    def _paint_sections(self, p: QPainter, g: _Grid) -> None:
        # Each section's name on its own lane, and a line through the notes where it begins.
        if not self._sections:
            return
        font = QFont(p.font())
        font.setBold(True)
        self._paint_lane(p, g, self._sections, RULER_H, SECTION_H, font, theme.ACCENT,
                         QPen(theme.ACCENT, 2), RULER_H + 2, g.area.bottom())

    def _paint_lane(self, p: QPainter, g: _Grid, labels: list[tuple[float, str]], top: float, height: float,
                    font: QFont, colour: QColor, mark: QPen, mark_top: float, mark_bottom: float) -> None:
        """A lane of names under the ruler, each from its beat to the next one's, a mark where it
        begins (from ``mark_top`` to ``mark_bottom``) and a line under the lane."""
        p.save()
        p.setFont(font)
        fm = QFontMetrics(font)
        ends = [b for b, _ in labels[1:]] + [g.beats]
        for (beat, name), end in zip(labels, ends):
            if beat >= g.beats:
                break
            x0, x1 = g.x_of(beat), g.x_of(min(end, g.beats))
            p.setPen(mark)
            p.drawLine(QPointF(x0, mark_top), QPointF(x0, mark_bottom))
            text = fm.elidedText(name, Qt.TextElideMode.ElideRight, int(max(0.0, x1 - x0 - 6)))
            p.setPen(colour)
            p.drawText(QRectF(x0 + 4, top, max(0.0, x1 - x0 - 5), height), Qt.AlignmentFlag.AlignVCenter, text)
        p.setPen(QPen(theme.GRID, 1))
        p.drawLine(QPointF(0, top + height - 0.5), QPointF(self.width(), top + height - 0.5))
        p.restore()

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
