"""README.md's measured figures, made from the same records as the reports (one source, no copies).

    python scripts/readme_numbers.py            # rewrite README.md's marked regions from the records
    python scripts/readme_numbers.py --check    # only say which region differs (exit 1); tests/test_reports.py

README.md marks each paragraph or table that quotes a measurement:

    <!-- numbers:speed -->
    | figure | measured ... |
    <!-- /numbers -->

and docs/prose/readme.md holds the same regions, by name, as templates: the prose as it should read, with
``{{KIND.block ...}}`` and ``{{= RECORD.path :format}}`` placeholders over the committed records in
docs/records/ (``engine/training/reports.py``: bench.json for the speed table, musicality.json,
expression.json, image_va.json and results.json for the results paragraphs). Only the regions change;
the rest of README.md is left as it is. Edit a region's text in docs/prose/readme.md, not in README.md.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEMPLATE = ROOT / "docs" / "prose" / "readme.md"
REGION = re.compile(r"(<!-- numbers:([\w-]+) -->\n)(.*?)(<!-- /numbers -->)", re.S)


def regions(text: str) -> dict[str, str]:
    """name → the text between a region's markers."""
    found: dict[str, str] = {}
    for m in REGION.finditer(text):
        if m.group(2) in found:
            raise ValueError(f"region {m.group(2)!r} is marked twice")
        found[m.group(2)] = m.group(3)
    return found


def rendered(template: str | None = None, root: Path = ROOT) -> dict[str, str]:
    """name → the region's text as the records make it."""
    sys.path.insert(0, str(root))
    from engine.training import reports as R

    template = (root / "docs" / "prose" / "readme.md").read_text() if template is None else template
    return {name: R.render(body, None, None, lambda n: R.committed_record(n, root)) for name, body in regions(template).items()}


def update(text: str, made: dict[str, str]) -> str:
    """``text`` with each marked region's content replaced by ``made``'s; every region of one is in the other."""
    have = regions(text)
    if set(have) != set(made):
        raise ValueError(f"README.md's regions {sorted(have)} are not the template's {sorted(made)}")
    return REGION.sub(lambda m: m.group(1) + made[m.group(2)] + m.group(4), text)


def differing(root: Path = ROOT) -> list[str]:
    """The regions of README.md that differ from what the records make."""
    have, made = regions((root / "README.md").read_text()), rendered(root=root)
    return sorted(n for n in set(have) | set(made) if have.get(n) != made.get(n))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 naming each region that differs")
    a = ap.parse_args(argv)
    if a.check:
        bad = differing()
        for name in bad:
            print(f"README.md: region {name!r} differs from what docs/prose/readme.md and the records make "
                  "(python scripts/readme_numbers.py)", file=sys.stderr)
        return 1 if bad else 0
    text = README.read_text()
    new = update(text, rendered())
    if new != text:
        README.write_text(new)
        print("wrote README.md's regions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
