"""Opening a file a user names as an input: a regular file, or one line saying what it is instead.

Public names: ``open_input``.

Pictures, MIDI files and SoundFonts are all opened here, so each says the same things the same
way. ``O_NONBLOCK``: opening a FIFO must not wait for a writer; the kind is checked on the open
file itself (``fstat``), so nothing can swap the path between the check and the read.
"""
from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from .outputs import one_line


@contextmanager
def open_input(path: str | os.PathLike, what: str, error: type[Exception], *,
               missing: str = "no such file") -> Iterator[tuple[BinaryIO, int]]:
    """``(file, size in bytes)`` for reading ``path``, or ``error`` with one line: ``missing``, is
    a directory, is not a regular file, cannot be read. ``what`` names the kind of file expected
    (``"an image"``). An ``OSError`` while reading inside the block becomes ``error`` too."""
    p = Path(path)
    label = one_line(p)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise error(f"{label}: {missing}") from None
    except IsADirectoryError:
        raise error(f"{label}: is a directory, not {what}") from None
    except OSError as e:
        raise error(f"{label}: cannot read ({e.strerror or type(e).__name__})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{label}: is a directory, not {what}")
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{label}: is not a regular file (a FIFO, device or socket), not {what}")
        with os.fdopen(os.dup(fd), "rb") as fh:
            yield fh, st.st_size
    except OSError as e:
        raise error(f"{label}: cannot read ({e.strerror or type(e).__name__})") from None
    finally:
        os.close(fd)
