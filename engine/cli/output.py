"""What commands print: one JSON object with --json, else one line."""
from __future__ import annotations

import json
import sys


def emit(args, obj: dict, text: str) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(obj) + "\n")
    else:
        print(text)

