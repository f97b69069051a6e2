"""``data``, ``train`` and ``evaluate``: commands that need the ``[train]`` extra (torch, librosa, MusPy)."""
from __future__ import annotations

import importlib.util

from ..errors import UsageError
from ..training.args import add_arguments
from .output import emit


def add_parsers(sub) -> None:
    d = sub.add_parser("data", help="dataset counts, VA quadrants, beat tracking and pairing statistics")
    d.add_argument("--data")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_data)

    t = sub.add_parser("train", help="train a model (needs the [train] extra)")
    add_arguments(t)  # the argument list is torch-free, so --help works on a base install
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="write docs/RESULTS.md from runs/ (resumable)")
    e.add_argument("--data")
    e.add_argument("--runs", default="runs")
    e.add_argument("--out", default="docs/RESULTS.md")
    e.add_argument("--samples", type=int, default=0, help="test images to generate for (default 0 = all)")
    e.add_argument("--bars", type=int, default=8)
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
    from ..training.evaluate import run

    return run(args)
