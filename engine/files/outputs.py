"""Where an output file may go, and writing it there without losing or exposing anything.

Public names: ``OutputError``, ``check_output_path``, ``atomic_write``, ``one_line``, ``model_files``,
``MODEL_DIR``.

``check_output_path`` is meant to run before any work (``generate -o``, ``stream --also-write``
before the first note, the app's save): a take that cannot be saved should fail in a second,
not after it has been played. ``atomic_write`` is what every writer uses: a temp file beside
the target, fsync, rename. The new file gets the mode ``open()`` would give it (0666 less
the umask) and a replaced file keeps its mode, so a DAW or another user can read the clip.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from ..errors import UsageError

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


# The model's own files are inputs of every command (a sidecar overwritten by a take would make
# every later run fail): a file there is never an output, whatever the command or front end.
MODEL_DIR = Path(__file__).resolve().parents[1] / "models"
ENV_MODEL_DIR = "SYNESTHETE_MODEL_DIR"
MAX_MODEL_FILES = 64  # a model directory holds a handful; a huge one given by mistake is not listed


def model_files(model_dir: str | os.PathLike | None = None) -> list[Path]:
    """The files of the shipped model, of ``$SYNESTHETE_MODEL_DIR`` and of ``model_dir``: the
    inputs every output path is checked against."""
    found = []
    for d in (MODEL_DIR, os.environ.get(ENV_MODEL_DIR), model_dir):
        if not d:
            continue
        try:
            with os.scandir(d) as it:
                for i, entry in enumerate(it):
                    if i >= MAX_MODEL_FILES:
                        break
                    if entry.is_file():
                        found.append(Path(entry.path))
        except OSError:  # a missing or unreadable model directory is the runtime's error to give
            pass
    return found


class OutputError(UsageError):
    """An output path that must not or cannot be written; one line. A ``UsageError`` (so a
    ``ValueError``): the command line's exit 2."""


def one_line(path: str | os.PathLike) -> str:
    """A path as one printable line: ``repr`` when it holds a newline or other control byte."""
    s = os.fspath(path)
    s = s if isinstance(s, str) else os.fsdecode(s)
    return s if s.isprintable() else repr(s)


def check_output_path(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (),
                      model_dir: str | os.PathLike | None = None) -> Path:
    """``out`` as a ``Path`` if a file can be written there without harming anything, else
    ``OutputError``: ``out`` is one of ``inputs`` or of the model's files (``model_files``; also
    through a symlink or hard link), exists
    and is not a regular file (FIFO, device, socket, directory), has a name too long for the
    file system, or its directory is missing or refuses a new file."""
    p = Path(out)
    label = one_line(p)
    if not p.name or os.fspath(out).endswith(os.sep):
        raise OutputError(f"{label}: give a file name such as out.mid")
    _check_name_length(p)
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):  # the directory check below says which
        st = None
    except OSError as err:
        raise OutputError(f"{label}: cannot write there ({_reason(err)})") from None
    if st is not None:
        for is_kind, kind in _KINDS:
            if is_kind(st.st_mode):
                hint = "; give a file name such as out.mid" if kind == "a directory" else ""
                raise OutputError(f"{label}: is {kind}, not a regular file{hint}")
    for src in inputs:
        if src is not None and _same_file(p, Path(src)):
            raise OutputError(f"{label}: is the input file {one_line(src)}; choose another output name")
    if st is not None:
        for src in model_files(model_dir):
            if _same_file(p, src):
                raise OutputError(f"{label}: is one of the model's files; choose another output name")
    parent = p.parent
    if not parent.is_dir():
        what = "not a directory" if parent.exists() else "no such directory"
        raise OutputError(f"{one_line(parent)}: {what}")
    try:  # os.access lies to root and on some mounts; creating a file is the real question
        fd, probe = tempfile.mkstemp(prefix=".synesthete-", suffix=".probe", dir=parent)
    except OSError as err:
        raise OutputError(f"{one_line(parent)}: cannot write a file in this directory ({_reason(err)})") from None
    os.close(fd)
    os.unlink(probe)
    return p


def atomic_write(out: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Run ``write(fh)`` on a temp file beside ``out``, fsync it and rename it over ``out``.

    On any failure the old ``out`` (if any) is untouched and no temp file is left. Raises
    ``OutputError`` for a place that cannot take the file; a full disk stays an ``OSError``.
    """
    p = Path(out)
    _check_name_length(p)
    try:
        mode = stat.S_IMODE(os.stat(p).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=".synesthete-", suffix=".part", dir=p.parent)
    except OSError as err:
        raise OutputError(f"{one_line(p)}: cannot write there ({_reason(err)})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist (yet)
        return os.path.abspath(os.path.realpath(a)) == os.path.abspath(os.path.realpath(b))


def _check_name_length(p: Path) -> None:
    parent = p.parent
    try:
        limit = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    n = len(os.fsencode(p.name))
    if limit and n > limit:
        raise OutputError(f"{one_line(p.name[:40])}...: file name is too long ({n} bytes; "
                          f"this file system allows {limit})")


def _umask() -> int:
    # Reading it without setting it: os.umask() would change it for every thread meanwhile.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__
