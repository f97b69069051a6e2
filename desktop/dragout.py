"""Turning a result into a ``.mid`` a DAW or file manager can take: a named temp file, a QDrag.

DAWs and file managers accept drops of file URLs, not bytes, so the file has to exist before
the drag starts; its name says what it is, because that name becomes the clip's name in the
DAW (``synesthete_calm_120bpm_seed42.mid``). The file itself is the engine's: ``Piece.write``
(tempo, key signature and the metadata that regenerates it), the same bytes ``generate`` writes.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PyQt6.QtCore import QMimeData, Qt, QUrl
from PyQt6.QtGui import QDrag, QPixmap
from PyQt6.QtWidgets import QWidget

from engine.request import Piece


def midi_name(piece: Piece, take: int = 1) -> str:
    """``synesthete_calm_120bpm_seed42.mid``; a take with regenerated bars ends ``_take2`` etc."""
    suffix = f"_take{take}" if take > 1 else ""
    return f"synesthete_{piece.target.mood}_{piece.tempo:g}bpm_seed{piece.settings.seed}{suffix}.mid"


def drag_dir() -> Path:
    d = Path(tempfile.gettempdir()) / f"synesthete-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def prepare_drag_file(piece: Piece, directory: str | os.PathLike | None = None, take: int = 1) -> Path:
    """Write ``piece`` to a temp file with a meaningful name; the drag hands out its URL. The
    file is left in place after the drop, since a DAW may read it only once the drop completes."""
    d = Path(directory) if directory is not None else drag_dir()
    return Path(piece.write(d / midi_name(piece, take)))


def start_drag(source: QWidget, path: Path, pixmap: QPixmap | None = None) -> Qt.DropAction:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drag = QDrag(source)
    drag.setMimeData(mime)
    if pixmap is not None and not pixmap.isNull():
        drag.setPixmap(pixmap)
    return drag.exec(Qt.DropAction.CopyAction)
