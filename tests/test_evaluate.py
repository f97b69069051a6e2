"""Evaluation: the paper's metrics as MusPy defines them, fidelity statistics, and a resumable report."""
import argparse
import math
import shutil

import pytest

pytest.importorskip("muspy")

from engine.events import VA, NoteEvent  # noqa: E402
from engine.training.metrics import muspy_metrics, note_density, spearman  # noqa: E402


def test_muspy_metrics_on_a_hand_computable_piece():
    # a C major triad held for a bar, then a single C for a bar
    notes = [NoteEvent(60, 80, 0, 4), NoteEvent(64, 80, 0, 4), NoteEvent(67, 80, 0, 4), NoteEvent(60, 80, 4, 4)]
    m = muspy_metrics(notes)
    assert m["polyphony_rate"] == pytest.approx(0.5)  # polyphonic in the first of two bars
    assert m["pitch_class_entropy"] == pytest.approx(-(0.5 * math.log2(0.5) + 2 * 0.25 * math.log2(0.25)))
    # both bars hold one onset, on the downbeat; MusPy counts measures up to end_time // 96 + 1 = 3,
    # so the empty third measure differs from the second in one position: 1 - (0 + 1) / (2 * 96)
    assert m["groove_consistency"] == pytest.approx(1 - 1 / (2 * 96))


def test_density_and_spearman():
    assert note_density([NoteEvent(60, 80, 0, 1), NoteEvent(62, 80, 1, 1)]) == 1.0
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert math.isnan(spearman([1, 2], [3, 4]))


def test_evaluate_writes_results_and_reuses_its_cache(tiny_run, tmp_path, monkeypatch):
    from engine.training.evaluate import run
    from engine.training.train import main as train_main
    from model_fixture import TINY

    runs = tmp_path / "runs"
    shutil.copytree(tiny_run.run, runs / "main")
    monkeypatch.setenv("SYNESTHETE_CACHE", str(tiny_run.root / "cache"))
    assert train_main(["--data", str(tiny_run.data), "--out", str(runs / "lstm"), "--epochs", "1", "--decoder", "lstm", "--no-va-loss", *TINY]) == 0
    args = argparse.Namespace(data=str(tiny_run.data), runs=str(runs), out=str(tmp_path / "docs" / "RESULTS.md"), samples=2, bars=2)
    (tmp_path / "docs").mkdir()
    assert run(args) == 0
    text = (tmp_path / "docs" / "RESULTS.md").read_text()
    assert "| real test MIDI (reference) |" in text and "shipped until va03 |" in text and "0.7818" in text
    assert "| LSTM baseline |" in text
    assert "| main | " in text and "| 0.0000 |" in text  # sampled tokens: zero grammar errors
    # end to end from the picture: the image head's VA drives the music, judged against the label
    assert "## From the picture, end to end" in text
    assert "| main | efficientnet_lite0 | transformer x" in text and "| lstm | efficientnet_lite0 | lstm x" in text
    import json
    r = json.loads((runs / "main" / "eval.json").read_text())["result"]
    assert 0 <= r["image_va_mae"] <= 2 and 0 <= r["e2e"]["va_mae"] <= 2 and sum(r["onnx_mb"].values()) > 0
    before = (runs / "main" / "eval.json").stat().st_mtime_ns
    assert run(args) == 0
    assert (runs / "main" / "eval.json").stat().st_mtime_ns == before  # cached, not recomputed


def test_evaluate_makes_the_same_pieces_the_product_makes_for_the_same_request(tiny_run):
    """evaluate samples through the product's runtime and compose loop: for an image, seed and
    VA, its piece is note for note what ``Runtime.compose`` gives (what ``generate`` writes) at
    intensity 1 — evaluate measures the model given a VA as asked."""
    from engine.request import GenerationSettings
    from engine.generation.runtime import Runtime
    from engine.training.dataset import read_images
    from engine.training.evaluate import generate_run

    images = [im for im in read_images(tiny_run.data) if im.split == "test"][:2]
    got = generate_run(tiny_run.run, images, tiny_run.data, 2, lambda *_: None)
    rt = Runtime.load(tiny_run.run / "onnx", verify=False)
    for k, im in enumerate(images):
        enc = rt.encode(tiny_run.data / im.path)
        s = GenerationSettings(bars=2, seed=k, intensity=1.0)
        assert got["label"][k] == list(rt.compose(s, enc, VA(im.valence, im.arousal)).notes)
        assert got["image"][k] == list(rt.compose(s, enc).notes)
        assert got["pred_va"][k] == [enc.va.valence, enc.va.arousal]
