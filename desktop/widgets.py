"""Small widgets of the window: the picture's thumbnail (also the drop target's face) and the
drag-out handle."""
from __future__ import annotations

from typing import Callable

from PyQt6.QtCore import QPoint, QRectF, QSize, Qt
from PyQt6.QtGui import QMouseEvent, QPainter, QPainterPath, QPen, QPixmap
from PyQt6.QtWidgets import QApplication, QLabel, QSizePolicy, QWidget

from . import theme


class Thumbnail(QWidget):
    """The current picture, scaled to fit with rounded corners; a dashed drop hint when empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._hint = "Drop a picture here\nor Open… (Ctrl+O) · Paste (Ctrl+V)"
        self._highlight = False
        self.setMinimumSize(200, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(200)
        self.setAccessibleName("Picture")

    def sizeHint(self) -> QSize:
        return QSize(340, 200)

    def set_pixmap(self, pm: QPixmap | None) -> None:
        self._pixmap = pm
        self.update()

    def has_picture(self) -> bool:
        return self._pixmap is not None and not self._pixmap.isNull()

    def set_highlight(self, on: bool) -> None:
        self._highlight = on
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        r = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        if self.has_picture():
            pm = self._pixmap.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
            x = (self.width() - pm.width()) / 2
            y = (self.height() - pm.height()) / 2
            clip = QPainterPath()
            clip.addRoundedRect(QRectF(x, y, pm.width(), pm.height()), 6, 6)
            p.setClipPath(clip)
            p.drawPixmap(int(x), int(y), pm)
            p.setClipping(False)
        else:
            p.setPen(QPen(theme.GRID_STRONG, 1.5, Qt.PenStyle.DashLine))
            p.setBrush(theme.PANEL_HI)
            p.drawRoundedRect(r, 8, 8)
            p.setPen(theme.TEXT_DIM)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, self._hint)
        if self._highlight:
            p.setClipping(False)
            p.setPen(QPen(theme.ACCENT, 2.5))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(r, 8, 8)
        p.end()


class DragHandle(QLabel):
    """Looks like a button; pressing and dragging it drags the selected result out as a file."""

    def __init__(self, text: str, on_drag: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._on_drag = on_drag
        self._press: QPoint | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setToolTip("Drag the selected result into your DAW or a folder as a .mid file")
        self.setAccessibleName("Drag out as MIDI file")
        self.setMinimumWidth(120)
        self._restyle()

    def _restyle(self) -> None:
        on = self.isEnabled()
        border = theme.ACCENT.name() if on else theme.GRID.name()
        colour = theme.TEXT.name() if on else "#5d6472"
        self.setStyleSheet(f"QLabel {{ border: 1px dashed {border}; border-radius: 4px; padding: 5px 12px;"
                           f" color: {colour}; background: {theme.PANEL_HI.name()}; }}")

    def changeEvent(self, e) -> None:
        super().changeEvent(e)
        if e.type() == e.Type.EnabledChange:
            self._restyle()

    def mousePressEvent(self, e: QMouseEvent) -> None:
        if e.button() == Qt.MouseButton.LeftButton:
            self._press = e.position().toPoint()

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        if self._press is None:
            return
        if (e.position().toPoint() - self._press).manhattanLength() >= QApplication.startDragDistance():
            self._press = None
            self._on_drag()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        self._press = None
