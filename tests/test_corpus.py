"""Pretraining on music21's corpus: scores onto our grid and tokens, and a pretrain → fine-tune run."""
import pytest

from fixtures import needs_train_extra

music21 = pytest.importorskip("music21")

from music21 import chord, meter, note, stream  # noqa: E402

from engine.generation.tokens import MODE0, decode  # noqa: E402
from engine.training.corpus import BARS, parse_spec, score_to_piece  # noqa: E402
from engine.training.sequences import piece_windows  # noqa: E402


def score(ts: str, items, pickup: float = 0.0) -> stream.Score:
    """One part; ``items`` are (MIDI pitch or tuple of pitches, quarter length), in order."""
    part = stream.Part()
    part.append(meter.TimeSignature(ts))
    for pitch, ql in items:
        el = chord.Chord(list(pitch)) if isinstance(pitch, tuple) else note.Note(pitch)
        el.quarterLength = ql
        part.append(el)
    s = stream.Score([part])
    s = s.makeMeasures() if not pickup else s
    if pickup:
        part = part.makeMeasures()
        part.getElementsByClass("Measure")[0].paddingLeft = pickup
        s = stream.Score([part])
    return s


D_MAJOR_TUNE = [(62, 1), (64, 1), (66, 1), (67, 1), ((62, 69), 2), ((62, 66), 2),
                (71, 0.5), (69, 0.5), (67, 0.5), (66, 0.5), (64, 1), (62, 1), (61, 2), (62, 2)] * 2


def test_a_four_four_score_lands_on_the_16th_grid_with_its_key_and_an_accented_top_voice():
    piece, why = score_to_piece(score("4/4", D_MAJOR_TUNE), "tune")
    assert why == "ok"
    assert (piece.tonic, piece.mode) == (2, "major")
    starts = piece.notes[:, 2].tolist()
    assert starts[:5] == [0, 4, 8, 12, 16]                        # quarters are 4 steps apart
    assert piece.notes[4].tolist()[3] == 8                         # a half note lasts 8 steps
    at16 = {int(p): int(v) for p, v, s, _ in piece.notes.tolist() if s == 16}
    assert set(at16) == {62, 69} and at16[69] > at16[62]          # the chord's top note is louder


def test_a_pickup_puts_the_first_full_bar_on_a_bar_line():
    piece, _ = score_to_piece(score("4/4", [(67, 1)] + D_MAJOR_TUNE, pickup=3.0), "pickup")
    assert piece.notes[0, 2] == 12 and piece.notes[1, 2] == 16     # the upbeat is beat 4 of bar 0


def test_renaissance_four_two_bars_split_into_two_token_bars_and_other_sets_skip_them():
    tune = [(p, 2 * ql) for p, ql in D_MAJOR_TUNE]  # the tune in half notes, barred in 4/2
    piece, why = score_to_piece(score("4/2", tune), "motet", BARS["renaissance"])
    assert why == "ok" and piece.notes[:3, 2].tolist() == [0, 8, 16]   # quarters of 4/2 are 8 steps apart
    assert score_to_piece(score("4/2", tune), "motet") == (None, "meter")  # a set without 8-quarter bars


@pytest.mark.parametrize("ts, items, why", [
    ("3/4", D_MAJOR_TUNE, "meter"),                                                  # no 3-beat bars in the tokens
    ("4/4", [(60 + i % 5, 1 / 3) for i in range(48)], "off grid"),                  # triplets
    ("4/4", [(60, 1), (62, 1)], "short"),
])
def test_scores_the_tokens_cannot_hold_are_skipped_with_a_reason(ts, items, why):
    assert score_to_piece(score(ts, items), "x") == (None, why)


def test_corpus_windows_are_the_training_sequences_shape_transposed_to_the_reference_key():
    piece, _ = score_to_piece(score("4/4", D_MAJOR_TUNE), "tune")
    windows = piece_windows(piece, 512)
    assert windows[0][1] == MODE0                                  # Mode_major after BOS
    notes = decode(windows[0].tolist())
    assert notes[0].pitch % 12 == 0                                # D major transposed to C: the opening D → C
    assert {n.pitch % 12 for n in notes} <= {0, 2, 4, 5, 7, 9, 11}


def test_corpus_set_specs_name_a_set_and_optionally_a_file_count():
    assert parse_spec("bach") == ("bach", 0) and parse_spec("folk:12") == ("folk", 12)
    for bad in ("bebop", "bach:x"):
        with pytest.raises(ValueError):
            parse_spec(bad)


@needs_train_extra
def test_pretrain_on_the_corpus_then_fine_tune_from_it(tiny_run, tmp_path):
    from engine.errors import UsageError
    from engine.training.train import load_state, main
    from model_fixture import TINY

    pre = tmp_path / "pre"
    assert main(["--data", str(tiny_run.data), "--out", str(pre), "--corpus", "bach:2", "--max-steps", "3", *TINY]) == 0
    state = load_state(pre / "ckpt.pt")
    assert state["train_config"]["corpus"] == "bach:2" and state["global_step"] == 3

    common = ["--data", str(tiny_run.data), "--estimator", str(tiny_run.estimator), "--max-steps", "1", *TINY]
    assert main([*common, "--out", str(tmp_path / "ft"), "--init", str(pre / "ckpt.pt")]) == 0
    ft = load_state(tmp_path / "ft" / "ckpt.pt")
    assert ft["train_config"]["init"] == str(pre / "ckpt.pt") and ft["global_step"] == 1
    # one fine-tuning step from the pretrained weights stays near them; a fresh start does not
    assert main([*common, "--out", str(tmp_path / "fresh")]) == 0
    fresh = load_state(tmp_path / "fresh" / "ckpt.pt")
    keys = [k for k in state["model"] if k.startswith("decoder.layers.")]
    near = sum((ft["model"][k] - state["model"][k]).abs().sum() for k in keys)
    far = sum((fresh["model"][k] - state["model"][k]).abs().sum() for k in keys)
    assert near < 0.5 * far
    with pytest.raises(UsageError):  # weights of another shape are refused, not half-loaded
        main([*common, "--out", str(tmp_path / "bad"), "--init", str(pre / "ckpt.pt"), "--d-model", "48"])
