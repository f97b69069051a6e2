"""``data``, ``train`` and ``evaluate``: commands that need the ``[train]`` extra (torch, librosa, MusPy)."""
from __future__ import annotations

import importlib.util

from ..errors import UsageError
from .output import emit


def add_parsers(sub) -> None:
    d = sub.add_parser("data", help="dataset counts, VA quadrants, beat tracking and pairing statistics")
    d.add_argument("--data")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_data)

    from ..training.args import add_arguments  # torch-free, so `train --help` works on a base install

    t = sub.add_parser("train", help="train a model (needs the [train] extra)")
    add_arguments(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="write docs/RESULTS.md from runs/ (resumable), or with --musicality the "
                                          "musicality report of exported models against real music")
    e.add_argument("--data")
    e.add_argument("--runs", default="runs")
    e.add_argument("--out", help="where the report goes (default: docs/RESULTS.md; with --musicality, standard output)")
    e.add_argument("--record", help="keep the numbers in this record too (default with --out docs/RESULTS.md or "
                                    "docs/MUSICALITY.md: docs/records/results.json or musicality.json; the report is made from it)")
    e.add_argument("--samples", type=int, default=0, help="test images to generate for (default 0 = all; with --songs, "
                                                           "as many as real songs)")
    e.add_argument("--bars", type=int, default=None, help="bars a piece (default 8; with --songs 32)")
    e.add_argument("--musicality", action="append", metavar="NAME=MODEL_DIR[:SETTING=VALUE,...]",
                   help="instead of RESULTS.md: each system's music against the real test music — the two-sample "
                        "test, the real-vs-real floor, the statistics by quadrant and the judge's fidelity ratio "
                        "(docs/MUSICALITY.md). An empty MODEL_DIR is the shipped model; settings as in generate, "
                        "e.g. --musicality 'shipped=' --musicality 'model alone=:spread=1,dynamics=0'. Repeatable")
    e.add_argument("--first-bar", type=int, default=1, help="with --musicality: compare from this bar on (2 leaves out the lead-in bar)")
    e.add_argument("--split", choices=("test", "val"), default="test", help="with --musicality: val is for choosing a setting")
    e.add_argument("--songs", action="store_true",
                   help="with --musicality: 32-bar pieces against the held-out real songs (POP909, Pop1K7, from their first "
                        "downbeat on 4-beat bars): form, melody and a two-sample test whose features see structure (docs/SONGS.md)")
    e.set_defaults(func=cmd_evaluate)


def needs_train_extra() -> None:
    missing = [m for m in ("torch", "librosa", "muspy") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"this command needs the [train] extra ({', '.join(missing)} missing): pip install -e '.[train]'")


def cmd_data(args) -> int:
    needs_train_extra()
    from ..training.data_report import report

    text, obj = report(args.data)
    emit(args, obj, text)
    return 0


def cmd_train(args) -> int:
    needs_train_extra()
    from ..training.train import train

    return train(args)


def cmd_evaluate(args) -> int:
    needs_train_extra()
    if getattr(args, "songs", False) and not args.musicality:
        raise UsageError("--songs compares systems: give them with --musicality NAME=MODEL_DIR[:SETTING=VALUE,...]")
    if args.bars is None:
        args.bars = 32 if getattr(args, "songs", False) else 8
    if args.musicality:
        return _songs(args) if getattr(args, "songs", False) else _musicality(args)
    from ..training.evaluate import run

    args.out = args.out or "docs/RESULTS.md"
    return run(args)


def _musicality(args) -> int:
    import sys

    from ..training.musicality_report import check_system, markdown, run, write

    for text in args.musicality:  # checked before minutes of generating, not at the system that is wrong
        check_system(text)
    if args.first_bar < 1 or args.bars < 1:
        raise UsageError("--first-bar and --bars count from 1")
    rep = run(args.data, args.musicality, args.bars, log=lambda m: print(m, file=sys.stderr),
              first_bar=args.first_bar, split=args.split)
    if args.out:  # docs/MUSICALITY.md: the run joins its record, the report keeps its prose (engine/training/reports.py)
        write(rep, args.out, getattr(args, "record", None), log=lambda m: print(m, file=sys.stderr))
    else:
        sys.stdout.write(markdown(rep))
    return 0


def _songs(args) -> int:
    import sys

    from ..training.songs_report import check_system, markdown, run, write

    for text in args.musicality:
        check_system(text)
    if args.bars < 2:
        raise UsageError("--bars: at least 2 with --songs (form compares bars)")
    if args.first_bar != 1:
        raise UsageError("--first-bar does not apply with --songs: real songs start at their first downbeat, generated pieces at bar 1")
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    rep = run(args.data, args.musicality, args.bars, max(0, args.samples), args.split, log=log)
    if args.out:  # docs/SONGS.md: the run joins docs/records/songs.json, the report keeps its prose
        write(rep, args.out, getattr(args, "record", None), log=log)
    else:
        sys.stdout.write(markdown(rep))
    return 0
