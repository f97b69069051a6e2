"""Flags → a ``GenerationSettings`` and a target VA: shared by ``generate`` and ``stream``.

Every generation flag is made from its row in ``engine.settings.SETTINGS`` (name, type, help,
metavar, choices); the flags only name things, and ``GenerationSettings`` checks every value once.
Its ``SettingError`` is printed with the flag's name by ``engine.cli.main``.
"""
from __future__ import annotations

import argparse
import math

from ..errors import UsageError
from ..events import VA
from ..settings import SETTINGS, GenerationSettings


def add_generation_args(ap: argparse.ArgumentParser, *, tempo_note: str = "") -> None:
    for s in SETTINGS:
        help_text = s.help + (tempo_note if s.name == "tempo" else "")
        if s.kind is bool:
            ap.add_argument(s.flag, action="store_true", help=help_text)
        elif s.parse is not None or s.kind is str:  # text, checked (and parsed) with the others
            # a row with its own check takes more than its choices (a written form): the check decides
            ap.add_argument(s.flag, default=None if s.parse else s.default, metavar=s.metavar,
                            choices=None if s.check else (s.choices or None), help=help_text)
        else:
            ap.add_argument(s.flag, type=s.kind, default=s.default, metavar=s.metavar, help=help_text)
    ap.add_argument("--valence", type=float, metavar="V", help="override the image's valence, in [-1, 1] (needs --arousal)")
    ap.add_argument("--arousal", type=float, metavar="A", help="override the image's arousal, in [-1, 1] (needs --valence)")
    ap.add_argument("--model-dir", help="ONNX model directory (default: the shipped model)")


def override_va(args) -> VA | None:
    """The VA given by ``--valence/--arousal``, or None to use the picture's."""
    if (args.valence is None) != (args.arousal is None):
        raise UsageError("--valence and --arousal go together")
    if args.valence is not None and getattr(args, "arc", None) is not None:
        raise UsageError("--arc already gives the emotion: leave out --valence/--arousal")
    if args.valence is None:
        return None
    for name in ("valence", "arousal"):
        v = getattr(args, name)
        if not (math.isfinite(v) and -1 <= v <= 1):
            raise UsageError(f"--{name} must be in [-1, 1] (received {v})")
    return VA(args.valence, args.arousal)


def settings_from(args) -> GenerationSettings:
    values = {}
    for s in SETTINGS:
        v = getattr(args, s.name)
        values[s.name] = s.parse(v) if s.parse is not None and v is not None else (s.default if v is None else v)
    return GenerationSettings(**values)
