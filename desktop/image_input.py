"""What a drop or a paste carries, turned into an ``ImageSource`` or a one-line reason why not.

File managers send ``file://`` URLs; browsers send the page's ``https://`` URL and often the
pixels as well; screenshots in the clipboard are bare pixels. Decoding is left to the worker
(``engine.picture.images``), so a huge or broken file never blocks the window.
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QMimeData, QUrl
from PyQt6.QtGui import QImage

from .worker import ImageSource


class NotAnImage(ValueError):
    """The drop or paste holds nothing we can read as a picture (message is one line)."""


def can_accept(mime: QMimeData) -> bool:
    return mime.hasUrls() or mime.hasImage() or (mime.hasText() and mime.text().strip().startswith(("file:", "/")))


def source_from_mime(mime: QMimeData, what: str = "dropped item") -> ImageSource:
    urls = list(mime.urls()) if mime.hasUrls() else []
    if not urls and mime.hasText():
        text = mime.text().strip().splitlines()[0] if mime.text().strip() else ""
        if text.startswith("file:"):
            urls = [QUrl(text)]
        elif text.startswith("/"):
            urls = [QUrl.fromLocalFile(text)]
    local = [u for u in urls if u.isLocalFile()]
    if local:
        path = Path(local[0].toLocalFile())
        return ImageSource(label=path.name or str(path), path=path)
    if mime.hasImage():
        img = mime.imageData()
        if isinstance(img, QImage) and not img.isNull():
            label = urls[0].fileName() if urls and urls[0].fileName() else f"{what} (pixels)"
            return ImageSource(label=label, qimage=img)
    if urls:
        shown = urls[0].toDisplayString()
        if len(shown) > 80:
            shown = shown[:77] + "…"
        raise NotAnImage(f"{shown}: only pictures on this computer can be used; save it first, then drop the file")
    raise NotAnImage(f"the {what} is not a picture or a picture file")
