"""``synesthete`` — the command line (docs/DESIGN.md, Command line; binding).

The commands only map flags to engine calls; this module maps what goes wrong to exit codes,
once: 0 success, 2 bad input or arguments (one line on stderr, never a traceback), 1 other
failures (a model or MIDI port that fails), 130 interrupted. With ``--json`` stdout holds
exactly one JSON object; logs and progress go to stderr. A failed command leaves no partial
output file (writes are atomic).
"""
from __future__ import annotations

import argparse
import logging
import sys

from ..errors import ModelError, SettingError, UsageError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors → our one-line exit 2
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    from . import live, pieces, serve, training

    ap = _Parser(prog="synesthete", description="Picture → emotion (valence/arousal) → MIDI, live into your DAW or as a .mid file.")
    ap.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    pieces.add_parsers(sub)
    training.add_parsers(sub)
    live.add_parsers(sub)
    serve.add_parsers(sub)  # the plugin's engine service (docs/PLUGIN.md)
    return ap


def _user_errors() -> tuple[type, ...]:
    """Exceptions that mean the input was bad (exit 2). Imported lazily: each lives with its module."""
    from ..files.midi_io import MidiError
    from ..live.ports import PortNotFound
    from ..picture.images import ImageError

    return (UsageError, ImageError, MidiError, PortNotFound, FileNotFoundError)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="synesthete: %(message)s", stream=sys.stderr)
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "verbose", False):
            logging.getLogger().setLevel(logging.INFO)
        return int(args.func(args) or 0)
    except SettingError as e:
        print(f"error: {e.as_flag()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # noqa: BLE001 - the user gets one line; details with -v
        from ..live.ports import PortError

        if isinstance(e, _user_errors()):
            print(f"error: {_one_line(e)}", file=sys.stderr)
            return 2
        if isinstance(e, (ModelError, PortError)):
            print(f"error: {_one_line(e)}", file=sys.stderr)
            return 1
        if logging.getLogger().level <= logging.INFO:
            raise
        print(f"error: {type(e).__name__}: {_one_line(e) if str(e) else ''} (run with -v for details)", file=sys.stderr)
        return 1
