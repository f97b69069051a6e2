"""A song keeps its register: the range its first phrase set up, and a bass in every bar
(engine.generation.register), as the sampler applies it to pieces of 16 bars or more."""
import numpy as np
import pytest

from engine.events import VA
from engine.generation import tokens as T
from engine.generation.compose import sampling_settings
from engine.generation.register import (BASS_ZONE, HOME_BARS, MARGIN, MAX_VOICES, MIN_NOTES, PULL, Keeper, crowding,
                                        holding, home_of, pull)
from engine.generation.sampling import SamplingSettings, TokenStream
from engine.settings import GenerationSettings
from engine.training import form_stats as FS

PITCHES = np.arange(T.PITCH_MIN, T.PITCH_MIN + T.N_PITCH)


def test_the_home_is_the_opening_phrases_middle_eighty_percent_once_it_has_enough_notes():
    assert home_of([60] * (MIN_NOTES - 1)) is None
    home = home_of(list(range(48, 80)))
    assert home.low == pytest.approx(np.percentile(range(48, 80), 10))
    assert home.high == pytest.approx(np.percentile(range(48, 80), 90))


def test_the_pull_is_nothing_inside_the_home_and_its_margin_and_grows_by_the_semitone_outside():
    home = home_of(list(range(50, 71)))
    b = pull(home, 1.0)
    inside = (PITCHES >= home.low - MARGIN) & (PITCHES <= home.high + MARGIN)
    assert np.all(b[inside] == 0)
    above = PITCHES - (home.high + MARGIN)
    assert np.allclose(b[above > 0], -PULL * above[above > 0])
    assert np.all(np.diff(b[PITCHES > home.high + MARGIN]) < 0) and np.all(np.diff(b[PITCHES < home.low - MARGIN]) > 0)
    assert np.allclose(pull(home, 0.5), 0.5 * b)


def opened(k: Keeper, pitches=(48, 60, 64, 67, 72), bars=range(HOME_BARS)) -> None:
    """Play ``bars`` of quarter notes on ``pitches`` into the keeper, bar lines included."""
    for bar in bars:
        k.bar_line(bar)
        for i, p in enumerate(pitches):
            k.heard(bar, p, bar * 4 + i * 0.5, bar * 4 + i * 0.5 + 0.25)
    k.bar_line(bars[-1] + 1)


def test_the_keeper_leans_only_after_the_opening_and_asks_for_a_bass_until_the_bar_has_one():
    k = Keeper(1.0)
    k.bar_line(0)
    assert k.pitch_bias(0, 0.0, True) is None and k.duration_bias(0.0) is None  # the opening plays as the model likes
    opened(k)
    bar, beat = HOME_BARS, HOME_BARS * 4.0
    low = k.home.low
    zone = (PITCHES >= low - MARGIN) & (PITCHES <= low + BASS_ZONE)
    lowest, upper = k.pitch_bias(bar, beat, True), k.pitch_bias(bar, beat, False)
    assert np.all(lowest[zone] > upper[zone])         # an onset's lowest note leans into the bass ...
    k.heard(bar, int(low), beat, beat + 0.25)
    assert np.allclose(k.pitch_bias(bar, beat + 1, True), upper)  # ... until the bar has its bass
    assert np.allclose(k.pitch_bias(bar + 1, beat + 4, True), lowest)  # and every bar asks again


def test_a_crowded_onset_discourages_another_note_and_a_long_one():
    assert crowding(MAX_VOICES - 1, 1.0) == 0 and crowding(MAX_VOICES + 1, 1.0) < crowding(MAX_VOICES, 1.0) < 0
    assert np.all(holding(MAX_VOICES - 2, 1.0) == 0)
    held = holding(MAX_VOICES, 1.0)
    steps = np.array(T.DURATION_STEPS)
    assert np.all(held[steps <= 4] == 0) and np.all(held[steps >= 8] < 0)  # a beat or shorter: free
    assert np.all(np.diff(held[np.argsort(steps)]) <= 0)                 # the longer, the less likely
    k = Keeper(1.0)
    opened(k)
    beat = HOME_BARS * 4.0
    for p in range(60, 60 + MAX_VOICES):               # a block chord held for a bar
        k.heard(HOME_BARS, p, beat, beat + 4)
    assert k.voices(beat + 1) == MAX_VOICES and k.voices(beat + 4) == 0
    assert np.all(k.pitch_bias(HOME_BARS, beat + 1, False) <= k.pitch_bias(HOME_BARS, beat + 4, False) - 1.0)
    assert np.all(k.duration_bias(beat + 1)[steps >= 8] < 0) and np.all(k.duration_bias(beat + 4) == 0)


def test_a_turn_of_emotion_lets_the_home_go_and_it_is_learnt_again_from_the_bars_after():
    k = Keeper(1.0)
    opened(k, (40, 45, 50, 55, 60), range(6))
    first = k.home
    k.let_go(6)
    assert k.pitch_bias(6, 24.0, True) is None
    opened(k, (70, 75, 80, 85, 90), range(6, 6 + HOME_BARS))
    assert k.home.low > first.high                   # the new home is where the music went


class ClimbingStepper:
    """A model whose register climbs as the piece goes on and whose bass is rare: the way the real
    model wanders over 32 bars once its window has forgotten the opening."""

    block_size = 512

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.fed = 0   # tokens fed since the piece began (a window slide does not reset it)

    def reset(self):
        pass

    def retarget(self, va, memory=None):
        pass

    def step(self, token, pos):
        self.fed += 1
        centre = 60 + self.fed / 40.0
        logits = self.rng.normal(0, 1, T.VOCAB_SIZE)
        logits[T.PITCH0:T.PITCH0 + T.N_PITCH] += -((PITCHES - centre) / 6.0) ** 2 / 2
        return logits


def song(register: float, seed: int) -> list:
    s = SamplingSettings(bars=32, temperature=1.0, top_p=0.95, seed=seed, mode="major", register=register)
    return T.decode([t for t, _ in TokenStream(ClimbingStepper(seed), s)])


def rise(piece) -> float:
    """Mean pitch of the last 8 bars minus that of the first 4."""
    return np.mean([n.pitch for n in piece if n.start >= 96]) - np.mean([n.pitch for n in piece if n.start < 16])


def test_over_32_bars_a_climbing_model_is_held_nearer_its_opening_register_with_a_bass_in_more_bars(seeds=range(12)):
    kept, free = [song(1.0, seed) for seed in seeds], [song(0.0, seed) for seed in seeds]
    bass = lambda pieces: float(np.nanmean([FS.bass_bars(p, 32) for p in pieces]))  # noqa: E731
    assert np.mean([rise(p) for p in kept]) < np.mean([rise(p) for p in free]) - 3.0
    assert bass(kept) > bass(free) + 0.15


def test_the_product_keeps_the_register_of_songs_and_leaves_a_short_piece_to_the_model():
    assert sampling_settings(GenerationSettings(bars=32), VA(0.5, 0.5)).register > 0
    assert sampling_settings(GenerationSettings(bars=16, form="free"), VA(0.5, 0.5)).register > 0
    assert sampling_settings(GenerationSettings(bars=8), VA(0.5, 0.5)).register == 0


def test_a_turn_lets_the_register_go_and_the_bars_after_set_it_again():
    """Steering, an arc or a song's next section (which may sit higher, as a chorus does)."""
    homes: dict[int, object] = {}

    def on_bar(bar):
        homes[bar] = stream._keeper.home              # as the bar begins, before the turn
        if bar == 8:
            stream.refocus(1)

    s = SamplingSettings(bars=16, temperature=1.0, top_p=0.95, seed=3, mode="major", register=1.0)
    stream = TokenStream(ClimbingStepper(3), s, on_bar=on_bar)
    list(stream)
    assert homes[8] is not None                       # learnt from the opening by bar 8
    assert all(homes[b] is None for b in range(9, 8 + HOME_BARS + 1))  # bars 8..11 set the new home
    assert homes[8 + HOME_BARS + 1] is not None and homes[8 + HOME_BARS + 1] != homes[8]
