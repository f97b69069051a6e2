"""Turning a result into a ``.mid`` a DAW or file manager can take: a named temp file, a QDrag.

DAWs and file managers accept drops of file URLs, not bytes, so the file has to exist before
the drag starts; its name says what it is, because that name becomes the clip's name in the
DAW (``synesthete_calm_120bpm_seed42.mid``).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PyQt6.QtCore import QMimeData, Qt, QUrl
from PyQt6.QtGui import QDrag, QPixmap
from PyQt6.QtWidgets import QWidget

from engine.midi_io import write_midi

from .worker import Variation


def midi_name(v: Variation) -> str:
    s = v.settings
    return f"synesthete_{v.target.mood}_{s.tempo:g}bpm_seed{s.seed}.mid"


def midi_metadata(v: Variation, image_label: str | None, model: str | None) -> dict:
    """What regenerates this result, stored inside the file (same fields as the CLI writes)."""
    s = v.settings
    return {"image": image_label, "bars": s.bars, "tempo": s.tempo, "key": v.key, "seed": s.seed,
            "temperature": s.temperature, "top_p": s.top_p, "valence": v.target.valence,
            "arousal": v.target.arousal, "model": model}


def write_variation(v: Variation, path: str | os.PathLike, *, image_label: str | None = None,
                    model: str | None = None) -> Path:
    s = v.settings
    return write_midi(v.notes, path, tempo=s.tempo, key=v.key, bars=s.bars,
                      settings=midi_metadata(v, image_label, model))


def drag_dir() -> Path:
    d = Path(tempfile.gettempdir()) / f"synesthete-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def prepare_drag_file(v: Variation, *, image_label: str | None = None, model: str | None = None,
                      directory: str | os.PathLike | None = None) -> Path:
    """Write ``v`` to a temp file with a meaningful name; the drag hands out its URL. The file
    is left in place after the drop, since a DAW may read it only once the drop completes."""
    d = Path(directory) if directory is not None else drag_dir()
    return write_variation(v, d / midi_name(v), image_label=image_label, model=model)


def start_drag(source: QWidget, path: Path, pixmap: QPixmap | None = None) -> Qt.DropAction:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drag = QDrag(source)
    drag.setMimeData(mime)
    if pixmap is not None and not pixmap.isNull():
        drag.setPixmap(pixmap)
    return drag.exec(Qt.DropAction.CopyAction)
