"""What commands print and where they write: one JSON object or one line; outputs checked first."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..errors import UsageError


def emit(args, obj: dict, text: str) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(obj) + "\n")
    else:
        print(text)


def check_out(out: str, inputs=()) -> Path:
    """An output path that can be written without harming anything, checked before any work."""
    o = Path(out)
    if o.is_dir():
        raise UsageError(f"{o}: is a directory; give a file name such as out.mid")
    if not o.parent.exists():
        raise UsageError(f"{o.parent}: no such directory")
    if not os.access(o.parent, os.W_OK):
        raise UsageError(f"{o.parent}: not writable")
    return o
