"""Musicality statistics and the classifier two-sample test, on hand-made note lists."""
import math

import numpy as np
import pytest

from engine.events import NoteEvent
from engine.training import musicality as M
from fixtures import needs_train_extra


def N(pitch, start, duration=1.0, velocity=80):
    return NoteEvent(pitch, velocity, float(start), float(duration))


def repeat_bar(bar, bars):
    return [N(n.pitch, n.start + 4 * b, n.duration, n.velocity) for b in range(bars) for n in bar]


def random_piece(rng, bars=8, n=48, lo=36, hi=96):
    """Atonal, arhythmic: uniform pitches and 16th positions."""
    return sorted((N(int(rng.integers(lo, hi)), int(rng.integers(0, 16 * bars)) / 4, 0.25 * int(rng.integers(1, 5)),
                     int(rng.integers(30, 110))) for _ in range(n)), key=lambda x: x.start)


def tonal_piece(rng, bars=8):
    """C-major chords on beats 1 and 3 under a stepwise melody, a 2-bar idea repeated."""
    idea = []
    p = int(rng.integers(67, 74))
    for beat in range(8):
        if beat % 2 == 0:
            root = [48, 53, 55, 48][beat // 2]
            idea += [N(root, beat, 2), N(root + 4, beat, 2), N(root + 7, beat, 2)]
        for k in range(2):
            p = int(np.clip(p + rng.choice([-2, -1, 0, 1, 2]), 64, 84))
            idea.append(N(p, beat + k / 2, 0.5, int(rng.integers(60, 90))))
    return [N(n.pitch, n.start + 8 * r, n.duration, n.velocity) for r in range(bars // 2) for n in idea]


# --- repetition ---------------------------------------------------------------------------

def test_a_repeated_bar_scores_repetition_one_and_a_random_piece_low():
    bar = [N(60, 0), N(64, 1), N(67, 1.5, 0.5), N(72, 2, 2), N(48, 0, 4)]
    assert M.bar_repetition(repeat_bar(bar, 8), 8) == pytest.approx(1.0)
    assert M.chroma_repetition(repeat_bar(bar, 8), 8) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    scores = [M.bar_repetition(random_piece(rng), 8) for _ in range(10)]
    assert max(scores) < 0.25
    # one changed note in one bar lowers the score below 1
    varied = repeat_bar(bar, 8)
    varied[-1] = N(49, 28, 4)
    assert M.bar_repetition(varied, 8) < 1.0


def test_bar_repetition_skips_empty_bars_and_needs_two_bars_with_notes():
    bar = [N(60, 0), N(64, 2)]
    two_with_gap = bar + [N(n.pitch, n.start + 12, n.duration) for n in bar]  # bars 1 and 4
    assert M.bar_repetition(two_with_gap, 8) == pytest.approx(1.0)
    assert math.isnan(M.bar_repetition(bar, 8))
    # A B A B with A and B disjoint: B matches nothing earlier (0), each later bar an earlier one (1)
    a_, b_ = [N(60, 0), N(64, 2)], [N(62, 1), N(65, 3)]
    abab = a_ + [N(n.pitch, n.start + 4) for n in b_] + [N(n.pitch, n.start + 8) for n in a_] + [N(n.pitch, n.start + 12) for n in b_]
    assert M.bar_repetition(abab, 4) == pytest.approx(2 / 3)
    # a bar whose onsets are shifted by a 16th shares nothing with the first
    assert M.bar_repetition(bar + [N(60, 4.25), N(64, 6.25)], 2) == pytest.approx(0.0)


# --- harmony ------------------------------------------------------------------------------

def test_c_major_triad_on_the_beat_has_chord_tone_share_one():
    bar = [N(48, 0, 4), N(60, 0), N(64, 1), N(67, 2), N(64, 3)]
    piece = repeat_bar(bar, 4)
    assert M.chord_tone_share(piece, 4) == pytest.approx(1.0)
    assert M.chord_tone_share(piece, 4, beats=(0, 1, 2, 3)) == pytest.approx(1.0)
    assert M.best_triad(piece, 0, 4) == frozenset({0, 4, 7})
    # a D on beat 3 of every bar: two of three strong-beat notes per bar are chord tones
    off = repeat_bar([N(48, 0, 4), N(60, 0), N(64, 1), N(62, 2, 0.5), N(64, 3)], 4)
    assert M.chord_tone_share(off, 4) == pytest.approx(2 / 3)
    # an off-beat non-chord tone does not count on strong beats
    assert M.chord_tone_share(repeat_bar(bar + [N(61, 1.5, 0.25)], 4), 4) == pytest.approx(1.0)
    # minor: A minor arpeggio → A minor triad
    assert M.best_triad([N(57, 0), N(60, 1), N(64, 2), N(69, 3)], 0, 4) == frozenset({9, 0, 4})


def test_scale_share():
    assert M.scale_share([N(p, i) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71])]) == pytest.approx(1.0)
    # C major plus an equally long F#: 7 of 8 beats in the best major scale (C or G major)
    assert M.scale_share([N(p, i) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 66])]) == pytest.approx(7 / 8)


# --- melody -------------------------------------------------------------------------------

def test_a_stepwise_melody_has_step_share_one_and_leaps_are_counted():
    scale = [60, 62, 64, 65, 67, 65, 64, 62, 60, 59, 60]
    melody = [N(p, i / 2, 0.5) for i, p in enumerate(scale)]
    assert M.step_share(melody) == pytest.approx(1.0)
    assert M.leap_share(melody) == 0.0
    arpeggio = [N(p, i, 1) for i, p in enumerate([48, 55, 64, 72, 64, 55])]
    assert M.step_share(arpeggio) == 0.0 and M.leap_share(arpeggio) == pytest.approx(1.0)
    assert M.top_voice_interval(arpeggio) == pytest.approx(np.mean([7, 9, 8, 8, 9]))
    # with a chord under it, the melody is still the top line: steps stay steps
    accompanied = melody + [N(48, 0, 4), N(52, 0, 4), N(55, 0, 4), N(43, 2, 2)]
    assert M.top_voice(accompanied) == scale
    assert M.step_share(accompanied) == pytest.approx(1.0)


def test_top_voice_skips_onsets_under_a_held_melody_note():
    notes = [N(72, 0, 4), N(60, 1), N(62, 2), N(74, 4)]
    assert M.top_voice(notes) == [72, 74]


# --- pitch, texture, rhythm ---------------------------------------------------------------

def test_pitch_texture_and_rhythm_statistics_on_a_hand_computable_piece():
    # bar 1: C major triad held 2 beats + a melody E-F-G on beats 1..3; bar 2: one low C
    notes = [N(48, 0, 2), N(52, 0, 2), N(55, 0, 2), N(64, 0), N(65, 1), N(67, 2), N(36, 4, 1, 40)]
    assert M.notes_per_bar(notes, 2) == 3.5
    assert M.notes_per_bar(notes) == 3.5  # bars from the last onset
    assert M.mean_pitch(notes) == pytest.approx(np.mean([48, 52, 55, 64, 65, 67, 36]))
    assert M.pitch_range(notes) == pytest.approx(np.percentile([48, 52, 55, 64, 65, 67, 36], 95) - np.percentile([48, 52, 55, 64, 65, 67, 36], 5))
    assert M.pitch_entropy(notes) == pytest.approx(math.log2(7))
    assert M.pitch_class_entropy([N(60, 0), N(72, 1), N(64, 2), N(67, 3)]) == pytest.approx(1.5)
    # onsets at 0 (4 sounding), 1 (3 held + F), 2 (G only), 4 (C) → (4 + 4 + 1 + 1) / 4
    assert M.polyphony(notes) == pytest.approx(2.5)
    assert M.bass_share(notes) == pytest.approx(4 / 7)
    assert M.mean_ioi(notes) == pytest.approx(4 / 3)  # onsets 0, 1, 2, 4
    assert M.ioi_std(notes) == pytest.approx(np.std([1, 1, 2]))
    assert M.onbeat_share(notes + [N(60, 4.5, 0.5)]) == pytest.approx(4 / 5)
    assert M.silence_share(notes, 2) == pytest.approx(4 / 8)  # beats 3, 5, 6, 7 are silent
    assert M.velocity_mean(notes) == pytest.approx((6 * 80 + 40) / 7)


def test_clip_keeps_the_first_bars_and_cuts_notes_at_the_bar_line():
    notes = [N(60, 0, 2), N(62, 7, 3), N(64, 8, 1)]
    assert M.clip(notes, 2) == [N(60, 0, 2), N(62, 7, 1)]
    assert M.statistics(notes, 2)["notes_per_bar"] == 1.0


def test_from_bar_drops_the_lead_in_and_moves_the_rest_to_the_start():
    notes = [N(60, 1.5, 0.5), N(62, 3.5, 1.5), N(64, 4, 1), N(65, 9, 2)]
    assert M.from_bar(notes, 1) == notes
    assert M.from_bar(notes, 2) == [N(64, 0, 1), N(65, 5, 2)]  # the note held across the bar line started before it


# --- undefined cases ----------------------------------------------------------------------

def test_empty_and_one_note_pieces_give_nan_not_errors():
    v = M.features([], None)
    assert v.shape == (len(M.FEATURES),) and np.isnan(v).all()
    s = M.statistics([], 8)  # a known length: no notes per bar, all silent, the rest undefined
    assert s["notes_per_bar"] == 0.0 and s["silence_share"] == 1.0
    assert all(math.isnan(x) for k, x in s.items() if k not in ("notes_per_bar", "silence_share"))
    one = M.statistics([N(60, 0)], 8)
    for k in ("bar_repetition", "chroma_repetition", "step_share", "leap_share", "top_voice_interval", "mean_ioi", "ioi_std"):
        assert math.isnan(one[k]), k
    assert one["pitch_range"] == 0.0 and one["pitch_entropy"] == 0.0
    summ = M.summary([[], [N(60, 0)]], 8)
    assert summ["n"] == 2 and summ["mean_pitch"]["mean"] == 60.0 and math.isnan(summ["step_share"]["mean"])
    assert M.summary([], 8)["n"] == 0
    res = M.two_sample_accuracy([[N(60, 0)]], [[]], 8)
    assert math.isnan(res["mean"]) and res["n_a"] == 1


# --- the two-sample test ------------------------------------------------------------------

@needs_train_extra  # scikit-learn's random forest
def test_the_two_sample_test_tells_different_music_apart_and_not_the_same():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    tonal = [tonal_piece(rng) for _ in range(40)]
    noise = [random_piece(rng) for _ in range(50)]
    apart = M.two_sample_accuracy(tonal, noise, 8, seed=0, repeats=1, trees=50)
    assert apart["mean"] > 0.9
    assert apart["n_a"] == 40 and apart["n_b"] == 50 and apart["n_per_class"] == 40 and apart["folds"] == 5
    assert set(apart["importance"]) <= set(M.FEATURES)
    same = M.two_sample_accuracy([random_piece(rng) for _ in range(40)], [random_piece(rng) for _ in range(40)], 8, seed=0, repeats=1, trees=50)
    assert same["mean"] < 0.7
    floor = M.real_vs_real_floor(noise + [random_piece(rng) for _ in range(30)], 8, seed=0, splits=1, repeats=1, trees=50)
    assert floor["mean"] < 0.7 and floor["n_per_class"] == 40


@needs_train_extra  # scikit-learn's random forest
def test_compare_reports_summaries_differences_and_quadrants():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    real = [tonal_piece(rng) for _ in range(12)]
    gen = [random_piece(rng) for _ in range(12)]
    vas = [(0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5), (0.5, -0.5)] * 3
    res = M.compare(real, gen, 8, real_vas=vas, generated_vas=vas[::-1], folds=3, repeats=1, floor_splits=1, trees=30)
    assert res["real"]["n"] == 12 and res["by_quadrant"][1]["real"]["n"] == 3
    assert res["real"]["bar_repetition"]["mean"] > 0.8  # a 2-bar idea, repeated
    assert res["difference"]["bar_repetition"] < -0.5
    assert res["relative"]["notes_per_bar"] == pytest.approx(
        (res["generated"]["notes_per_bar"]["mean"] - res["real"]["notes_per_bar"]["mean"]) / res["real"]["notes_per_bar"]["mean"])
    text = M.markdown(res)
    r = res["real"]["bar_repetition"]
    assert f"| bar-to-bar repetition | {r['mean']:.2f} ± {r['std']:.2f} |" in text and "Q3 sad" in text


def test_a_report_system_names_its_model_and_decoding():
    from engine.training.musicality_report import parse_system

    assert parse_system("shipped=engine/models") == ("shipped", "engine/models", {})
    assert parse_system("p=runs/x/onnx:top_p=0.8,form=phrases,temperature=0.9") == (
        "p", "runs/x/onnx", {"top_p": 0.8, "form": "phrases", "temperature": 0.9})


def test_the_decoding_sweep_crosses_the_given_temperatures_and_top_p_or_keeps_its_default_grid():
    from engine.training.sweep import GRID, grid

    assert grid() == GRID
    assert grid([1.0, 1.1], [0.95]) == [dict(temperature=1.0, top_p=0.95, form="free"), dict(temperature=1.1, top_p=0.95, form="free")]
    assert [s["top_p"] for s in grid(None, [0.9, 0.98])] == [0.9, 0.98] and all(s["temperature"] == 1.0 for s in grid(None, [0.9, 0.98]))
