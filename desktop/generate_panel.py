"""The *Generate* panel: the request's settings, Generate / Cancel, and the progress bar.

Its controls are made from ``engine.settings.SETTINGS``: each setting with a ``control`` gets its
widget (a slider in hundredths, a spin box, a combo of its choices, a check box), label, tooltip,
range and remembered value from its row, so the app offers exactly what the engine accepts and a
new setting appears here without an edit. Three have the panel's own widgets: the tempo (with
**Auto**), the key (24 keys and auto) and the seed (with a dice). ``settings()`` builds the
engine's ``GenerationSettings``, one per variation (the next seed each), and the engine validates
them. With **Auto** tempo on, the request's tempo is None and the engine follows the target's
arousal with ``default_tempo`` — the same rule this panel uses to show that tempo, so what the
user sees is what the piece and its file carry.
"""
from __future__ import annotations

import random

from PyQt6.QtCore import QSettings, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSlider,
    QSpinBox, QToolButton, QWidget,
)

from engine.events import VA
from engine.music.keys import PITCH_CLASSES
from engine.settings import MAX_SEED, SETTINGS, GenerationSettings, Setting, default_tempo

MAX_VARIATIONS = 8
# QSpinBox holds a C int; the engine takes larger seeds, the app offers the first 2**31.
MAX_SEED_SHOWN = min(MAX_SEED, 2**31 - 1)
DICE_SEEDS = 99_999   # rolled seeds stay short enough to read out and type back
FIRST_SEED = 42       # the app's first seed (the command line's is 0)
VARIATIONS = 3
CONTROLS = [s for s in SETTINGS if s.control is not None]
FORM_LABELS = {"free": "Free", "phrases": "Phrases (A A′)", "auto": "Song (a real song's form)"}  # choices' names in menus; others show as spelt


def key_label(key: str) -> str:
    """'Am' → 'A minor', 'Eb' → 'Eb major': names for menus and captions."""
    if key.endswith("m"):
        return f"{key[:-1]} minor"
    return f"{key} major"


def key_choices() -> list[tuple[str, str]]:
    majors = [(pc, key_label(pc)) for pc in PITCH_CLASSES]
    minors = [(pc + "m", key_label(pc + "m")) for pc in PITCH_CLASSES]
    return [("auto", "Auto (from valence)")] + majors + minors


def _hbox(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setSpacing(4)
    row.addWidget(widgets[0], 1)
    for w in widgets[1:]:
        row.addWidget(w)
    return row


def make_control(s: Setting) -> QWidget:
    """The widget of one setting's row (its range, tooltip and accessible name from the row)."""
    if s.control == "slider":
        w = QSlider(Qt.Orientation.Horizontal)
        w.setRange(int(round(100 * s.lo)), int(round(100 * s.hi)))  # hundredths of the engine's value
    elif s.control == "spin" and s.kind is int:
        w = QSpinBox()
        w.setRange(int(s.lo), int(s.hi))
        if s.name == "bars":
            w.setSuffix(" bars")
    elif s.control == "spin":
        w = QDoubleSpinBox()
        w.setRange(s.lo, s.hi)
        w.setSingleStep(0.05)
        w.setDecimals(2)
    elif s.control == "combo":
        w = QComboBox()
        for value in s.choices:
            w.addItem(FORM_LABELS.get(value, value.capitalize()), value)
    elif s.control == "check":
        w = QCheckBox("In key only" if s.name == "scale_lock" else s.label)
    else:
        raise ValueError(f"setting {s.name}: no widget for control {s.control!r}")
    w.setAccessibleName(s.label)
    if s.tooltip:
        w.setToolTip(s.tooltip)
    return w


def control_value(s: Setting, w: QWidget):
    """The engine's value of a setting from its widget."""
    if s.control == "slider":
        return w.value() / 100
    if s.control == "combo":
        return w.currentData()
    if s.control == "check":
        return w.isChecked()
    return round(w.value(), 3) if s.kind is float else w.value()


def set_control(s: Setting, w: QWidget, value) -> None:
    if s.control == "slider":
        w.setValue(int(round(100 * value)))
    elif s.control == "combo":
        w.setCurrentIndex(max(0, w.findData(value)))
    elif s.control == "check":
        w.setChecked(bool(value))
    else:
        w.setValue(value)


class GeneratePanel(QGroupBox):
    generateRequested = pyqtSignal()
    cancelRequested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Generate", parent)
        self._target = VA(0.0, 0.0)
        self._quiet_tempo = False
        self._make_settings_widgets()
        self._make_action_widgets()
        self._lay_out()
        self.dice.clicked.connect(lambda: self.seed.setValue(random.randint(0, DICE_SEEDS)))
        self.tempo.valueChanged.connect(self._on_tempo_edited)
        self.auto_tempo.toggled.connect(self._on_auto_tempo)
        self.generate_button.clicked.connect(self.generateRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)

    def _make_settings_widgets(self) -> None:
        """One widget per setting with a control, kept as ``self.<name>`` (``self.controls``: the
        table's ones); the tempo, key and seed widgets are the panel's own."""
        self.controls: dict[str, QWidget] = {}
        for s in CONTROLS:
            if s.control == "tempo":
                self.tempo = QDoubleSpinBox()
                self.tempo.setRange(s.lo, s.hi)
                self.tempo.setDecimals(0)
                self.tempo.setSuffix(" BPM")
                self.auto_tempo = QToolButton()
                self.auto_tempo.setText("Auto")
                self.auto_tempo.setCheckable(True)
                self.auto_tempo.setToolTip("Follow the target's arousal (calmer = slower)")
            elif s.control == "key":
                self.key = QComboBox()
                for value, label in key_choices():
                    self.key.addItem(label, value)
                self.key.setMaxVisibleItems(13)
            elif s.control == "seed":
                self.seed = QSpinBox()
                self.seed.setRange(0, MAX_SEED_SHOWN)
                self.dice = QToolButton()
                self.dice.setText("⚄")
                self.dice.setToolTip("New random seed")
                self.dice.setAccessibleName("Random seed")
            else:
                self.controls[s.name] = make_control(s)
                setattr(self, s.name, self.controls[s.name])
        self.n_variations = QSpinBox()
        self.n_variations.setRange(1, MAX_VARIATIONS)
        self.n_variations.setToolTip("Each variation uses the next seed; results are ranked by emotion fit")

    def _make_action_widgets(self) -> None:
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("primary")
        self.generate_button.setToolTip("Generate (Ctrl+Enter)")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("Ready")

    def _lay_out(self) -> None:
        g = QGridLayout(self)
        g.setHorizontalSpacing(10)
        g.setVerticalSpacing(8)
        own = {"tempo": _hbox(self.tempo, self.auto_tempo), "key": self.key, "seed": _hbox(self.seed, self.dice)}
        cells = [(s.label, own.get(s.control) or self.controls[s.name]) for s in CONTROLS]
        cells.insert(5, ("Variations", self.n_variations))
        for i, (name, w) in enumerate(cells):
            row, col = divmod(i, 3)
            lab = QLabel(name)
            lab.setObjectName("dim")
            g.addWidget(lab, row, col * 2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if isinstance(w, QHBoxLayout):
                g.addLayout(w, row, col * 2 + 1)
            else:
                g.addWidget(w, row, col * 2 + 1)
        for c in (1, 3, 5):
            g.setColumnStretch(c, 1)
        act = QHBoxLayout()
        act.addWidget(self.generate_button)
        act.addWidget(self.cancel_button)
        act.addWidget(self.progress, 1)
        g.addLayout(act, g.rowCount(), 0, 1, 6)

    # --- the request ---------------------------------------------------------------------
    def settings(self, intensity: float = 1.0, arc: tuple[VA, ...] = (), chords: str = "") -> list[GenerationSettings]:
        """One request per variation. Raises ``SettingError`` (a ValueError) on a bad value.
        ``chords``: the progression the harmony follows (the Chords panel's; '' = the model's own)."""
        base = {name: control_value(s, self.controls[name]) for s in CONTROLS if (name := s.name) in self.controls}
        base.update(tempo=None if self.auto_tempo.isChecked() else float(self.tempo.value()),
                    key=self.key.currentData(), arc=tuple(arc), intensity=intensity, chords=chords)
        return [GenerationSettings(seed=self.seed.value() + i, **base) for i in range(self.n_variations.value())]

    def follow_target(self, va: VA) -> None:
        """Where the music goes moved (the target scaled by intensity): with Auto on, show the tempo
        the engine will pick for it."""
        self._target = va
        if self.auto_tempo.isChecked():
            self._set_tempo_quietly(default_tempo(va.arousal))

    def _set_tempo_quietly(self, bpm: float) -> None:
        self._quiet_tempo = True
        self.tempo.setValue(bpm)
        self._quiet_tempo = False

    def _on_tempo_edited(self, _value: float) -> None:
        if not self._quiet_tempo:
            self.auto_tempo.setChecked(False)  # the user's tempo wins until Auto is pressed again

    def _on_auto_tempo(self, on: bool) -> None:
        if on:
            self._set_tempo_quietly(default_tempo(self._target.arousal))

    # --- state shown ---------------------------------------------------------------------
    def set_state(self, ready: bool, busy: bool) -> None:
        self.generate_button.setEnabled(ready)
        self.cancel_button.setEnabled(busy)

    def job_started(self, variations: int) -> None:
        self.progress.setValue(0)
        self.progress.setFormat(f"Generating {variations} variation{'s' if variations > 1 else ''}… %p%")

    def set_progress(self, pct: int) -> None:
        self.progress.setValue(pct)

    def job_ended(self, text: str, pct: int | None = None) -> None:
        self.progress.setFormat(text)
        if pct is not None:
            self.progress.setValue(pct)

    # --- remembered between runs ---------------------------------------------------------
    # What each widget shows is kept (a slider's hundredths, a combo's choice), under
    # "generate/<setting>"; a setting never saved starts at its row's default.
    def load(self, s: QSettings) -> None:
        for row in CONTROLS:
            if row.name in self.controls:
                w = self.controls[row.name]
                set_control(row, w, row.default)
                if s.contains(f"generate/{row.name}"):
                    _set_shown(row, w, s.value(f"generate/{row.name}"))
        self.seed.setValue(s.value("generate/seed", FIRST_SEED, type=int))
        self.n_variations.setValue(s.value("generate/variations", VARIATIONS, type=int))
        self.key.setCurrentIndex(max(0, self.key.findData(s.value("generate/key", "auto", type=str))))
        self._set_tempo_quietly(s.value("generate/tempo", default_tempo(0.0), type=float))
        self.auto_tempo.setChecked(s.value("generate/autoTempo", True, type=bool))

    def save(self, s: QSettings) -> None:
        for row in CONTROLS:
            if row.name in self.controls:
                s.setValue(f"generate/{row.name}", _shown(row, self.controls[row.name]))
        s.setValue("generate/tempo", self.tempo.value())
        s.setValue("generate/autoTempo", self.auto_tempo.isChecked())
        s.setValue("generate/key", self.key.currentData())
        s.setValue("generate/seed", self.seed.value())
        s.setValue("generate/variations", self.n_variations.value())


def _shown(row: Setting, w: QWidget):
    """What a setting's widget shows, as it is remembered."""
    if row.control == "combo":
        return w.currentData()
    if row.control == "check":
        return w.isChecked()
    return w.value()


def _set_shown(row: Setting, w: QWidget, value) -> None:
    """Show a remembered value (QSettings may hand back text, as an INI file holds it)."""
    try:
        if row.control == "combo":
            w.setCurrentIndex(max(0, w.findData(str(value))))
        elif row.control == "check":
            w.setChecked(value if isinstance(value, bool) else str(value).lower() in ("true", "1"))
        elif isinstance(w, QDoubleSpinBox):
            w.setValue(float(value))
        else:
            w.setValue(int(float(value)))
    except (TypeError, ValueError):  # a hand-edited or foreign config: keep the default
        pass
