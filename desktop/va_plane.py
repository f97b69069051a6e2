"""The valence-arousal plane: the picture's emotion, the user's target, and how each result landed.

Valence runs left (unpleasant) to right (pleasant), arousal bottom (calm) to top (excited).
The gold ring is what the picture says; the blue dot is the target the music is generated
for, which the user can drag, click to, or nudge with the arrow keys (Shift: fine steps,
Ctrl: coarse). Numbered marks are the results' judged VA, so a user can see at a glance which
variation lands closest to what they asked for.

In arc mode a drag draws an emotion arc instead: the path from press to release, resampled to
at most ``ARC_POINTS`` points evenly along its length, which the piece then moves through bar
by bar (``GenerationSettings.arc``); it is drawn as a line with an arrow at its end.
"""
from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QKeyEvent, QMouseEvent, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from engine.events import VA

from . import theme

NUDGE = 0.05
FINE_NUDGE = 0.01
COARSE_NUDGE = 0.25
GRAB_RADIUS_PX = 14
MARGIN = 30  # room for the axis captions outside the square
ARC_POINTS = 8      # a drawn arc keeps this many points at most (evenly along the path)
MIN_ARC_LENGTH = 0.1  # in plane units: a shorter drag is a click, not an arc


def resample(path: list[VA], n: int = ARC_POINTS) -> tuple[VA, ...]:
    """``n`` points evenly spaced along ``path`` by length (fewer when the path has fewer),
    first and last kept; () for a path shorter than ``MIN_ARC_LENGTH``."""
    if len(path) < 2:
        return ()
    seg = [((b.valence - a.valence) ** 2 + (b.arousal - a.arousal) ** 2) ** 0.5 for a, b in zip(path, path[1:])]
    total = sum(seg)
    if total < MIN_ARC_LENGTH:
        return ()
    n = max(2, min(n, len(path)))
    out, walked, i = [], 0.0, 0
    for k in range(n):
        want = total * k / (n - 1)
        while i < len(seg) - 1 and walked + seg[i] < want:
            walked += seg[i]
            i += 1
        f = 0.0 if seg[i] == 0 else min(1.0, (want - walked) / seg[i])
        a, b = path[i], path[i + 1]
        out.append(VA(round(a.valence + f * (b.valence - a.valence), 3), round(a.arousal + f * (b.arousal - a.arousal), 3)))
    return tuple(out)


@dataclass(frozen=True)
class Mark:
    va: VA
    label: str
    selected: bool = False


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, float(x)))


class VAPlane(QWidget):
    targetChanged = pyqtSignal(float, float)  # the user moved the target (not programmatic sets)
    arcDrawn = pyqtSignal(object)             # tuple[VA, ...]: the user drew an arc (arc mode)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image_va: VA | None = None
        self._target = VA(0.0, 0.0)
        self._marks: list[Mark] = []
        self._aim: VA | None = None
        self._dragging = False
        self._arc_mode = False
        self._drawing: list[VA] = []
        self._arc: tuple[VA, ...] = ()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        sp = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        sp.setHeightForWidth(True)
        self.setSizePolicy(sp)
        self.setMinimumSize(240, 240)
        self.setAccessibleName("Valence-arousal plane")
        self._update_accessible()

    # --- state ---------------------------------------------------------------------------
    def image_va(self) -> VA | None:
        return self._image_va

    def target(self) -> VA:
        return self._target

    def set_image_va(self, va: VA | None) -> None:
        self._image_va = va
        self._update_accessible()
        self.update()

    def set_target(self, va: VA) -> None:
        """Move the target without emitting (the window calls this; the user's moves emit)."""
        self._target = va.clipped()
        self._update_accessible()
        self.update()

    def set_marks(self, marks: list[Mark]) -> None:
        self._marks = list(marks)
        self.update()

    def set_arc_mode(self, on: bool) -> None:
        self._arc_mode = bool(on)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def arc(self) -> tuple[VA, ...]:
        return self._arc

    def set_arc(self, arc: tuple[VA, ...]) -> None:
        self._arc = tuple(arc)
        self.update()

    def aim(self) -> VA | None:
        return self._aim

    def set_aim(self, va: VA | None) -> None:
        """Where the music goes when intensity scales the target (None: the target itself)."""
        self._aim = va
        self.update()

    def _user_moves_target(self, valence: float, arousal: float) -> None:
        va = VA(round(_clip(valence), 3), round(_clip(arousal), 3))
        if va == self._target:
            return
        self.set_target(va)
        self.targetChanged.emit(va.valence, va.arousal)

    def _update_accessible(self) -> None:
        t = self._target
        text = f"Target valence {t.valence:+.2f}, arousal {t.arousal:+.2f} ({t.mood})"
        if self._image_va is not None:
            i = self._image_va
            text += f"; image valence {i.valence:+.2f}, arousal {i.arousal:+.2f} ({i.mood})"
        self.setAccessibleDescription(text + ". Arrow keys move the target.")
        self.setToolTip(text + "\nDrag or click to set the target; arrow keys nudge (Shift: fine, Ctrl: coarse).")

    # --- geometry ------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(340, 340)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, w: int) -> int:
        return w

    def plot_rect(self) -> QRectF:
        side = max(10.0, min(self.width(), self.height()) - 2 * MARGIN)
        x = (self.width() - side) / 2
        y = (self.height() - side) / 2
        return QRectF(x, y, side, side)

    def to_point(self, va: VA) -> QPointF:
        r = self.plot_rect()
        return QPointF(r.left() + (va.valence + 1) / 2 * r.width(), r.top() + (1 - va.arousal) / 2 * r.height())

    def to_va(self, p: QPointF) -> tuple[float, float]:
        r = self.plot_rect()
        return _clip((p.x() - r.left()) / r.width() * 2 - 1), _clip(1 - (p.y() - r.top()) / r.height() * 2)

    # --- input ---------------------------------------------------------------------------
    def mousePressEvent(self, e: QMouseEvent) -> None:
        if e.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(e)
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if self._arc_mode:
            self._drawing = [VA(*self.to_va(e.position()))]
            self.update()
            return
        if self.plot_rect().adjusted(-GRAB_RADIUS_PX, -GRAB_RADIUS_PX, GRAB_RADIUS_PX, GRAB_RADIUS_PX).contains(e.position()):
            # Clicking anywhere jumps the target there, then the same press drags it.
            self._dragging = True
            self._user_moves_target(*self.to_va(e.position()))
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        if self._arc_mode and self._drawing:
            self._drawing.append(VA(*self.to_va(e.position())))
            self.update()
            return
        if self._dragging:
            self._user_moves_target(*self.to_va(e.position()))
            return
        near = (e.position() - self.to_point(self._target)).manhattanLength() < GRAB_RADIUS_PX * 1.4
        self.setCursor(Qt.CursorShape.OpenHandCursor if near else Qt.CursorShape.CrossCursor)

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        if self._arc_mode and self._drawing and e.button() == Qt.MouseButton.LeftButton:
            path, self._drawing = self._drawing + [VA(*self.to_va(e.position()))], []
            arc = resample(path)
            if arc:
                self._arc = arc
                self.arcDrawn.emit(arc)
            self.update()
            return
        if self._dragging and e.button() == Qt.MouseButton.LeftButton:
            self._dragging = False
            self._user_moves_target(*self.to_va(e.position()))
            self.setCursor(Qt.CursorShape.OpenHandCursor)

    def keyPressEvent(self, e: QKeyEvent) -> None:
        step = NUDGE
        if e.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            step = FINE_NUDGE
        elif e.modifiers() & Qt.KeyboardModifier.ControlModifier:
            step = COARSE_NUDGE
        dv, da = {Qt.Key.Key_Left: (-step, 0), Qt.Key.Key_Right: (step, 0),
                  Qt.Key.Key_Up: (0, step), Qt.Key.Key_Down: (0, -step)}.get(Qt.Key(e.key()), (None, None))
        if dv is None:
            return super().keyPressEvent(e)
        self._user_moves_target(self._target.valence + dv, self._target.arousal + da)

    # --- painting ------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.plot_rect()
        self._paint_grid(p, r)
        self._paint_mood_names(p, r)
        self._paint_axis_captions(p, r)
        self._paint_marks(p)
        self._paint_arc(p)
        self._paint_aim(p)
        self._paint_points(p, r)
        p.end()

    def _paint_arc(self, p: QPainter) -> None:
        pts = [self.to_point(v) for v in (self._drawing or self._arc)]
        if len(pts) < 2:
            return
        p.setPen(QPen(theme.ACCENT, 2.5 if not self._drawing else 1.5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        path = QPainterPath(pts[0])
        for pt in pts[1:]:
            path.lineTo(pt)
        p.drawPath(path)
        if not self._drawing:  # an arrowhead where the piece ends, dots where it passes
            a, b = pts[-2], pts[-1]
            d = b - a
            length = max(1e-6, (d.x() ** 2 + d.y() ** 2) ** 0.5)
            u = QPointF(d.x() / length, d.y() / length)
            left = b - u * 11 + QPointF(-u.y(), u.x()) * 6
            right = b - u * 11 - QPointF(-u.y(), u.x()) * 6
            p.setBrush(theme.ACCENT)
            p.drawPolygon([b, left, right])
            for pt in pts[:-1]:
                p.drawEllipse(pt, 3, 3)

    def _paint_aim(self, p: QPainter) -> None:
        # intensity moves the music along the line from the centre through the target
        if self._aim is None:
            return
        aim_pt, target_pt = self.to_point(self._aim), self.to_point(self._target)
        p.setPen(QPen(theme.ACCENT, 1.5, Qt.PenStyle.DashLine))
        p.drawLine(target_pt, aim_pt)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRectF(aim_pt.x() - 6, aim_pt.y() - 6, 12, 12))

    def _paint_grid(self, p: QPainter, r: QRectF) -> None:
        # Quadrants, faintly tinted by mood so the plane reads before the labels do.
        c = r.center()
        quads = {"tense": QRectF(r.topLeft(), c), "excited": QRectF(QPointF(c.x(), r.top()), QPointF(r.right(), c.y())),
                 "sad": QRectF(QPointF(r.left(), c.y()), QPointF(c.x(), r.bottom())), "calm": QRectF(c, r.bottomRight())}
        for mood, q in quads.items():
            tint = QColor(theme.QUADRANT_COLOURS[mood])
            tint.setAlpha(26)
            p.fillRect(q, tint)
        p.setPen(QPen(theme.GRID, 1))
        for i in (1, 3):
            x = r.left() + r.width() * i / 4
            y = r.top() + r.height() * i / 4
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        p.setPen(QPen(theme.GRID_STRONG, 1.5))
        p.drawLine(QPointF(c.x(), r.top()), QPointF(c.x(), r.bottom()))
        p.drawLine(QPointF(r.left(), c.y()), QPointF(r.right(), c.y()))
        p.setPen(QPen(theme.GRID_STRONG, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(r, 4, 4)

    def _paint_mood_names(self, p: QPainter, r: QRectF) -> None:
        qfont = QFont(self.font())
        qfont.setPointSizeF(self.font().pointSizeF() * 1.05)
        qfont.setWeight(QFont.Weight.DemiBold)
        p.setFont(qfont)
        inner = r.adjusted(8, 8, -8, -8)
        A = Qt.AlignmentFlag
        corners = {"tense": A.AlignLeft | A.AlignTop, "excited": A.AlignRight | A.AlignTop,
                   "sad": A.AlignLeft | A.AlignBottom, "calm": A.AlignRight | A.AlignBottom}
        for mood, align in corners.items():
            p.setPen(theme.QUADRANT_COLOURS[mood])
            p.drawText(inner, align, mood)

    def _paint_axis_captions(self, p: QPainter, r: QRectF) -> None:
        small = QFont(self.font())
        small.setPointSizeF(self.font().pointSizeF() * 0.9)
        p.setFont(small)
        fm = QFontMetrics(small)
        p.setPen(theme.TEXT_DIM)
        A = Qt.AlignmentFlag

        def caption(rect: QRectF, low: str, axis: str, high: str) -> None:
            p.drawText(rect, A.AlignLeft | A.AlignVCenter, low)
            p.drawText(rect, A.AlignHCenter | A.AlignVCenter, axis)
            p.drawText(rect, A.AlignRight | A.AlignVCenter, high)

        caption(QRectF(r.left(), r.bottom() + 4, r.width(), fm.height() + 2), "unpleasant", "valence →", "pleasant")
        p.save()
        p.translate(r.left() - 6, r.bottom())
        p.rotate(-90)
        caption(QRectF(0, -fm.height() - 2, r.height(), fm.height() + 2), "calm", "arousal →", "excited")
        p.restore()

    def _paint_marks(self, p: QPainter) -> None:
        # Results' judged VA: small numbered marks, the selected one ringed.
        for mark in self._marks:
            pt = self.to_point(mark.va)
            col = QColor(theme.TEXT if mark.selected else theme.TEXT_DIM)
            p.setPen(QPen(theme.ACCENT if mark.selected else theme.GRID_STRONG, 2 if mark.selected else 1))
            fill = QColor(theme.PANEL_HI)
            fill.setAlpha(230)
            p.setBrush(fill)
            rad = 9 if mark.selected else 8
            p.drawEllipse(pt, rad, rad)
            p.setPen(col)
            p.drawText(QRectF(pt.x() - rad, pt.y() - rad, 2 * rad, 2 * rad), Qt.AlignmentFlag.AlignCenter, mark.label)

    def _paint_points(self, p: QPainter, r: QRectF) -> None:
        target_pt = self.to_point(self._target)
        if self._image_va is not None:
            img_pt = self.to_point(self._image_va)
            if (img_pt - target_pt).manhattanLength() > 3:
                p.setPen(QPen(theme.TEXT_DIM, 1, Qt.PenStyle.DashLine))
                p.drawLine(img_pt, target_pt)
            p.setPen(QPen(theme.IMAGE_POINT, 2.5))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(img_pt, 10, 10)
            p.setBrush(theme.IMAGE_POINT)
            p.drawEllipse(img_pt, 2.5, 2.5)
        # The target: a filled dot with a halo, plus a focus ring for keyboard users.
        halo = QColor(theme.ACCENT)
        halo.setAlpha(60)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(halo)
        p.drawEllipse(target_pt, 13, 13)
        p.setBrush(theme.ACCENT)
        p.setPen(QPen(QColor("#0d1b2a"), 1.5))
        p.drawEllipse(target_pt, 7, 7)
        if self.hasFocus():
            ring = QPainterPath()
            ring.addRoundedRect(r.adjusted(-3, -3, 3, 3), 6, 6)
            p.setPen(QPen(theme.ACCENT, 1.5, Qt.PenStyle.DotLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(ring)
