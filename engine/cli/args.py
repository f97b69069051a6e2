"""Flags → a ``GenerationSettings`` and a target VA: shared by ``generate`` and ``stream``.

The flags only name things; ``engine.request`` checks every value once and its
``SettingError`` is printed with the flag's name by ``engine.cli.main``.
"""
from __future__ import annotations

import argparse
import math

from ..errors import UsageError
from ..events import VA
from ..request import (DEFAULT_DYNAMICS, DEFAULT_SPREAD, MAX_SPREAD, MIN_SPREAD, DEFAULT_EXPRESSION, DEFAULT_VARIETY, MAX_EXPRESSION, MAX_VARIETY, parse_arc, DEFAULT_BARS, DEFAULT_FORM, DEFAULT_INTENSITY, MAX_INTENSITY, DEFAULT_TEMPERATURE, DEFAULT_TOP_P, FORMS, MAX_BARS, MAX_TEMPERATURE, MAX_TEMPO, MIN_TEMPO,
                       TEMPO_AT_NEUTRAL, TEMPO_PER_AROUSAL, GenerationSettings)


def add_generation_args(ap: argparse.ArgumentParser, *, tempo_note: str = "") -> None:
    lo, hi = TEMPO_AT_NEUTRAL - TEMPO_PER_AROUSAL, TEMPO_AT_NEUTRAL + TEMPO_PER_AROUSAL
    ap.add_argument("--bars", type=int, default=DEFAULT_BARS, metavar="N", help=f"length in 4/4 bars, 1..{MAX_BARS} (default {DEFAULT_BARS})")
    ap.add_argument("--tempo", type=float, default=None, metavar="BPM",
                    help=f"BPM, {MIN_TEMPO:g}..{MAX_TEMPO:g} (default: from the target arousal, {lo:g}..{hi:g}{tempo_note})")
    ap.add_argument("--key", default="auto", help="auto (major for positive valence, else minor; the tonic from the seed: all 24 keys), or e.g. D, F#, Bbm, Am")
    ap.add_argument("--seed", type=int, default=0, metavar="S", help="random seed, 0 or more (same seed + settings = same music)")
    ap.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE, metavar="T",
                    help=f"0 = greedy, 1 = as trained (default), up to {MAX_TEMPERATURE:g}")
    ap.add_argument("--top-p", type=float, default=DEFAULT_TOP_P, metavar="P", help=f"nucleus sampling mass in (0, 1] (default {DEFAULT_TOP_P})")
    ap.add_argument("--intensity", type=float, default=DEFAULT_INTENSITY, metavar="K",
                    help=f"how far from neutral the music goes, 0..{MAX_INTENSITY:g}: 0 neutral, 1 as the picture says, 2 twice as far (default {DEFAULT_INTENSITY:g}: chosen on validation pictures)")
    ap.add_argument("--form", default=DEFAULT_FORM, choices=FORMS,
                    help=f"free, or phrases: every second 4-bar phrase restates the one before with a new last bar (default {DEFAULT_FORM})")
    ap.add_argument("--humanize", type=float, default=0.0, metavar="H",
                    help="0..1: a player's timing and touch (0 = exactly on the grid, default; 1 = a few to a few tens of ms, "
                         "accents, rolled chords); seeded, so the same seed gives the same file")
    ap.add_argument("--arc", metavar="V,A;V,A;...",
                    help="an emotion arc: valence,arousal points spread evenly from the first bar to the last, "
                         "linear in between (e.g. --arc='-0.8,-0.8;0.8,0.8', quoted for the shell, goes from sad to excited)")
    ap.add_argument("--scale-lock", action="store_true", help="keep every pitch in the key's scale")
    ap.add_argument("--expression", type=float, default=DEFAULT_EXPRESSION, metavar="K",
                    help=f"how strongly each bar's arousal shapes velocity, and a change of arousal (an arc, steering) "
                         f"shapes density, 0..{MAX_EXPRESSION:g} (0 = off; default {DEFAULT_EXPRESSION:g})")
    ap.add_argument("--variety", type=float, default=DEFAULT_VARIETY, metavar="K",
                    help=f"how far this piece's density and loudness may depart from its mood's, 0..{MAX_VARIETY:g} "
                         f"(0 = every piece of a mood alike; 1 = as much as real music varies; seeded; default {DEFAULT_VARIETY:g})")
    ap.add_argument("--dynamics", type=float, default=DEFAULT_DYNAMICS, metavar="K",
                    help=f"0..1: how far each note's loudness moves inside its velocity bin toward the running loudness "
                         f"of the line, so neighbouring notes do not jump a whole bin (0 = the bins' centres; default {DEFAULT_DYNAMICS:g})")
    ap.add_argument("--spread", type=float, default=DEFAULT_SPREAD, metavar="K",
                    help=f"{MIN_SPREAD:g}..{MAX_SPREAD:g}: how evenly each note is drawn over the octaves, its pitch class "
                         f"(key, chord) kept as the model chose it (1 = the model's own register, narrower than real "
                         f"music's; default {DEFAULT_SPREAD:g})")
    ap.add_argument("--valence", type=float, metavar="V", help="override the image's valence, in [-1, 1] (needs --arousal)")
    ap.add_argument("--arousal", type=float, metavar="A", help="override the image's arousal, in [-1, 1] (needs --valence)")
    ap.add_argument("--model-dir", help="ONNX model directory (default: the shipped model)")


def override_va(args) -> VA | None:
    """The VA given by ``--valence/--arousal``, or None to use the picture's."""
    if (args.valence is None) != (args.arousal is None):
        raise UsageError("--valence and --arousal go together")
    if args.valence is not None and getattr(args, "arc", None):
        raise UsageError("--arc already gives the emotion: leave out --valence/--arousal")
    if args.valence is None:
        return None
    for name in ("valence", "arousal"):
        v = getattr(args, name)
        if not (math.isfinite(v) and -1 <= v <= 1):
            raise UsageError(f"--{name} must be in [-1, 1] (received {v})")
    return VA(args.valence, args.arousal)


def settings_from(args) -> GenerationSettings:
    return GenerationSettings(bars=args.bars, tempo=args.tempo, key=args.key, seed=args.seed,
                              temperature=args.temperature, top_p=args.top_p, form=args.form,
                              intensity=args.intensity, humanize=args.humanize, arc=parse_arc(args.arc) if args.arc is not None else (),
                              scale_lock=args.scale_lock, expression=args.expression, variety=args.variety,
                              dynamics=args.dynamics, spread=args.spread)
