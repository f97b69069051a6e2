"""The *Emotion* panel: the valence-arousal plane, the two readouts, "Use image's VA", and the arc.

It owns the target the music is composed for. A new picture moves the gold ring and, unless
the user has moved the target themselves (``override``), the target with it. With **Draw arc**
on, a drag on the plane draws the path the piece follows bar by bar; turning it off clears it.
"""
from __future__ import annotations

from PyQt6.QtCore import QSettings, Qt, pyqtSignal
from PyQt6.QtWidgets import QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from engine.events import VA
from engine.settings import DEFAULT_INTENSITY, MAX_INTENSITY, aim

from .va_plane import Mark, VAPlane


def readout(va: VA | None) -> str:
    return "—" if va is None else f"V {va.valence:+.2f}  A {va.arousal:+.2f}  {va.mood}"


class EmotionPanel(QGroupBox):
    targetChanged = pyqtSignal(object)   # VA: the target moved (by the user or a new picture)
    aimChanged = pyqtSignal(object)      # VA: where the music goes — the target scaled by intensity

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Emotion (valence × arousal)", parent)
        self.image_va: VA | None = None
        self.override = False
        self.plane = VAPlane()
        self.image_readout = QLabel("—")
        self.target_readout = QLabel("—")
        self.reset_button = QPushButton("Use image's VA")
        self.reset_button.setToolTip("Snap the target back to what the picture says")
        self.intensity_slider = QSlider(Qt.Orientation.Horizontal)
        self.intensity_slider.setRange(0, int(round(100 * MAX_INTENSITY)))
        self.intensity_slider.setValue(int(round(100 * DEFAULT_INTENSITY)))
        self.intensity_slider.setToolTip("How far from neutral the music goes: 0 neutral, 1× as the target says, 2× twice as far")
        self.intensity_slider.setAccessibleName("Intensity")
        self.intensity_label = QLabel()
        self.arc_button = QPushButton("✎  Draw arc")
        self.arc_button.setCheckable(True)
        self.arc_button.setToolTip("Drag on the plane to draw the emotion's path through the piece, bar by bar; "
                                   "press again to go back to one emotion")
        self.arc_label = QLabel("")
        self.arc_label.setObjectName("dim")
        col = QVBoxLayout(self)
        col.addWidget(self.plane, 1)
        col.addLayout(self._readouts())
        row = QHBoxLayout()
        row.addWidget(QLabel("Intensity"))
        row.addWidget(self.intensity_slider, 1)
        row.addWidget(self.intensity_label)
        col.addLayout(row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button, 1)
        buttons.addWidget(self.arc_button, 1)
        col.addLayout(buttons)
        col.addWidget(self.arc_label)
        self.arc_button.toggled.connect(self._arc_mode)
        self.plane.arcDrawn.connect(self._arc_drawn)
        self.plane.targetChanged.connect(lambda v, a: self.set_user_target(VA(v, a)))
        self.reset_button.clicked.connect(self.use_image_va)
        self.intensity_slider.valueChanged.connect(lambda _v: self._aim_moved())
        self._refresh()

    def _readouts(self) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        dot_img = QLabel("◯")
        dot_img.setStyleSheet("color: #f0c674; font-weight: bold;")
        dot_tgt = QLabel("●")
        dot_tgt.setStyleSheet("color: #5ab0ff;")
        for row, (dot, name, value) in enumerate(((dot_img, "Picture", self.image_readout),
                                                  (dot_tgt, "Target", self.target_readout))):
            value.setObjectName("readout")
            grid.addWidget(dot, row, 0)
            grid.addWidget(QLabel(name), row, 1)
            grid.addWidget(value, row, 2)
        grid.setColumnStretch(2, 1)
        return grid

    def target(self) -> VA:
        return self.plane.target()

    def arc(self) -> tuple[VA, ...]:
        """The drawn arc (empty unless Draw arc is on and a path was drawn)."""
        return self.plane.arc() if self.arc_button.isChecked() else ()

    def _arc_mode(self, on: bool) -> None:
        self.plane.set_arc_mode(on)
        if not on:
            self.plane.set_arc(())
        self._refresh()

    def _arc_drawn(self, arc) -> None:
        self.override = True
        self._move_target(arc[0])   # the piece opens where the arc starts

    def intensity(self) -> float:
        return self.intensity_slider.value() / 100.0

    def aimed(self) -> VA:
        return aim(self.target(), self.intensity())

    def load(self, s: QSettings) -> None:
        self.intensity_slider.setValue(int(round(100 * s.value("emotion/intensity", DEFAULT_INTENSITY, type=float))))

    def save(self, s: QSettings) -> None:
        s.setValue("emotion/intensity", self.intensity())

    def set_image_va(self, va: VA) -> None:
        """A new picture was read: show where it lies; the target follows unless overridden."""
        self.image_va = va
        self.plane.set_image_va(va)
        if not self.override:
            self._move_target(va)
        self._refresh()

    def set_user_target(self, va: VA) -> None:
        """What a drag, click or arrow key on the plane does: the user's target wins from now on."""
        self.override = True
        self._move_target(va)

    def use_image_va(self) -> None:
        self.override = False
        if self.image_va is not None:
            self._move_target(self.image_va)
        self._refresh()

    def set_marks(self, marks: list[Mark]) -> None:
        self.plane.set_marks(marks)

    def _move_target(self, va: VA) -> None:
        self.plane.set_target(va)
        self.targetChanged.emit(self.target())
        self._aim_moved()

    def _aim_moved(self) -> None:
        self.plane.set_aim(self.aimed() if self.intensity() != 1.0 else None)
        self._refresh()
        self.aimChanged.emit(self.aimed())

    def _refresh(self) -> None:
        self.image_readout.setText(readout(self.image_va))
        self.target_readout.setText(readout(self.target()) + ("  (yours)" if self.override else ""))
        self.intensity_label.setText(f"{self.intensity():.2f}×")
        self.reset_button.setEnabled(self.image_va is not None and self.override)
        arc = self.arc()
        self.arc_label.setText(f"Arc: {readout(arc[0])} → {readout(arc[-1])}, {len(arc)} points" if arc
                               else ("Drag on the plane to draw the arc" if self.arc_button.isChecked() else ""))
