"""Generated reports, whole: a **record** (what a command measured) + a **template** (the curated prose) → the report.

    python -m engine.training.reports            # make every committed report again from its record and template
    python -m engine.training.reports --check    # only say which committed report differs (exit 1); tests/test_reports.py

Every report under ``docs/`` (and the model card) is made the same way, so that making it again gives
exactly the committed file and no hand-written line is lost:

- The **record** (``docs/records/NAME.json``) holds the numbers, as the command that measured them wrote
  them (``--record FILE``): the report can be made again without the data, the runs or the models. A
  command that measures one part of a report (one ``musicality_report`` run of two) stores its part under
  a name (``--record FILE --as NAME``) beside the others.
- The **template** (``docs/prose/NAME.md``) is the report's hand-written text. Where the generator puts
  something made from the record it holds a placeholder, alone on its line or inside a sentence:

  ``{{block key=value ...}}``
      a block of the template's own generator (a table, a list, a sentence), e.g. ``{{paper_table}}``;
      ``{{KIND.block ...}}`` takes a block of another generator over that generator's committed record
      (``{{musicality.table rows=defaults}}`` in RESULTS.md's template). A value with spaces is
      quoted (``name="the shipped model"``); ``systems=a,b,c`` is a list.
  ``{{= RECORD.path.to.value :format}}``
      one number of a committed record (``docs/records/RECORD.json``), with a Python format spec:
      ``{{= bench.runs.shipped.first_note_ms :.1f}}``. List items are numbered from 0. A spec that
      starts with ``−`` (U+2212) prints a negative number with a true minus sign: ``{{= ... :−+.0%}}``.

  A template may open with an HTML comment (``<!-- ... -->``): it is the template's own note and is
  not copied. Everything else is copied as it stands.
- The **generator** is the command's module (``engine.training.evaluate`` for RESULTS.md, ...): its
  ``BLOCKS`` render a record's parts, and its ``LAYOUT`` is the template a command uses when it writes a
  report of its own run alone (``--out`` anywhere else than a committed report, e.g. a candidate's).

``REPORTS`` below lists the committed reports: where each is written, its template, its generator and
its record. README.md's measured figures come from the same records: ``scripts/readme_numbers.py``
rewrites its marked regions (``<!-- numbers:NAME -->`` … ``<!-- /numbers -->``) from the regions of the
same names in ``docs/prose/readme.md``.

A record whose ``source`` says "transcribed" was written from the committed report when this scheme
began (the runs, caches and raw outputs behind it are not committed): it holds the numbers as that report
showed them, rounded, and nothing else; a command that measures again replaces it with its full output.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import re
import shlex
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
RECORDS = Path("docs/records")


@dataclass(frozen=True)
class Report:
    out: str        # the committed report, relative to the repository root
    template: str   # its curated prose with placeholders
    kind: str       # its generator (a key of KINDS)
    record: str     # the record its own blocks read


# generator name → the module holding its BLOCKS and LAYOUT (a module name, or a script's path in the repository)
KINDS = {
    "results": "engine.training.evaluate",
    "musicality": "engine.training.musicality_report",
    "songs": "engine.training.songs_report",
    "chords": "engine.training.chords_eval",
    "expression": "engine.training.expression_report",
    "calibration": "engine.training.calibrate",
    "image_va": "engine.training.va_head",
    "decoding": "engine.training.sweep",
    "bench": "scripts/bench_report.py",
    "model_card": "scripts/model_card.py",
}

REPORTS = [
    Report("docs/RESULTS.md", "docs/prose/results.md", "results", "docs/records/results.json"),
    Report("docs/MUSICALITY.md", "docs/prose/musicality.md", "musicality", "docs/records/musicality.json"),
    Report("docs/SONGS.md", "docs/prose/songs.md", "songs", "docs/records/songs.json"),
    Report("docs/CHORDS.md", "docs/prose/chords.md", "chords", "docs/records/chords.json"),
    Report("docs/EXPRESSION.md", "docs/prose/expression.md", "expression", "docs/records/expression.json"),
    Report("docs/CALIBRATION.md", "docs/prose/calibration.md", "calibration", "docs/records/calibration.json"),
    Report("docs/IMAGE_VA.md", "docs/prose/image_va.md", "image_va", "docs/records/image_va.json"),
    Report("docs/DECODING.md", "docs/prose/decoding.md", "decoding", "docs/records/decoding.json"),
    Report("docs/BENCHMARKS.md", "docs/prose/benchmarks.md", "bench", "docs/records/bench.json"),
    Report("engine/models/MODEL_CARD.md", "docs/prose/model_card.md", "model_card", "docs/records/model_card.json"),
    # earlier runs' own RESULTS.md, kept: one template, each its record
    *(Report(f"docs/results/{n}.md", "docs/prose/results_archive.md", "results", f"docs/records/results_{n}.json")
      for n in ("va03", "ft01", "ft02", "ft03_va06")),
]

PLACEHOLDER = re.compile(r"\{\{(=?)\s*([^{}]*?)\s*\}\}")
NOTE = re.compile(r"\A<!--.*?-->\n\n?", re.S)


class TemplateError(ValueError):
    """A placeholder that names no block or value, or a block that cannot be made from its record."""


# --- records -----------------------------------------------------------------------------------

def read_record(path) -> dict:
    return json.loads(Path(path).read_text())


def dumps(record: dict) -> str:
    return json.dumps(record, indent=1, ensure_ascii=False) + "\n"


def write_record(path, record: dict) -> None:
    """Write atomically (a finished record or none)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(dumps(record))
    os.replace(tmp, path)


def store_run(path, name: str, run: dict) -> dict:
    """Keep ``run`` under ``runs[name]`` in the record at ``path`` (created when missing), the other runs
    as they are; returns the whole record."""
    path = Path(path)
    record = read_record(path) if path.exists() else {}
    record.setdefault("runs", {})[name] = run
    write_record(path, record)
    return record


def committed_record(name: str, root: Path | None = None) -> dict:
    return read_record((root or ROOT) / RECORDS / f"{name}.json")


# --- templates ---------------------------------------------------------------------------------

def parse_args(text: str) -> tuple[str, dict]:
    """``name key=value key=a,b key="a value"`` → (name, {key: value}); a value with spaces is quoted."""
    name, *rest = shlex.split(text)
    args = {}
    for kv in rest:
        k, eq, v = kv.partition("=")
        if not eq:
            raise TemplateError(f"{{{{{text}}}}}: {kv!r} is not key=value")
        args[k] = v
    return name, args


def lookup(record, path: str):
    """``a.b.0.c`` inside a record (dict keys, list indices)."""
    cur = record
    for part in path.split("."):
        try:
            cur = cur[int(part)] if isinstance(cur, list) else cur[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise TemplateError(f"no {path!r} in the record (at {part!r})") from None
    return cur


def number(v, spec: str = "") -> str:
    """A value as prose quotes it: NaN and missing as "–"; a float rounded half up from the digits the
    record holds (a record transcribed from a report keeps 0.305, which prose quotes as 0.31), by the
    spec's precision (``.2f``, ``+.0%``). A spec that starts with "−" (U+2212) prints a negative number
    with that true minus sign (``−12%``)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    minus = spec.startswith("\u2212")
    spec = spec[1:] if minus else spec
    m = re.fullmatch(r"([+ -]?)\.(\d+)([f%])", spec)
    if isinstance(v, float) and m:
        sign, digits, kind = m.groups()
        d = Decimal(repr(v)) * (100 if kind == "%" else 1)
        text = format(d.quantize(Decimal(1).scaleb(-int(digits)), rounding=ROUND_HALF_UP), f"{sign}.{digits}f") + ("%" if kind == "%" else "")
    else:
        text = format(v, spec) if spec else str(v)
    return text.replace("-", "\u2212") if minus else text


def value(text: str, records: Callable[[str], dict]) -> str:
    """``RECORD.path :spec`` → the formatted value of a committed record."""
    path, _, spec = text.partition(" ")
    rec, _, inner = path.partition(".")
    return number(lookup(records(rec), inner), spec.strip().lstrip(":"))


def render(template: str, kind: str | None, record: dict | None, records: Callable[[str], dict] | None = None) -> str:
    """The report: ``template`` with its note dropped and each placeholder replaced, ``kind``'s blocks
    over ``record`` (no kind: README.md's regions), other generators' blocks and values over their
    committed records. A block alone on its line that has nothing to show (a section the record has no
    numbers for) takes its line and the blank line after it away."""
    records = records or committed_record
    own = blocks_of(kind) if kind else {}

    def one(m: re.Match) -> str:
        if m.group(1):
            return value(m.group(2), records)
        name, args = parse_args(m.group(2))
        kind_name, dot, block = name.rpartition(".")
        table, rec = (blocks_of(kind_name), records(kind_name)) if dot else (own, record)
        if block not in table:
            raise TemplateError(f"{{{{{m.group(2)}}}}}: no block {block!r} in {KINDS.get(kind_name or kind)}")
        try:
            return table[block](rec, **args)
        except (KeyError, IndexError, TypeError) as e:
            raise TemplateError(f"{{{{{m.group(2)}}}}}: the record lacks what the block needs ({type(e).__name__}: {e})") from e

    lines = NOTE.sub("", template, count=1).split("\n")
    out: list[str] = []
    skip_blank = False
    for line in lines:
        if skip_blank and line == "":
            skip_blank = False
            continue
        skip_blank = False
        alone = PLACEHOLDER.fullmatch(line.strip())
        if alone and not alone.group(1):
            text = one(alone)
            if text == "":
                skip_blank = True
                continue
            out.append(text)
        else:
            out.append(PLACEHOLDER.sub(one, line))
    return "\n".join(out)


def generator(kind: str):
    """The module of ``kind``'s generator (a script is loaded from its file once)."""
    if kind not in KINDS:
        raise TemplateError(f"no generator {kind!r} (known: {', '.join(KINDS)})")
    where = KINDS[kind]
    if not where.endswith(".py"):
        return importlib.import_module(where)
    name = f"_report_{kind}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / where)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def blocks_of(kind: str) -> dict[str, Callable[..., str]]:
    return generator(kind).BLOCKS


def layout(kind: str) -> str:
    return generator(kind).LAYOUT


def standalone(kind: str, record: dict) -> str:
    """A run's report alone: ``kind``'s own layout over ``record``, a block that has nothing to say
    leaving no run of blank lines behind."""
    text = render(layout(kind), kind, record)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"


def report_for(out) -> Report | None:
    """The committed report written at ``out``, if it is one."""
    p = Path(out).resolve()
    return next((r for r in REPORTS if (ROOT / r.out).resolve() == p), None)


def make(report: Report, root: Path | None = None) -> str:
    """A committed report, made from its committed template and record."""
    root = root or ROOT
    return render((root / report.template).read_text(), report.kind, read_record(root / report.record),
                  lambda name: committed_record(name, root))


def publish(kind: str, out, record: dict, log=print) -> str:
    """Write a command's report at ``out``: a committed report (``REPORTS``) from its template, with
    ``record`` (already stored in its committed record), else ``kind``'s own layout over ``record``."""
    rep = report_for(out)
    text = make(rep) if rep else standalone(kind, record)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(out).with_name(Path(out).name + ".part")
    tmp.write_text(text)
    os.replace(tmp, out)
    log(f"wrote {out}" + (f" from {rep.template} and {rep.record}" if rep else ""))
    return text


def record_path(out, record: str | None) -> str | None:
    """Where a command keeps its record: ``--record``, else the committed record of the report it
    writes (``--out docs/RESULTS.md`` keeps docs/records/results.json), else nowhere."""
    if record:
        return record
    rep = report_for(out) if out else None
    return str(ROOT / rep.record) if rep else None


def keep_and_publish(kind: str, run: dict, out, record: str | None = None, name: str = "latest", log=print) -> None:
    """A command's run: kept in ``record`` (default: the committed record when ``out`` is ``kind``'s
    committed report) under ``name``, then ``out`` written — the committed report from its template
    and every run of its record (a new run shows once the template names it), any other path this
    run alone."""
    keep = record_path(out, record)
    if keep:
        store_run(keep, name, run)
        log(f"kept the run as {name!r} in {keep}")
    publish(kind, out, {"runs": {name: run}}, log=log)


def drifted(root: Path | None = None) -> list[str]:
    """The committed reports that differ from what their record and template make."""
    root = root or ROOT
    return [r.out for r in REPORTS if make(r, root) != (root / r.out).read_text()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.training.reports", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 naming each report that differs")
    a = ap.parse_args(argv)
    if a.check:
        bad = drifted()
        for out in bad:
            print(f"{out}: differs from what its record and template make (python -m engine.training.reports)", file=sys.stderr)
        return 1 if bad else 0
    for r in REPORTS:
        text = make(r)
        p = ROOT / r.out
        if p.read_text() != text:
            p.write_text(text)
            print(f"wrote {r.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
