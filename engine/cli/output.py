"""What commands print and where they write: one JSON object or one line; outputs checked first."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..outputs import check_output_path


def emit(args, obj: dict, text: str) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(obj) + "\n")
    else:
        print(text)


def check_out(out: str, inputs=()) -> Path:
    """An output path that can be written without harming anything (not an input, not a FIFO or
    device, a writable directory), checked before any work; ``OutputError`` (exit 2) if not."""
    return check_output_path(out, inputs)
