"""``synesthete`` — the command line (DESIGN.md, Command line; binding).

Exit codes: 0 success, 2 bad input or arguments (one line on stderr, never a traceback),
1 other failures. With ``--json`` stdout holds exactly one JSON object; logs and progress
go to stderr. A failed command leaves no partial output file (writes are atomic).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path

from .errors import UsageError
from .sampling import MAX_BARS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors → our one-line exit 2
        raise UsageError(f"{self.prog}: {message}")


def _va_args(ap) -> None:
    ap.add_argument("--valence", type=float, help="override the image's valence, in [-1, 1] (needs --arousal)")
    ap.add_argument("--arousal", type=float, help="override the image's arousal, in [-1, 1] (needs --valence)")


def _gen_args(ap) -> None:
    ap.add_argument("--bars", type=int, default=8, help=f"length in 4/4 bars, 1..{MAX_BARS} (default 8)")
    ap.add_argument("--tempo", type=float, default=None, help="BPM, 20..300 (default: from the target arousal, 72..144)")
    ap.add_argument("--key", default="auto", help="auto (major for positive valence: C, else A minor), or e.g. D, F#, Bbm, Am")
    ap.add_argument("--seed", type=int, default=0, help="random seed (same seed + settings = same music)")
    ap.add_argument("--temperature", type=float, default=1.0, help="0 = greedy, 1 = as trained (default), up to 5")
    ap.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass (default 0.95)")
    ap.add_argument("--model-dir", help="ONNX model directory (default: the shipped model)")
    _va_args(ap)


def override_va(args):
    from .events import VA

    if (args.valence is None) != (args.arousal is None):
        raise UsageError("--valence and --arousal go together")
    if args.valence is None:
        return None
    for name in ("valence", "arousal"):
        v = getattr(args, name)
        if not (math.isfinite(v) and -1 <= v <= 1):
            raise UsageError(f"--{name} must be in [-1, 1] (received {v})")
    return VA(args.valence, args.arousal)


def default_tempo(arousal: float) -> float:
    """Calm pictures get slower music: 72 BPM at arousal -1, 108 at 0, 144 at +1."""
    return float(round(108 + 36 * max(-1.0, min(1.0, arousal))))


def check_generation_args(args) -> None:
    """Range checks shared by ``generate`` and ``stream``: exit 2 with the flag's name.
    (``--tempo`` may be None: it then follows the target arousal.)"""
    if not (1 <= args.bars <= MAX_BARS):
        raise UsageError(f"--bars must be in 1..{MAX_BARS} (received {args.bars})")
    if args.tempo is not None and not (math.isfinite(args.tempo) and 20 <= args.tempo <= 300):
        raise UsageError(f"--tempo must be in 20..300 BPM (received {args.tempo})")
    if not (math.isfinite(args.temperature) and 0 <= args.temperature <= 5):
        raise UsageError(f"--temperature must be in 0..5 (received {args.temperature})")
    top_p = getattr(args, "top_p", 0.95)
    if not (0 < top_p <= 1):
        raise UsageError(f"--top-p must be in (0, 1] (received {top_p})")


def settings_from(args, target_arousal: float):
    from .runtime import GenerationSettings

    check_generation_args(args)
    tempo = args.tempo if args.tempo is not None else default_tempo(target_arousal)
    try:
        return GenerationSettings(bars=args.bars, tempo=tempo, key=args.key, seed=args.seed, temperature=args.temperature,
                                  top_p=getattr(args, "top_p", 0.95))
    except ValueError as e:
        raise UsageError(str(e)) from None


def _emit(args, obj: dict, text: str) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(obj) + "\n")
    else:
        print(text)


def _runtime(args):
    from .runtime import Runtime

    return Runtime.load(getattr(args, "model_dir", None))


def _check_image_path(p: str) -> None:
    if not Path(p).exists():
        raise UsageError(f"{p}: no such file")


def _check_out(out: str) -> Path:
    o = Path(out)
    if o.is_dir():
        raise UsageError(f"{o}: is a directory; give a file name such as out.mid")
    if not o.parent.exists():
        raise UsageError(f"{o.parent}: no such directory")
    if not os.access(o.parent, os.W_OK):
        raise UsageError(f"{o.parent}: not writable")
    return o


# --- commands ------------------------------------------------------------------------------


def cmd_generate(args) -> int:
    from .images import ImageError
    from .midi_io import write_midi

    out = _check_out(args.out)
    _check_image_path(args.image)
    va_override = override_va(args)
    rt = _runtime(args)
    try:
        image_va = rt.image_va(args.image)
    except ImageError as e:
        raise UsageError(str(e)) from None
    target = va_override or image_va
    s = settings_from(args, target.arousal)
    piece = rt.compose(s, target)
    meta = {"image": Path(args.image).name, "bars": s.bars, "tempo": s.tempo, "key": piece.key, "seed": s.seed,
            "temperature": s.temperature, "top_p": s.top_p, "valence": target.valence, "arousal": target.arousal,
            "model": rt.sidecar.get("training", {}).get("data_hash")}
    path = write_midi(piece.notes, out, tempo=s.tempo, key=piece.key, settings=meta, bars=s.bars)
    obj = {"path": str(path), "image_va": image_va.as_dict(), "target_va": target.as_dict(), "notes": len(piece.notes),
           "seconds": round(piece.seconds, 3), "bars": s.bars, "tempo": s.tempo, "key": piece.key, "seed": s.seed}
    _emit(args, obj, f"wrote {path}: {len(piece.notes)} notes, {s.bars} bars at {s.tempo:g} BPM in {piece.key} "
          f"(image VA {image_va.valence:+.2f}/{image_va.arousal:+.2f}, target {target.valence:+.2f}/{target.arousal:+.2f}, {target.mood})")
    return 0


def cmd_va(args) -> int:
    from .images import ImageError

    _check_image_path(args.image)
    rt = _runtime(args)
    try:
        va = rt.image_va(args.image)
    except ImageError as e:
        raise UsageError(str(e)) from None
    obj = {**va.as_dict(), "quadrant": va.quadrant}
    _emit(args, obj, f"valence {va.valence:+.3f}  arousal {va.arousal:+.3f}  quadrant Q{va.quadrant} ({va.mood})")
    return 0


def cmd_music_va(args) -> int:
    from .events import NoteEvent
    from .judge import Judge
    from .midi_io import MidiError, read_midi

    try:
        piece = read_midi(args.midi)
    except MidiError as e:
        raise UsageError(str(e)) from None
    notes = [NoteEvent(n.pitch, n.velocity, n.start_beat, n.end_beat - n.start_beat) for n in piece.notes]
    v = Judge.load().verdict(notes)
    from .events import QUADRANT_NAMES

    _emit(args, v, f"valence {v['valence']:+.3f}  arousal {v['arousal']:+.3f}  quadrant Q{v['quadrant']} ({QUADRANT_NAMES[v['quadrant']]})")
    return 0


def cmd_data(args) -> int:
    _needs_train_extra()
    from .data_report import report

    try:
        text, obj = report(args.data)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    _emit(args, obj, text)
    return 0


def _needs_train_extra():
    import importlib.util

    missing = [m for m in ("torch", "librosa", "muspy") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"this command needs the [train] extra ({', '.join(missing)} missing): pip install -e '.[train]'")


def cmd_train(args) -> int:
    _needs_train_extra()
    from .train import train

    try:
        return train(args)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None


def cmd_evaluate(args) -> int:
    _needs_train_extra()
    from .evaluate import run

    return run(args)


def cmd_bench(args) -> int:
    from .bench import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="synesthete", description="Picture → emotion (valence/arousal) → MIDI, live into your DAW or as a .mid file.")
    ap.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)

    g = sub.add_parser("generate", help="compose a .mid file from an image")
    g.add_argument("image")
    g.add_argument("-o", "--out", required=True, help="output .mid file")
    _gen_args(g)
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=cmd_generate)

    v = sub.add_parser("va", help="an image's valence/arousal")
    v.add_argument("image")
    v.add_argument("--model-dir")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_va)

    m = sub.add_parser("music-va", help="a MIDI file's valence/arousal (the judge)")
    m.add_argument("midi")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_music_va)

    d = sub.add_parser("data", help="dataset counts, VA quadrants, beat tracking and pairing statistics")
    d.add_argument("--data")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_data)

    from .train_args import add_arguments

    t = sub.add_parser("train", help="train a model (needs the [train] extra)")
    add_arguments(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="write docs/RESULTS.md from runs/ (resumable)")
    e.add_argument("--data")
    e.add_argument("--runs", default="runs")
    e.add_argument("--out", default="docs/RESULTS.md")
    e.add_argument("--samples", type=int, default=0, help="test images to generate for (default 0 = all)")
    e.add_argument("--bars", type=int, default=8)
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("bench", help="speed and memory figures")
    b.add_argument("--json", action="store_true")
    b.add_argument("--image", help="image to time (default: the example photo)")
    b.add_argument("--checkpoint", help="PyTorch checkpoint with the same weights (default: runs/main/ckpt.pt if present)")
    b.add_argument("--repeats", type=int, default=5)
    b.set_defaults(func=cmd_bench)

    try:
        from .cli_live import add_parsers

        add_parsers(sub)
    except ImportError:  # pragma: no cover - live MIDI needs python-rtmidi, part of the base install
        pass
    return ap


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="synesthete: %(message)s", stream=sys.stderr)
    try:
        ap = build_parser()
        args = ap.parse_args(argv)
        if getattr(args, "verbose", False):
            logging.getLogger().setLevel(logging.INFO)
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # noqa: BLE001 - the user gets one line; details with -v
        from .runtime import ModelError

        if isinstance(e, (ModelError, FileNotFoundError)):
            print(f"error: {e}", file=sys.stderr)
            return 2 if isinstance(e, FileNotFoundError) else 1
        if logging.getLogger().level <= logging.INFO:
            raise
        print(f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} (run with -v for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
