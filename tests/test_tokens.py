"""Tokens: a lossless round trip on the grid, a streaming decoder, and a grammar that sampling cannot break."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine.generation import tokens as T
from engine.training.beats import quantize
from engine.files.midi_io import read_midi
from engine.generation.sampling import SamplingSettings, TokenStream, choose
from fixtures import make_midi


def grid_notes(seed=0, n=60):
    rng = np.random.default_rng(seed)
    return [T.GridNote(int(rng.integers(21, 109)), int(rng.choice(T.VELOCITY_BINS)), int(rng.integers(0, 16 * 6)), int(rng.choice(T.DURATION_STEPS))) for _ in range(n)]


def test_vocabulary_uses_type_value_names_and_16_positions():
    assert all("_" in t for t in T.VOCAB)
    assert sum(t.startswith("Position_") for t in T.VOCAB) == 16
    assert T.VOCAB[T.PITCH0] == "Pitch_21" and "Pitch_108" in T.TOKEN_ID


def test_round_trip_recovers_every_note_on_the_grid():
    notes = grid_notes()
    back = T.notes_to_grid(T.decode(T.encode(notes)))
    want = {(n.start, n.pitch): n for n in sorted(notes, key=lambda n: n.duration)}  # longest wins on duplicates
    assert {(n.start, n.pitch) for n in back} == set(want)
    for n in back:
        assert n.velocity == want[(n.start, n.pitch)].velocity
        assert n.duration == want[(n.start, n.pitch)].duration


def test_round_trip_of_a_midi_file_made_here(tmp_path):
    path = make_midi(tmp_path / "p.mid", happy=True)
    q = quantize(read_midi(path), performance=False)
    back = T.notes_to_grid(T.decode(T.encode(q.notes)))
    assert {(n.start, n.pitch) for n in back} == {(n.start, n.pitch) for n in q.notes}


def test_pitches_outside_the_piano_fold_in_by_octaves():
    back = T.decode(T.encode([T.GridNote(12, 64, 0, 4), T.GridNote(120, 64, 4, 4)]))
    assert [n.pitch for n in back] == [24, 108]


def test_decoder_yields_each_note_when_its_duration_arrives():
    toks = T.encode([T.GridNote(60, 80, 0, 4), T.GridNote(64, 80, 20, 2)])
    d = T.StreamingDecoder()
    emitted_at = []
    for i, t in enumerate(toks):
        for n in d.push(t):
            emitted_at.append((i, n))
    assert [T.VOCAB[toks[i]].split("_")[0] for i, _ in emitted_at] == ["Duration", "Duration"]
    assert emitted_at[0][1].start == 0.0 and emitted_at[1][1].start == 5.0  # bar 1, position 4 → beat 5


def test_decoder_rejects_tokens_the_grammar_forbids():
    with pytest.raises(ValueError, match="may not follow"):
        T.decode([T.BOS, T.MODE0, T.BAR, T.PITCH0])  # a pitch needs a position first


def test_positions_must_ascend_within_a_bar():
    s = T.GrammarState()
    for t in [T.BOS, T.MODE0, T.BAR, T.POS0 + 8, T.PITCH0, T.VEL0, T.DUR0]:
        T._advance(s, t)
    m = T.allowed_mask(s)
    assert not m[T.POS0 + 8] and not m[T.POS0 + 3] and m[T.POS0 + 9]
    assert not m[T.PITCH0] and m[T.PITCH0 + 1]  # chords ascend


class RandomStepper:
    """Stands in for a model: arbitrary logits, so only the mask keeps sequences valid."""

    block_size = 64

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def reset(self):
        pass

    def step(self, token, pos):
        assert 0 <= pos < self.block_size
        return self.rng.normal(0, 3, T.VOCAB_SIZE)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), bars=st.integers(1, 6), temperature=st.sampled_from([0.0, 0.7, 1.0, 2.0]))
def test_masked_sampling_always_decodes_to_the_requested_bars(seed, bars, temperature):
    ts = TokenStream(RandomStepper(seed), SamplingSettings(bars=bars, temperature=temperature, top_p=0.95, seed=seed, mode="major"))
    toks = [t for t, _ in ts]
    assert T.token_error_rate(toks) == 0.0
    assert toks[-1] == T.EOS
    notes = T.decode(toks)
    assert toks.count(T.BAR) == bars
    assert all(0 <= n.start < bars * 4 for n in notes)


class RestfulStepper(RandomStepper):
    """A model that would rather close the bar (or the piece) than play: Bar and EOS dominate."""

    def step(self, token, pos):
        logits = super().step(token, pos)
        logits[T.BAR] = logits[T.EOS] = 50.0
        return logits


@pytest.mark.parametrize("bars", [1, 4])
def test_a_piece_opens_with_sound_even_when_the_model_would_rest(bars):
    ts = TokenStream(RestfulStepper(3), SamplingSettings(bars=bars, temperature=1.0, top_p=0.95, seed=3, mode="major"))
    toks = [t for t, _ in ts]
    notes = T.decode(toks)
    assert T.token_error_rate(toks) == 0.0 and toks.count(T.BAR) == bars
    assert notes and min(n.start for n in notes) < 4      # the first bar holds a note
    assert all(n.start < 4 for n in notes)                 # later bars may rest, as the model wants


def test_token_error_rate_counts_violations():
    assert T.token_error_rate([T.BOS, T.MODE0, T.BAR, T.PITCH0, T.EOS]) == pytest.approx(1 / 5)


def test_greedy_choice_ignores_masked_tokens():
    logits = np.zeros(T.VOCAB_SIZE)
    logits[5] = 100.0
    mask = np.zeros(T.VOCAB_SIZE, bool)
    mask[7] = True
    assert choose(logits, mask, 0.0, 1.0, np.random.default_rng(0)) == 7


def test_phrase_plan_restates_every_second_phrase_but_its_last_bar():
    from engine.generation.sampling import phrase_plan

    assert phrase_plan(2) == (None, None)
    assert phrase_plan(4) == (None, None, 0, None)
    assert phrase_plan(8) == (None, None, None, None, 0, 1, 2, None)
    assert phrase_plan(16)[12:] == (8, 9, 10, None)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), bars=st.sampled_from([4, 8, 9, 16]))
def test_phrase_form_replays_the_planned_bars_token_for_token_and_stays_valid(seed, bars):
    from engine.generation.sampling import phrase_plan

    plan = phrase_plan(bars)
    ts = TokenStream(RandomStepper(seed), SamplingSettings(bars=bars, temperature=1.0, top_p=0.95, seed=seed, mode="major", plan=plan))
    toks = [t for t, _ in ts]
    assert T.token_error_rate(toks) == 0.0 and toks.count(T.BAR) == bars and toks[-1] == T.EOS
    at = [i for i, t in enumerate(toks) if t == T.BAR] + [len(toks) - 1]
    content = [toks[at[b] + 1:at[b + 1]] for b in range(bars)]
    for b, src in enumerate(plan):
        if src is not None:
            assert content[b] == content[src]
    free = [b for b, src in enumerate(plan) if src is None and b > 0]
    # the random stepper never writes the same bar twice by chance: the free bars are new material
    assert all(content[b] != content[b - 4 if b >= 4 else 0] or not content[b] for b in free if b >= 4)
