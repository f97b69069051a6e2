"""Loading any picture a user throws at us into an RGB array, or a one-line reason why not.

Handles EXIF orientation, palette/alpha/CMYK/16-bit/greyscale modes (alpha is flattened
on white), animated files (first frame), and refuses decompression bombs *before* decoding
the pixels: Pillow reads the header lazily, so a 30000x30000 PNG costs nothing to reject.
Memory is bounded by design: besides the pixel count, the sides may differ by at most
``MAX_ASPECT``:1, because ``preprocess`` scales the *shorter* side to the model's size and a
40000x1 strip (201 bytes as a PNG) would otherwise become an 8-billion-pixel resize.
"""
from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .outputs import one_line

MAX_PIXELS = 40_000_000  # ~ a 7700x5200 photo; larger is refused, not downscaled blindly
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_ASPECT = 50  # panoramas (up to ~12:1) pass; the shorter side resized costs <= 50x the model input


class ImageError(ValueError):
    """An image that cannot be used (message is one line, for users)."""


def _open(src, label: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(src)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{label}: {w}x{h} pixels is too large (limit {MAX_PIXELS // 1_000_000} megapixels)")
            check_aspect(w, h, label)
            img.load()
            return img
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{label}: image is too large (decompression bomb limit)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image file (or a format Pillow cannot read)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImageError(f"{label}: damaged or truncated image ({msg})") from None


def to_rgb(img: Image.Image) -> Image.Image:
    """Any mode → 8-bit RGB; transparency goes on white; EXIF orientation applied."""
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block should not cost the user their picture
        pass
    if getattr(img, "is_animated", False):
        img.seek(0)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() if arr.size and arr.max() > 0 else 1.0
        img = Image.fromarray((arr / hi * 255.0).clip(0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        img = Image.fromarray(((arr - lo) / ((hi - lo) or 1.0) * 255.0).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    return img.convert("RGB")


def check_aspect(w: int, h: int, label: str = "image") -> None:
    """Refuse a picture whose sides differ by more than ``MAX_ASPECT``:1 (one-line ImageError)."""
    if min(w, h) < 1 or max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageError(f"{label}: {w}x{h} pixels is too narrow a strip to read a mood from "
                         f"(sides may differ by at most {MAX_ASPECT}:1)")


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open a picture file as an RGB ``PIL.Image``; raises ImageError with a one-line reason."""
    p = Path(path)
    label = one_line(p)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the kind is checked on the open
        # file itself, so nothing can swap the path between the check and the read.
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a directory, not an image") from None
    except OSError as e:
        raise ImageError(f"{label}: cannot read ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ImageError(f"{label}: is a directory, not an image")
        if not stat.S_ISREG(st.st_mode):
            raise ImageError(f"{label}: is not a regular file (a FIFO, device or socket), not an image")
        if st.st_size == 0:
            raise ImageError(f"{label}: empty file")
        if st.st_size > MAX_FILE_BYTES:
            raise ImageError(f"{label}: {st.st_size // (1024 * 1024)} MB is too large for an image file")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ImageError(f"{label}: cannot read ({e.strerror})") from None
    finally:
        os.close(fd)
    return to_rgb(_open(io.BytesIO(data), label))


def load_image_bytes(data: bytes, label: str = "image") -> Image.Image:
    """Same as load_image, for bytes (clipboard, drag from a browser)."""
    label = one_line(label)
    if not data:
        raise ImageError(f"{label}: empty data")
    return to_rgb(_open(io.BytesIO(data), label))


def preprocess(img: Image.Image, size: int, mean: tuple[float, float, float], std: tuple[float, float, float]) -> np.ndarray:
    """RGB image → float32 array (1, 3, size, size): shorter side resized, centre-cropped, normalised."""
    w, h = img.size
    check_aspect(w, h)  # images may come here without load_image (the app, training)
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    img = img.crop((left, top, left + size, top + size))
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return x.transpose(2, 0, 1)[None].copy()
