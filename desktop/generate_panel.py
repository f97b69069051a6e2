"""The *Generate* panel: the request's settings, Generate / Cancel, and the progress bar.

Every range comes from ``engine.request``, so the app offers exactly what the engine accepts;
``settings()`` builds the engine's ``GenerationSettings``, one per variation (the next seed
each), and the engine validates them. With **Auto** tempo on, the request's tempo is None and
the engine follows the target's arousal with ``default_tempo`` — the same rule this panel
uses to show that tempo, so what the user sees is what the piece and its file carry.
"""
from __future__ import annotations

import random

from PyQt6.QtCore import QSettings, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSlider,
    QSpinBox, QToolButton, QWidget,
)

from engine.events import VA
from engine.humanize import MAX_HUMANIZE
from engine.keys import PITCH_CLASSES
from engine.request import (
    DEFAULT_BARS, DEFAULT_FORM, DEFAULT_SPREAD, DEFAULT_TEMPERATURE, DEFAULT_VARIETY, MAX_BARS, MAX_SEED, MAX_SPREAD,
    MAX_TEMPERATURE, MAX_TEMPO, MAX_VARIETY, MIN_BARS, MIN_SPREAD, MIN_TEMPO, GenerationSettings, default_tempo,
)

MAX_VARIATIONS = 8
# QSpinBox holds a C int; the engine takes larger seeds, the app offers the first 2**31.
MAX_SEED_SHOWN = min(MAX_SEED, 2**31 - 1)
DICE_SEEDS = 99_999   # rolled seeds stay short enough to read out and type back
DEFAULTS = {"bars": DEFAULT_BARS, "tempo": default_tempo(0.0), "auto_tempo": True, "key": "auto",
            "temperature": DEFAULT_TEMPERATURE, "seed": 42, "variations": 3, "form": DEFAULT_FORM,
            "humanize": 0, "variety": int(round(100 * DEFAULT_VARIETY)), "spread": int(round(100 * DEFAULT_SPREAD))}
FORM_CHOICES = [("free", "Free"), ("phrases", "Phrases (A A′)")]


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
        self.bars = QSpinBox()
        self.bars.setRange(MIN_BARS, MAX_BARS)
        self.bars.setSuffix(" bars")
        self.tempo = QDoubleSpinBox()
        self.tempo.setRange(MIN_TEMPO, MAX_TEMPO)
        self.tempo.setDecimals(0)
        self.tempo.setSuffix(" BPM")
        self.auto_tempo = QToolButton()
        self.auto_tempo.setText("Auto")
        self.auto_tempo.setCheckable(True)
        self.auto_tempo.setToolTip("Follow the target's arousal (calmer = slower)")
        self.key = QComboBox()
        for value, label in key_choices():
            self.key.addItem(label, value)
        self.key.setMaxVisibleItems(13)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, MAX_TEMPERATURE)
        self.temperature.setSingleStep(0.05)
        self.temperature.setDecimals(2)
        self.temperature.setToolTip("Lower: safer, more repetitive (0: always the likeliest note). "
                                    "Higher: more surprising.")
        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED_SHOWN)
        self.dice = QToolButton()
        self.dice.setText("⚄")
        self.dice.setToolTip("New random seed")
        self.dice.setAccessibleName("Random seed")
        self.n_variations = QSpinBox()
        self.n_variations.setRange(1, MAX_VARIATIONS)
        self.n_variations.setToolTip("Each variation uses the next seed; results are ranked by emotion fit")
        self.form = QComboBox()
        for value, label in FORM_CHOICES:
            self.form.addItem(label, value)
        self.form.setToolTip("Phrases: every second 4-bar phrase comes back, with a new last bar, as songs and loops do")
        self.scale_lock = QCheckBox("In key only")
        self.scale_lock.setToolTip("Scale lock: every note in the key's scale (the chosen key, the phrase's, or the automatic one)")
        self.humanize = QSlider(Qt.Orientation.Horizontal)
        self.humanize.setRange(0, 100)  # percent of the engine's 0..MAX_HUMANIZE
        self.humanize.setAccessibleName("Humanize")
        self.humanize.setToolTip("0: exactly on the grid. Up: a player's timing and touch — accents, "
                                 "rolled chords, a few to a few tens of milliseconds off the grid")
        self.variety = QSlider(Qt.Orientation.Horizontal)
        self.variety.setRange(0, int(round(100 * MAX_VARIETY)))  # hundredths of the engine's variety
        self.variety.setAccessibleName("Variety")
        self.variety.setToolTip("How far each variation's density and loudness may stray from its mood's: "
                                "0 every piece of a mood alike, the middle as much as real music varies")
        self.spread = QSlider(Qt.Orientation.Horizontal)
        self.spread.setRange(int(round(100 * MIN_SPREAD)), int(round(100 * MAX_SPREAD)))  # hundredths of the engine's spread
        self.spread.setAccessibleName("Octave spread")
        self.spread.setToolTip("How widely the notes spread over the octaves; the notes of the key and chord stay "
                               "the model's. 100: the model's own register, narrower than real music's")

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
        cells = [("Bars", self.bars), ("Tempo", _hbox(self.tempo, self.auto_tempo)), ("Key", self.key),
                 ("Temperature", self.temperature), ("Seed", _hbox(self.seed, self.dice)),
                 ("Variations", self.n_variations), ("Form", self.form),
                 ("Humanize", self.humanize), ("Scale", self.scale_lock), ("Variety", self.variety),
                 ("Spread", self.spread)]
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
    def settings(self, intensity: float = 1.0, arc: tuple[VA, ...] = ()) -> list[GenerationSettings]:
        """One request per variation. Raises ``SettingError`` (a ValueError) on a bad value."""
        tempo = None if self.auto_tempo.isChecked() else float(self.tempo.value())
        base = dict(bars=self.bars.value(), tempo=tempo, key=self.key.currentData(), arc=tuple(arc),
                    scale_lock=self.scale_lock.isChecked(),
                    temperature=round(self.temperature.value(), 3), form=self.form.currentData(), intensity=intensity,
                    humanize=round(self.humanize.value() / 100 * MAX_HUMANIZE, 2), variety=self.variety.value() / 100,
                    spread=self.spread.value() / 100)
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
    def load(self, s: QSettings) -> None:
        self.bars.setValue(s.value("generate/bars", DEFAULTS["bars"], type=int))
        self.temperature.setValue(s.value("generate/temperature", DEFAULTS["temperature"], type=float))
        self.seed.setValue(s.value("generate/seed", DEFAULTS["seed"], type=int))
        self.n_variations.setValue(s.value("generate/variations", DEFAULTS["variations"], type=int))
        self.key.setCurrentIndex(max(0, self.key.findData(s.value("generate/key", DEFAULTS["key"], type=str))))
        self._set_tempo_quietly(s.value("generate/tempo", DEFAULTS["tempo"], type=float))
        self.auto_tempo.setChecked(s.value("generate/autoTempo", DEFAULTS["auto_tempo"], type=bool))
        self.form.setCurrentIndex(max(0, self.form.findData(s.value("generate/form", DEFAULTS["form"], type=str))))
        self.humanize.setValue(s.value("generate/humanize", DEFAULTS["humanize"], type=int))
        self.scale_lock.setChecked(s.value("generate/scaleLock", False, type=bool))
        self.variety.setValue(s.value("generate/variety", DEFAULTS["variety"], type=int))
        self.spread.setValue(s.value("generate/spread", DEFAULTS["spread"], type=int))

    def save(self, s: QSettings) -> None:
        s.setValue("generate/bars", self.bars.value())
        s.setValue("generate/tempo", self.tempo.value())
        s.setValue("generate/autoTempo", self.auto_tempo.isChecked())
        s.setValue("generate/key", self.key.currentData())
        s.setValue("generate/temperature", self.temperature.value())
        s.setValue("generate/seed", self.seed.value())
        s.setValue("generate/variations", self.n_variations.value())
        s.setValue("generate/form", self.form.currentData())
        s.setValue("generate/humanize", self.humanize.value())
        s.setValue("generate/scaleLock", self.scale_lock.isChecked())
        s.setValue("generate/variety", self.variety.value())
        s.setValue("generate/spread", self.spread.value())
