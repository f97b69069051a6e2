"""Generated reports, made whole from a record and a template (engine/training/reports.py).

1. Drift: every committed report (docs/RESULTS.md, MUSICALITY.md, SONGS.md, EXPRESSION.md, CALIBRATION.md,
   IMAGE_VA.md, DECODING.md, BENCHMARKS.md, docs/results/*.md, engine/models/MODEL_CARD.md) is byte for
   byte what its committed record (docs/records/) and template (docs/prose/) make, and so are README.md's
   marked regions: a hand edit to a report, or a record that moved without its report, fails here.
2. Each generator on small fixture records built here (by the commands' own code where that is cheap):
   its own layout's headings and tables, and a template's curated prose copied as it stands around them.
3. The machinery: placeholders, values as prose quotes them, a run kept beside the others, publishing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.training import reports as R
from fixtures import needs_train_extra

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import readme_numbers  # noqa: E402


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


# --- 1. the committed reports are what their records and templates make ---------------------------

@pytest.mark.parametrize("report", R.REPORTS, ids=[r.out for r in R.REPORTS])
def test_a_committed_report_is_what_its_record_and_template_make(report):
    made = R.make(report)
    assert made == (ROOT / report.out).read_text(), (
        f"{report.out} differs from what {report.template} and {report.record} make: edit the template (prose) or "
        f"re-measure into the record, then `python -m engine.training.reports`")


def test_readmes_measured_figures_are_what_the_records_make():
    assert readme_numbers.differing() == [], ("README.md's marked regions differ from docs/prose/readme.md over the records: "
                                              "python scripts/readme_numbers.py")


def test_every_report_has_a_template_and_a_record_and_every_record_a_report():
    templates = {r.template for r in R.REPORTS} | {"docs/prose/readme.md"}
    records = {r.record for r in R.REPORTS}
    assert {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / "prose").glob("*.md")} == templates
    assert {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / "records").glob("*.json")} == records
    for r in R.REPORTS:  # each report names where its numbers and its prose live
        assert (ROOT / r.template).read_text().startswith("<!-- ")


def test_readmes_regions_quote_the_records_of_the_speed_table_and_the_results():
    text = (ROOT / "README.md").read_text()
    regions = readme_numbers.regions(text)
    assert {"speed", "musicality", "default_path", "arc", "ablations"} <= set(regions)
    bench = R.committed_record("bench")["runs"]["shipped"]["bench"]
    assert f"| ONNX Runtime tokens/s (1 decoder thread) | {bench['ort_tokens_per_s']:.0f} |" in regions["speed"]
    bench_md = (ROOT / "docs" / "BENCHMARKS.md").read_text()
    for figure in (f"{bench['first_note_ms']:.1f} ms", f"{bench['realtime_factor']:.1f}", f"{bench['image_encoder_ms']:.1f} ms"):
        assert figure in regions["speed"] and figure in bench_md
    shipped = R.committed_record("musicality")["runs"]["defaults"]["systems"][1]["two_sample"]
    assert f"{shipped['mean']:.3f} ± {shipped['std']:.3f}" in regions["musicality"]
    assert f"{shipped['mean']:.3f} ± {shipped['std']:.3f}" in (ROOT / "docs" / "MUSICALITY.md").read_text()


# --- 2. each generator on fixture records ------------------------------------------------------------

PROSE = "A curated paragraph, kept as written: 0.5 is a typed number."


def with_prose(layout: str) -> str:
    """A template: the generator's own layout with a note and a curated paragraph after its first line."""
    first, rest = layout.split("\n", 1)
    return f"<!-- a note for whoever edits this; not copied -->\n\n{first}\n\n{PROSE}\n{rest}"


def check_prose(kind: str, record: dict) -> str:
    text = R.render(with_prose(R.layout(kind)), kind, record)
    assert PROSE in text and "a note for whoever" not in text and "{{" not in text
    return text


def test_calibration_report_from_a_fixture_fit():
    from engine.training.calibrate import markdown, report

    rng = np.random.default_rng(0)
    labels = rng.uniform(-0.8, 0.8, (20, 2))
    before, after = report(labels * 0.5, labels), report(labels * 0.9, labels)
    rec = {"n_val": 12, "n_test": 20, "before": before, "after": after}
    text = markdown(rec, "engine/models", True)
    assert headings(text) == ["# Image-VA calibration"]
    assert "fitted on 12 validation pictures, measured on 20 test pictures. Applied" in text
    assert next(line for line in text.splitlines() if line.startswith("| | VA MAE |")).count("|") == 9
    assert "| before | " in text and "| after | " in text
    assert "End to end" not in text and not text.endswith("\n\n")  # no --music: no line, no blank run
    rec.update(music={k: {"va_mae": 0.3, "va_mae_shuffled": 0.4, "ratio": 0.75} for k in ("before", "after")}, n_music=20,
               model_dir="m", applied=False)
    text = check_prose("calibration", rec)
    assert "--music 20`" in text and "Not applied (dry run)" in text and "ratio to shuffled labels 0.750 → 0.750" in text


def test_image_va_report_marks_the_chosen_head():
    rows = [{"features": "the encoder's own VA head", "alpha": None, "n": None, "chosen": False},
            {"features": "backbone pooled", "alpha": 10.0, "n": 1280, "chosen": True},
            {"features": "colour statistics", "alpha": 1.0, "n": 10, "chosen": False}]
    for i, r in enumerate(rows):
        r.update({f"{s}_{k}": 0.1 * i + 0.2 for s in ("val", "test") for k in ("mae", "rho_valence", "rho_arousal")})
    rec = {"seconds": 3, "n": {"train": 10, "val": 4, "test": 5}, "alphas": [1.0, 10.0], "rows": rows,
           "by_source": {"emotion6": {"n": 3, "mae": 0.2, "rho_valence": 0.5, "rho_arousal": 0.1},
                         "oasis": {"n": 2, "mae": 0.1, "rho_valence": 0.6, "rho_arousal": 0.6}}}
    text = check_prose("image_va", rec)
    assert "| **backbone pooled** | 1280 | 10.0 |" in text and "| the encoder's own VA head | – | – |" in text
    assert "| oasis | 2 | 0.100 | 0.600 | 0.600 |" in text and "from (1.0, 10.0)" in text
    assert R.blocks_of("image_va")["chosen"](rec, key="test_rho_arousal", spec=".2f") == "0.30"


def test_decoding_report_marks_the_chosen_setting():
    from engine.training.sweep import SHOWN, markdown

    stats = {k: 1.0 for k in SHOWN}
    rows = [{"settings": {"temperature": t, "top_p": 0.95, "form": "free"}, "two_sample": 0.7 + t / 10, "two_sample_std": 0.05,
             "fidelity": {"ratio": 0.6}, "stats": stats} for t in (1.0, 0.9)]
    res = {"n_images": 6, "n_real": 5, "bars": 4, "seconds": 90, "rows": rows, "real": stats, "floor": 0.5, "chosen": rows[1]["settings"]}
    text = markdown(res)
    assert headings(text) == ["# Decoding sweep"] and "Sweep time 1.5 min." in text
    assert "| 0.9 | 0.95 | free **(chosen)** |" in text and "| 1.0 | 0.95 | free |" in text
    assert "Chosen: {'temperature': 0.9, 'top_p': 0.95, 'form': 'free'}." in text
    del res["seconds"]
    assert "Sweep time" not in check_prose("decoding", res)


def test_expression_report_from_its_own_measure(monkeypatch, tmp_path):
    """The record ``expression_report.measure`` writes (with the model and data stubbed) renders every table."""
    from engine.training import expression_report as X

    point = {"rho_arousal_notes": 0.2, "rho_arousal_velocity": 0.3, "rho_valence_major": 0.4, "fidelity_ratio": 0.7,
             "va_mae": 0.3, "notes_per_bar": 15.0, "empty_bars": 0.0}
    monkeypatch.setattr(X, "data_dir", lambda data: tmp_path)
    monkeypatch.setattr(X, "test_images", lambda root, n, split: list(range(12)))
    monkeypatch.setattr(X.Runtime, "load", staticmethod(lambda model_dir=None: None))
    monkeypatch.setattr(X, "default_path", lambda *a, **k: dict(point))
    monkeypatch.setattr(X, "arc_response", lambda *a, **k: {"arc_rho_density": 0.9, "arc_rho_velocity": 0.8, "arc_pieces": 8})
    monkeypatch.setattr(X, "real_bar_response", lambda root: {"real_rho_density": 0.26, "real_rho_velocity": 0.17, "real_pieces": 9})
    a = argparse.Namespace(data=None, model_dir=None, strengths=[0.0, 1.0], tempo=110.0, bars=8, n=0, split="test", arc_pictures=2,
                           arc_seeds=4, intensities=[1.0, 2.0], varieties=None, fixed_seeds=[0, 1])
    run = X.measure(a)
    R.write_record(tmp_path / "expression.json", {"runs": {"t": run}})
    rec = R.read_record(tmp_path / "expression.json")  # through JSON, as a committed record is read
    text = check_prose("expression", rec)
    assert headings(text) == ["# Arousal in the notes (expression strength)"]
    assert "on 12 test pictures" in text and "8 pieces (2 pictures × 4 seeds)" in text
    assert "| 0 | 0.200 | 0.300 | 0.400 | 0.700 | 15.0 | 0.000 | 0.90 | 0.80 |" in text
    assert "| intensity |" in text and "| seed for every picture |" in text and "| variety |" not in text
    assert "in the 9 VGMIDI pieces" in text
    table = R.blocks_of("expression")["defaults_table"](rec)
    assert "| one seed per picture | 0.200 | 0.300 | 0.400 | 0.700 | 15.0 |" not in table  # ties with the seeds: best, so bold
    assert "| one seed per picture | **0.200** | **0.300** | **0.400** | **0.700** | 15.0 |" in table
    assert "| seed 1 for every picture | 0.200 |" in table
    assert R.blocks_of("expression")["path_cells"](rec, point="by_seed.1", bold="rho_valence_major") == "0.700 | 0.200 | 0.300 | **0.400**"


@needs_train_extra  # scikit-learn's random forest
def test_musicality_report_from_a_fixture_comparison(tmp_path):
    pytest.importorskip("sklearn")
    from engine.events import NoteEvent
    from engine.training import musicality as M
    from engine.training import musicality_report as MR

    rng = np.random.default_rng(0)

    def piece(lo):
        return [NoteEvent(int(rng.integers(lo, lo + 24)), 80, b / 2, 0.5) for b in range(16)]

    real, gen = [piece(48) for _ in range(8)], [piece(60) for _ in range(8)]
    vas = [(0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5), (0.5, -0.5)] * 2
    res = M.compare(real, gen, 2, real_vas=vas, generated_vas=vas, folds=2, repeats=1, floor_splits=1, trees=10)
    res.update(name="fixture system", settings={}, fidelity={"va_mae": 0.3, "va_mae_shuffled": 0.4, "ratio": 0.75}, meets=MR.meets(res))
    rep = {"bars": 2, "first_bar": 1, "split": "test", "n_real": 8, "systems": [res], "real": res["real"], "floor": res["floor"]}
    MR.write(rep, tmp_path / "MUSICALITY.md", str(tmp_path / "musicality.json"), "first", log=lambda m: None)
    text = (tmp_path / "MUSICALITY.md").read_text()  # not a committed report: the run alone, in the generator's layout
    assert headings(text) == ["# Musicality", "## Every statistic, and by quadrant (fixture system)"]
    assert "| real test music | – | – |" in text and "| fixture system | " in text and "- fixture system: two_sample" in text
    assert "By quadrant (real / generated means):" in text and "Q3 sad (n=2/2)" in text
    rec = R.read_record(tmp_path / "musicality.json")  # by_quadrant's keys come back as strings
    MR.write(rep, tmp_path / "other.md", str(tmp_path / "musicality.json"), "second", log=lambda m: None)
    rec = R.read_record(tmp_path / "musicality.json")
    assert list(rec["runs"]) == ["first", "second"]
    text = R.render("{{table rows=first,second.0 bold=second.0}}\n\n{{statistics row=first.0}}\n", "musicality", rec)
    assert text.count("| fixture system |") == 1 and text.count("| **fixture system** |") == 1
    assert "| notes below middle C |" in text and "Q1 excited" in text


@needs_train_extra  # scikit-learn's random forest
def test_songs_report_from_a_fixture_run():
    pytest.importorskip("sklearn")
    from test_songs_report import fixture_run

    rec = json.loads(R.dumps({"runs": {"a": fixture_run("fixture system", True)}}))  # as kept
    text = check_prose("songs", rec)
    assert headings(text) == ["# Songs (16 bars)", "## Form", "## Melody (the top line)", "## Register", "## Similarity by lag", "## Two-sample test"]
    assert "| fixture system | 6 |" in text and "| real vs real (floor) |" in text and "What gives fixture system away" in text


def evaluate_record(tmp_path) -> dict:
    from engine.training import evaluate as E

    data = tmp_path / "data"
    data.mkdir()
    (data / "images.csv").write_text("")
    (data / "midi.csv").write_text("")

    def result(va_mae, backbone="efficientnet_lite0", mb=24.4, **kw):
        return {**{k: 0.5 for k in E.METRICS}, "notes_per_piece": 90.0, "n": 4, "va_mae": va_mae, "va_mae_shuffled": va_mae + 0.1,
                "quadrant_acc": 0.5, "spearman_arousal_density": 0.4, "spearman_arousal_velocity": 0.6, "spearman_valence_major": 0.5,
                "token_error_rate": 0.0, "image_va_mae": 0.23, "image_va_quadrant_acc": 0.45,
                "e2e": {"va_mae": va_mae + 0.05, "va_mae_shuffled": va_mae + 0.1, "quadrant_acc": 0.4}, "backbone": backbone,
                "decoder": "transformer", "layers": 3, "onnx_mb": {"image_encoder.onnx": mb}, "train_minutes": 50.0, "val_ce": 2.0,
                "val_image_va_l1": 0.22, "device": None, **kw}

    results = {"reference": {**{k: 0.6 for k in E.METRICS}, "notes_per_piece": 120.0, "n": 4, "va_mae": 0.3, "va_mae_shuffled": 0.45,
                             "quadrant_acc": 0.5, "spearman_arousal_density": 0.5, "spearman_arousal_velocity": 0.6,
                             "spearman_valence_major": 0.4, "image_va_mae_mean_baseline": 0.29},
               "main": result(0.24), "no_va_loss": result(0.32), "vgg16": result(0.26, "vgg16", 69.2),
               "lstm": result(0.2, decoder="lstm", onnx_mb=None, device="one NVIDIA H200 GPU")}
    judge = argparse.Namespace(info={k: {"va_mae": 0.3, "valence_acc": 0.7, "arousal_acc": 0.8, "quadrant_acc": 0.5, "n": 9}
                                     for k in ("test", "test_emopia_only", "test_mean_baseline")}
                               | {"emopia_published_classifier": {"valence_acc": 0.833, "arousal_acc": 0.882, "quadrant_acc": 0.684}})
    args = argparse.Namespace(data=str(data), runs=str(tmp_path / "runs"), out="x.md", samples=4, bars=8)
    return E.make_record(results, {"main": 600.0, "lstm": 60.0}, [0] * 4, [0] * 3, judge, args, False, 6.0, "0.5.0", "2.x")


def test_results_report_from_a_fixture_record(tmp_path):
    rec = evaluate_record(tmp_path)
    rec = json.loads(R.dumps(rec))  # as kept
    text = check_prose("results", rec)
    assert headings(text) == ["# Results", "## Setup", "## The paper's table (MusPy)", "## Emotion fidelity (independent judge)",
                              "## From the picture, end to end (backbones)", "## Training", "## The judge on the test split"]
    assert "- Command: `synesthete evaluate --runs" in text and "Generation and judging took 11.0 min" in text
    assert "| real test MIDI (reference) | 0.6000 |" in text and "| LSTM baseline | 0.5000 |" in text and "| 0.7818 |" in text
    assert "**VA loss vs none.**" in text and "**Transformer vs LSTM.**" in text and "the LSTM (same data, tokens, VA loss and preset) beats" in text
    assert "**Backbone choice.** Among main (efficientnet_lite0), vgg16 (vgg16)" in text and "Over the budget in fp32: vgg16 (69.2 MB)" in text
    assert "| lstm | one NVIDIA H200 GPU |" in text and "| main | 2 CPU cores | 50.0 |" in text
    assert "Not yet trained (queued in `scripts/train_all.sh`, resumable): va03," in text
    # a template picks the systems of each table, in its order; a section without numbers leaves nothing behind
    shown = R.render("{{paper_table systems=reference,vgg16,main}}\n\n{{depth}}\n\n{{training systems=main}}\n", "results", rec)
    rows = [line.split(" | ")[0] for line in shown.splitlines() if line.startswith("| ") and "0.5000" in line]
    assert rows == ["| VGG16 backbone", "| Transformer + VA loss (EfficientNet-Lite0, 3 layers) — shipped until va03"]
    assert "## Decoder depth" not in shown and "\n\n\n" not in shown and "Not yet trained" not in shown
    # a hand-named summary row: its cells from the record (the reference has no ratio), bold where the template says
    row = R.render("| shipped | {{summary_cells system=main bold=quadrant_acc}} |\n| real | {{summary_cells system=reference}} |", "results", rec)
    assert row.splitlines()[0] == "| shipped | 0.500 | 0.500 | 90 | 0.240 (0.340) | 0.706 | **0.500** | 0.400 | 0.600 | 0.500 |"
    assert row.splitlines()[1].startswith("| real | 0.600 | 0.600 | 120 | 0.300 (0.450) | – |")


def test_an_evaluate_record_keeps_runs_evaluated_elsewhere(tmp_path):
    from engine.training.evaluate import merge_record

    old = evaluate_record(tmp_path)
    old["results"]["ft03_va06"] = dict(old["results"]["main"])
    old["labels"]["ft03_va06"] = "shipped"
    new = json.loads(R.dumps(old))
    del new["results"]["ft03_va06"], new["labels"]["ft03_va06"]
    new["results"]["main"]["va_mae"] = 0.1
    merged = merge_record(old, new)
    assert merged["results"]["ft03_va06"] == old["results"]["ft03_va06"] and merged["labels"]["ft03_va06"] == "shipped"
    assert merged["results"]["main"]["va_mae"] == 0.1 and "ft03_va06" not in merged["not_trained"]


def test_bench_report_keeps_a_run_and_renders_both_tables(tmp_path):
    import bench_report as B

    out = {"provider": "CPUExecutionProvider", "image_encoder_ms": 11.61, "ort_tokens_per_s": 700.4, "first_note_ms": 21.66,
           "realtime_factor": 39.47, "model_bytes": 36294846, "torch_tokens_per_s": 140.0, "torch_nocache_tokens_per_s": 30.2,
           "ort_vs_torch": 5.003, "peak_rss_mb": 900.2}
    (tmp_path / "bench.json").write_text(json.dumps(out))
    record = tmp_path / "record.json"
    assert B.main([str(tmp_path / "bench.json"), "--checkpoint", "runs/x/ckpt.pt", "--model", "x", "--as", "shipped", "--record", str(record)]) == 0
    rec = R.read_record(record)
    assert rec["runs"]["shipped"]["bench"] == out and rec["runs"]["shipped"]["checkpoint"] == "runs/x/ckpt.pt"
    text = check_prose("bench", rec)
    assert "| ORT tokens/s | 700 | — |" in text and "ORT ≥ 5× PyTorch (an early issue) — met |" in text
    assert "| first note (image file → first note event) | 21.7 ms | ≤ 150 ms |" in text and "| model files | 36.3 MB |" in text
    readme = R.blocks_of("bench")["readme_table"](rec)
    assert "| ORT vs PyTorch | 5.00x (700 / 140) | ≥ 5x (an early issue) — met |" in readme and "shipped `x`" in readme
    out["torch_tokens_per_s"] = out["ort_vs_torch"] = None  # a base install: no PyTorch column
    assert "| n/a (KV cache)" in B.table({"runs": {"b": {"bench": out}}}, run="b")


def test_model_card_sections_follow_its_record():
    rec = R.committed_record("model_card")
    text = R.standalone("model_card", rec)
    assert "## Results on the test split" in text and "## Density and touch controls" in text and "## Calibration of the image head" in text
    bare = json.loads(R.dumps(rec))
    bare.update(eval=None, pretraining=None)
    bare["sidecar"]["calibration"] = None
    text = R.standalone("model_card", bare)
    assert "## Results on the test split" not in text and "## Calibration" not in text
    assert "- Trained from scratch (no pretraining)." in text and "\n\n\n" not in text


# --- 3. the machinery ----------------------------------------------------------------------------

def test_values_are_quoted_as_prose_rounds_them():
    assert R.number(0.305, ".2f") == "0.31" and R.number(0.285, ".2f") == "0.29"  # half up from the record's digits
    assert R.number(-0.12, "\u2212+.0%") == "\u221212%" and R.number(0.02, "\u2212+.0%") == "+2%"
    assert R.number(760, ".0f") == "760" and R.number(None, ".3f") == "–" and R.number(float("nan")) == "–"


def test_placeholders_blocks_values_and_errors():
    rec = {"runs": {"a": {"bench": {"x": 1.25}}}}
    records = {"bench": rec}.__getitem__
    assert R.render("<!-- note\nof two lines -->\n\nv={{= bench.runs.a.bench.x :.1f}}.\n", None, None, records) == "v=1.3.\n"
    with pytest.raises(R.TemplateError, match="no 'runs.b"):
        R.render("{{= bench.runs.b.x}}", None, None, records)
    with pytest.raises(R.TemplateError, match="no block 'nothing'"):
        R.render("{{nothing}}", "calibration", {})
    with pytest.raises(R.TemplateError, match="lacks what the block needs"):
        R.render("{{table}}", "calibration", {})
    assert R.parse_args('importance row=a.1 name="the shipped model"') == ("importance", {"row": "a.1", "name": "the shipped model"})


def test_a_run_is_kept_beside_the_others(tmp_path):
    p = tmp_path / "r.json"
    R.store_run(p, "one", {"x": 1})
    R.store_run(p, "two", {"x": 2})
    R.store_run(p, "one", {"x": 3})
    assert R.read_record(p) == {"runs": {"one": {"x": 3}, "two": {"x": 2}}}
    assert not list(tmp_path.glob("*.part"))


def test_a_committed_report_is_published_from_its_template_and_any_other_path_alone(tmp_path, monkeypatch):
    """``--out`` a committed report: its template and committed record (prose kept); anywhere else: the run alone."""
    root = tmp_path / "repo"
    (root / "docs" / "prose").mkdir(parents=True)
    (root / "docs" / "records").mkdir()
    (root / "docs" / "prose" / "decoding.md").write_text("# Sweep\n\nCurated.\n\n{{chosen}}\n")
    R.write_record(root / "docs" / "records" / "decoding.json", {"chosen": {"top_p": 0.9}})
    monkeypatch.setattr(R, "ROOT", root)
    monkeypatch.setattr(R, "REPORTS", [R.Report("docs/DECODING.md", "docs/prose/decoding.md", "decoding", "docs/records/decoding.json")])
    assert R.record_path(root / "docs" / "DECODING.md", None) == str(root / "docs" / "records" / "decoding.json")
    assert R.record_path(tmp_path / "elsewhere.md", None) is None
    R.publish("decoding", root / "docs" / "DECODING.md", {}, log=lambda m: None)
    assert (root / "docs" / "DECODING.md").read_text() == "# Sweep\n\nCurated.\n\nChosen: {'top_p': 0.9}.\n"
    assert R.drifted(root) == []
    (root / "docs" / "DECODING.md").write_text("# Sweep\n\nHand-edited.\n")
    assert R.drifted(root) == ["docs/DECODING.md"]


def test_readme_regions_are_replaced_and_nothing_else(tmp_path):
    text = "intro 1\n<!-- numbers:a -->\nold\n<!-- /numbers -->\nmiddle\n<!-- numbers:b -->\nold b\n<!-- /numbers -->\nend\n"
    assert readme_numbers.regions(text) == {"a": "old\n", "b": "old b\n"}
    new = readme_numbers.update(text, {"a": "new a\n", "b": "new b\n"})
    assert new == text.replace("old\n", "new a\n").replace("old b\n", "new b\n")
    with pytest.raises(ValueError, match="regions"):
        readme_numbers.update(text, {"a": "x\n"})
