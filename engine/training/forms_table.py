"""Make ``engine/music/forms.json``: the forms of the real songs ``--form auto`` draws from.

    python -m engine.training.forms_table        # reads POP909's training split (<data>/corpus/pop909)

Every POP909 song of the training split (``song_split.json``) gives its first annotator's form line
(``human_label1.txt``, e.g. ``i4A4B8A4A4b4B8A4``); the distinct lines are stored sorted, with the
corpus's name and licence (MIT), so the table can be made again and audited. The test and
validation songs stay out, so the songs evaluation (docs/SONGS.md) measures forms it never drew.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..music.form import FORMS_FILE
from .songs import parse_form
from .song_split import corpus_dir, split_ids


def forms(root: Path, split: str = "train") -> list[str]:
    out = set()
    for sid in split_ids(split):
        if not sid.startswith("pop909/"):
            continue
        p = root / sid / "human_label1.txt"
        if not p.is_file():
            continue
        try:
            phrases = parse_form(p.read_text())
        except ValueError:
            continue
        out.add("".join(f"{a}{n}" for a, n in phrases))
    return sorted(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.training.forms_table", description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="data directory (default: $SYNESTHETE_DATA or ../shared/data)")
    ap.add_argument("--out", default=str(FORMS_FILE))
    a = ap.parse_args(argv)
    found = forms(corpus_dir(a.data))
    doc = {"source": "POP909 (Wang et al., ISMIR 2020), MIT licence: human_label1.txt of the training split",
           "made_by": "python -m engine.training.forms_table", "forms": found}
    Path(a.out).write_text(json.dumps(doc, indent=0) + "\n")
    print(f"wrote {a.out}: {len(found)} forms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
