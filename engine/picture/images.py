"""Loading any picture a user throws at us into an RGB array, or a one-line reason why not.

Handles EXIF orientation, palette/alpha/CMYK/16-bit/greyscale modes (alpha is flattened
on white), animated files (first frame), and refuses decompression bombs *before* decoding
the pixels: Pillow reads the header lazily, so a 30000x30000 PNG costs nothing to reject.
Any picture that decodes gives a mood, however small or thin: a 1x1 swatch, a 320x1 gradient.
Memory stays bounded all the same: decoding by the pixel count read from the header, and
``preprocess`` by cropping first. It scales the *shorter* side to the model's size, so a 40000x1
strip (201 bytes as a PNG) would become an 8-billion-pixel resize; beyond ``MAX_ASPECT``:1 the
long side is centre-cropped to ``MAX_ASPECT`` times the short one before resizing. The model sees
the centre square of every picture anyway, so the crop removes only pixels it would never see
(the colour statistics, ``engine.picture.image_stats``, still read the whole strip).
"""
from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..files.inputs import open_input
from ..files.outputs import one_line

MAX_PIXELS = 40_000_000  # ~ a 7700x5200 photo; larger is refused, not downscaled blindly
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_ASPECT = 50  # panoramas (up to ~12:1) resize whole, as ever; a strip past 50:1 is cropped to it first


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
    label = one_line(path)
    with open_input(path, "an image", ImageError) as (fh, size):
        if size == 0:
            raise ImageError(f"{label}: empty file")
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{label}: {size // (1024 * 1024)} MB is too large for an image file")
        data = fh.read(MAX_FILE_BYTES + 1)
    return to_rgb(_open(io.BytesIO(data), label))


def load_image_bytes(data: bytes, label: str = "image") -> Image.Image:
    """Same as load_image, for bytes (clipboard, drag from a browser)."""
    label = one_line(label)
    if not data:
        raise ImageError(f"{label}: empty data")
    return to_rgb(_open(io.BytesIO(data), label))


def preprocess(img: Image.Image, size: int, mean: tuple[float, float, float], std: tuple[float, float, float]) -> np.ndarray:
    """RGB image of any size (1x1 up) → float32 array (1, 3, size, size): shorter side resized,
    centre-cropped, normalised. The resize never makes more than ``size`` x ``MAX_ASPECT * size``
    pixels, whatever the picture's shape."""
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageError(f"image: {w}x{h} pixels has nothing to read a mood from")
    # The final crop keeps the centre min(w, h) square; cutting a strip's long side to
    # MAX_ASPECT:1 around that square before the resize loses nothing the model would see and
    # bounds the resize (images come here without load_image too: the app, training). Pictures
    # within MAX_ASPECT:1 take the same path as always, so their input is bit for bit unchanged.
    if w > MAX_ASPECT * h:
        left = (w - MAX_ASPECT * h) // 2
        img, w = img.crop((left, 0, left + MAX_ASPECT * h, h)), MAX_ASPECT * h
    elif h > MAX_ASPECT * w:
        top = (h - MAX_ASPECT * w) // 2
        img, h = img.crop((0, top, w, top + MAX_ASPECT * w)), MAX_ASPECT * w
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    img = img.crop((left, top, left + size, top + size))
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return x.transpose(2, 0, 1)[None].copy()
