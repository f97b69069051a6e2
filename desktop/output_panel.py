"""The *Output* panel: the MIDI port menu, Play / Preview / Stop, and the two ways out (drag, Save…).

Play sends MIDI to the port (a DAW records it); Preview plays audio on this computer.

It shows and asks; the window owns the ``Player`` and the files. A port entry's data is the
port's name, or None for the app's own virtual port.
"""
from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from .widgets import DragHandle


class OutputPanel(QGroupBox):
    portChosen = pyqtSignal(object)     # an existing port's name, or None for the virtual port
    refreshRequested = pyqtSignal()
    playRequested = pyqtSignal()
    previewRequested = pyqtSignal()
    stopRequested = pyqtSignal()
    dragRequested = pyqtSignal()        # the drag handle was pulled: the window starts the drag
    saveRequested = pyqtSignal()
    linkToggled = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Output", parent)
        self.port_combo = QComboBox()
        self.port_combo.setMinimumContentsLength(22)
        self.port_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.port_combo.setAccessibleName("MIDI output port")
        self.refresh_button = QToolButton()
        self.refresh_button.setText("Refresh")
        self.refresh_button.setToolTip("Look for MIDI ports again")
        self.play_button = QPushButton("▶  Play")
        self.play_button.setObjectName("primary")
        self.preview_button = QPushButton("♫  Preview")
        self.preview_button.setToolTip("Listen here, through the computer's audio output (SoundFont piano)")
        self.stop_button = QPushButton("■  Stop")
        self.stop_button.setToolTip("Stop and silence every note (panic)")
        self.steer_box = QCheckBox("Steer live")
        self.steer_box.setToolTip("Play composes as it goes: move the target on the plane and the music follows from the next bar")
        self.link_button = QToolButton()
        self.link_button.setText("Link")
        self.link_button.setCheckable(True)
        self.link_button.setToolTip("Ableton Link: play on the session's tempo and bars (needs the [link] extra)")
        self.drag_handle = DragHandle("⇲  Drag .mid", self.dragRequested.emit)
        self.save_button = QPushButton("Save…")
        self._lay_out()
        self.port_combo.activated.connect(lambda i: self.portChosen.emit(self.port_combo.itemData(i)))
        self.refresh_button.clicked.connect(self.refreshRequested)
        self.play_button.clicked.connect(self.playRequested)
        self.preview_button.clicked.connect(self.previewRequested)
        self.stop_button.clicked.connect(self.stopRequested)
        self.save_button.clicked.connect(self.saveRequested)
        self.link_button.toggled.connect(self.linkToggled)

    def _lay_out(self) -> None:
        row = QHBoxLayout(self)
        row.setSpacing(8)
        port_lab = QLabel("MIDI port")
        port_lab.setObjectName("dim")
        for w in (port_lab, self.port_combo, self.refresh_button, None, self.play_button, self.preview_button, self.stop_button, self.steer_box, self.link_button,
                  None, self.drag_handle, self.save_button):
            if w is None:
                row.addSpacing(12)
            else:
                row.addWidget(w, 1 if w is self.port_combo else 0)

    def set_ports(self, virtual_name: str, outputs: list[str], current: str | None) -> None:
        """List the virtual port and ``outputs``; a remembered port that is gone stays, marked."""
        self.port_combo.clear()
        self.port_combo.addItem(f"Virtual port “{virtual_name}”", None)
        for name in outputs:
            self.port_combo.addItem(name, name)
        if current is not None and current not in outputs:
            self.port_combo.addItem(f"{current} (not found)", current)
        self.port_combo.setCurrentIndex(max(0, self.port_combo.findData(current)))

    def set_state(self, can_play: bool, playing: bool, has_notes: bool, previewing: bool = False) -> None:
        self.play_button.setEnabled(can_play and not playing)
        self.preview_button.setEnabled(has_notes and not previewing)
        self.stop_button.setEnabled(playing or previewing)
        self.drag_handle.setEnabled(has_notes)
        self.save_button.setEnabled(has_notes)
