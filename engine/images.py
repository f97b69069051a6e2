"""Loading any picture a user throws at us into an RGB array, or a one-line reason why not.

Handles EXIF orientation, palette/alpha/CMYK/16-bit/greyscale modes (alpha is flattened
on white), animated files (first frame), and refuses decompression bombs *before* decoding
the pixels: Pillow reads the header lazily, so a 30000x30000 PNG costs nothing to reject.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # ~ a 7700x5200 photo; larger is refused, not downscaled blindly
MAX_FILE_BYTES = 100 * 1024 * 1024


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


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open a picture file as an RGB ``PIL.Image``; raises ImageError with a one-line reason."""
    p = Path(path)
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if p.is_dir():
        raise ImageError(f"{p}: is a directory, not an image")
    size = p.stat().st_size
    if size == 0:
        raise ImageError(f"{p}: empty file")
    if size > MAX_FILE_BYTES:
        raise ImageError(f"{p}: {size // (1024 * 1024)} MB is too large for an image file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ImageError(f"{p}: cannot read ({e.strerror})") from None
    return to_rgb(_open(io.BytesIO(data), str(p)))


def load_image_bytes(data: bytes, label: str = "image") -> Image.Image:
    """Same as load_image, for bytes (clipboard, drag from a browser)."""
    if not data:
        raise ImageError(f"{label}: empty data")
    return to_rgb(_open(io.BytesIO(data), label))


def preprocess(img: Image.Image, size: int, mean: tuple[float, float, float], std: tuple[float, float, float]) -> np.ndarray:
    """RGB image → float32 array (1, 3, size, size): shorter side resized, centre-cropped, normalised."""
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    img = img.crop((left, top, left + size, top + size))
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return x.transpose(2, 0, 1)[None].copy()
