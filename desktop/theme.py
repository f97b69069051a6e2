"""Colours and the dark Fusion palette shared by the window and the custom-painted widgets.

One place for colours so the VA plane, the piano roll and the stylesheet agree; the custom
widgets read these constants rather than the palette because they paint musical meaning
(quadrants, velocity) that a palette role cannot express.
"""
from __future__ import annotations

from PyQt6.QtGui import QColor, QFont, QPalette
from PyQt6.QtWidgets import QApplication, QStyleFactory

BG = QColor("#1b1e24")          # window
PANEL = QColor("#23272f")       # cards, plot backgrounds
PANEL_HI = QColor("#2c313b")    # inputs, alternating rows
GRID = QColor("#363c47")
GRID_STRONG = QColor("#4a5160")
TEXT = QColor("#e4e7ec")
TEXT_DIM = QColor("#9aa3b2")
ACCENT = QColor("#5ab0ff")      # the user's target, the playhead, selection
IMAGE_POINT = QColor("#f0c674")  # what the picture says
ERROR = QColor("#ff7b72")
OK = QColor("#7ee0a1")

# Russell quadrants (engine.events.QUADRANT_NAMES): excited, tense, sad, calm.
QUADRANT_COLOURS = {
    "excited": QColor("#e8a33d"),
    "tense": QColor("#e0605b"),
    "sad": QColor("#6f8fd8"),
    "calm": QColor("#58c08f"),
}

STYLESHEET = f"""
QWidget {{ font-size: 10pt; }}
QGroupBox {{
    border: 1px solid {GRID.name()}; border-radius: 6px; margin-top: 14px; padding: 10px 8px 8px 8px;
    background: {PANEL.name()};
}}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; color: {TEXT_DIM.name()}; }}
QPushButton, QToolButton {{
    background: {PANEL_HI.name()}; border: 1px solid {GRID_STRONG.name()}; border-radius: 4px;
    padding: 5px 12px; color: {TEXT.name()};
}}
QPushButton:hover, QToolButton:hover {{ border-color: {ACCENT.name()}; }}
QPushButton:pressed, QToolButton:pressed {{ background: {GRID.name()}; }}
QPushButton:disabled, QToolButton:disabled {{ color: #5d6472; border-color: {GRID.name()}; }}
QToolButton:checked {{ background: #2b4a66; border-color: {ACCENT.name()}; }}
QPushButton#primary {{ background: #2f6fb0; border-color: #3f86cf; font-weight: 600; }}
QPushButton#primary:hover {{ background: #3a7fc4; }}
QPushButton#primary:disabled {{ background: {PANEL_HI.name()}; }}
QSpinBox, QDoubleSpinBox, QComboBox {{
    background: {PANEL_HI.name()}; border: 1px solid {GRID_STRONG.name()}; border-radius: 4px;
    padding: 3px 6px; min-height: 20px;
}}
QListWidget {{ background: {PANEL.name()}; border: 1px solid {GRID.name()}; border-radius: 6px; }}
QListWidget::item {{ padding: 6px 6px; border-bottom: 1px solid {GRID.name()}; }}
QListWidget::item:selected {{ background: #2b4a66; color: {TEXT.name()}; }}
QProgressBar {{
    background: {PANEL_HI.name()}; border: 1px solid {GRID.name()}; border-radius: 4px;
    text-align: center; min-height: 16px;
}}
QProgressBar::chunk {{ background: #2b5a86; border-radius: 3px; }}
QStatusBar {{ color: {TEXT_DIM.name()}; }}
QLabel#error {{
    color: {ERROR.name()}; background: #3a2326; border: 1px solid #6b3338; border-radius: 4px; padding: 6px;
}}
QLabel#dim {{ color: {TEXT_DIM.name()}; }}
QLabel#readout {{ font-family: monospace; }}
"""


def apply_dark_theme(app: QApplication) -> None:
    """Fusion with a dark palette: the same look on every platform and under Xvfb."""
    app.setStyle(QStyleFactory.create("Fusion"))
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: BG, QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: PANEL, QPalette.ColorRole.AlternateBase: PANEL_HI,
        QPalette.ColorRole.ToolTipBase: PANEL_HI, QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT, QPalette.ColorRole.Button: PANEL_HI,
        QPalette.ColorRole.ButtonText: TEXT, QPalette.ColorRole.BrightText: ERROR,
        QPalette.ColorRole.Link: ACCENT, QPalette.ColorRole.Highlight: QColor("#2f6fb0"),
        QPalette.ColorRole.HighlightedText: TEXT, QPalette.ColorRole.PlaceholderText: TEXT_DIM,
    }
    for role, colour in roles.items():
        pal.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5d6472"))
    app.setPalette(pal)
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(STYLESHEET)
