"""A request and its piece: ranges checked once, the tempo rule, keys as spelled, automatic keys, metadata."""
import math

import pytest

from engine.errors import SettingError
from engine.events import VA, NoteEvent
from engine.music.keys import auto_key
from engine.request import Judged, Plan, rank_by_fit
from engine.settings import (MAX_SEED, DEFAULT_DYNAMICS, DEFAULT_SPREAD, DEFAULT_VARIETY, MAX_BARS, MAX_SPREAD, MAX_VARIETY, MIN_SPREAD, GenerationSettings, default_tempo)


@pytest.mark.parametrize("field,value", [("bars", 0), ("bars", MAX_BARS + 1), ("bars", 2.5), ("tempo", 19.9), ("tempo", math.nan),
                                         ("seed", -1), ("seed", True), ("temperature", 5.01), ("top_p", 0.0), ("top_p", 1.5),
                                         ("key", "H"), ("form", "sonata")])
def test_every_bad_value_is_refused_once_with_its_name(field, value):
    with pytest.raises(SettingError) as e:
        GenerationSettings(**{field: value})
    assert e.value.field == field and "\n" not in str(e.value)


def test_the_tempo_follows_arousal_unless_given():
    assert [default_tempo(a) for a in (-1, 0, 1, 5)] == [72.0, 108.0, 144.0, 144.0]
    assert GenerationSettings(intensity=1.0).tempo_for(VA(0.2, -0.5)) == 90.0
    assert GenerationSettings().tempo_for(VA(0.2, -0.5)) == 81.0  # the default aim: 1.5 × the target
    assert GenerationSettings(tempo=131).tempo_for(VA(0.2, -0.5)) == 131.0


def test_auto_keys_take_the_mode_from_valence_and_reach_all_24_keys_over_seeds():
    happy = {GenerationSettings(seed=s).key_for(VA(0.4, 0)).name for s in range(12)}
    sad = {GenerationSettings(seed=s).key_for(VA(-0.4, 0)).name for s in range(12)}
    assert len(happy) == 12 and len(sad) == 12 and not any(k.endswith("m") for k in happy) and all(k.endswith("m") for k in sad)
    assert (auto_key(0.5, 0).name, auto_key(-0.5, 0).name) == ("C", "Am")  # seed 0 as before
    assert auto_key(0.5, 1).name == "G" and auto_key(-0.5, 1).name == "Em"  # relative keys share a seed


@pytest.mark.parametrize("asked,name,tonic,mode", [("C#", "C#", 1, "major"), ("Ebm", "Ebm", 3, "minor"), ("eb minor", "Ebm", 3, "minor"),
                                                   ("Bb", "Bb", 10, "major"), ("D#", "D#", 3, "major")])
def test_an_explicit_key_keeps_its_spelling(asked, name, tonic, mode):
    k = GenerationSettings(key=asked, seed=5).key_for(VA(-0.9, 0))
    assert (k.name, k.tonic, k.mode) == (name, tonic, mode)


def test_a_piece_carries_what_regenerates_it():
    s = GenerationSettings(bars=2, key="C#", seed=3, form="phrases", intensity=1.0)
    p = Plan(s, VA(0.5, -0.25), images=("x.jpg",), model="abc").piece([NoteEvent(61, 80, 0.0, 1.0)])
    assert p.tempo == 99.0 and p.seconds == pytest.approx(8 * 60 / 99)
    assert p.metadata() == {"image": "x.jpg", "bars": 2, "tempo": 99.0, "key": "C#", "seed": 3, "temperature": 1.0,
                            "top_p": 0.95, "form": "phrases", "intensity": 1.0, "humanize": 0.0, "expression": 1.0, "variety": DEFAULT_VARIETY,
                            "dynamics": DEFAULT_DYNAMICS, "spread": DEFAULT_SPREAD, "valence": 0.5, "arousal": -0.25, "model": "abc"}


def test_variety_is_checked_and_kept_with_the_piece():
    assert GenerationSettings(variety=0.0).metadata(VA(0.0, 0.0))["variety"] == 0.0
    for bad in (-0.1, MAX_VARIETY + 0.1, float("nan")):
        with pytest.raises(SettingError, match="variety"):
            GenerationSettings(variety=bad)


def test_dynamics_is_checked_and_kept_with_the_piece():
    assert GenerationSettings(dynamics=0.0).metadata(VA(0.0, 0.0))["dynamics"] == 0.0
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(SettingError, match="dynamics"):
            GenerationSettings(dynamics=bad)


def test_spread_is_checked_and_kept_with_the_piece():
    assert GenerationSettings(spread=1.0).metadata(VA(0.0, 0.0))["spread"] == 1.0
    for bad in (0.0, MIN_SPREAD - 0.01, MAX_SPREAD + 0.1, float("nan")):
        with pytest.raises(SettingError, match="spread"):
            GenerationSettings(spread=bad)


def test_ranking_puts_the_closest_emotion_first_and_keeps_order_on_ties():
    s = GenerationSettings()
    pieces = [Plan(s, VA(0.5, 0.5)).piece(()) for _ in range(3)]
    judged = [Judged(pieces[0], VA(-0.5, 0.5)), Judged(pieces[1], VA(0.4, 0.5)), Judged(pieces[2], None)]
    assert [j.piece is pieces[i] for j, i in zip(rank_by_fit(judged), (1, 0, 2))] == [True, True, True]
    assert rank_by_fit(judged)[-1].fit == math.inf


def test_intensity_scales_the_aim_from_the_centre_and_everything_follows_the_aim():
    t = VA(0.3, -0.6)
    neutral, doubled = GenerationSettings(intensity=0.0), GenerationSettings(intensity=2.0)
    assert neutral.aim(t) == VA(0.0, 0.0) and neutral.tempo_for(t) == 108.0 and neutral.key_for(t).mode == "major"
    assert doubled.aim(t) == VA(0.6, -1.0)  # clipped to the plane
    assert doubled.tempo_for(t) == 72.0 and GenerationSettings(intensity=1.0).aim(t) == t
    a = GenerationSettings().aim(t)  # the default: 1.5
    assert (a.valence, a.arousal) == pytest.approx((0.45, -0.9))
    assert GenerationSettings(intensity=0.5).metadata(t)["intensity"] == 0.5
    with pytest.raises(SettingError):
        GenerationSettings(intensity=2.5)


def test_a_clock_that_rules_sets_the_tempo_of_the_timing_and_of_the_file():
    """``stream --link``: the session's tempo replaces the arousal's in the plan, so humanizing turns
    milliseconds into beats at it and the take's metadata records it (it once kept the old tempo)."""
    from pathlib import Path

    from engine.generation.runtime import Runtime

    rt = Runtime.load()
    enc = rt.encode(Path(__file__).resolve().parents[1] / "examples" / "coffee.jpg")
    s = GenerationSettings(bars=2, seed=4, humanize=0.8)
    linked = rt.plan(s, [enc], tempo=97.0)
    assert linked.tempo == 97.0 and linked.metadata()["tempo"] == 97.0
    asked = rt.plan(GenerationSettings(bars=2, seed=4, humanize=0.8, tempo=97.0), [enc])
    assert list(rt.stream_notes(linked)) == list(rt.stream_notes(asked))
    own = rt.plan(s, [enc])
    assert own.tempo != 97.0 and list(rt.stream_notes(own)) != list(rt.stream_notes(linked))


def test_a_plan_resolves_the_phrase_the_pictures_and_the_loop_once():
    from engine.music.primer import primer_from_notes

    primer = primer_from_notes([NoteEvent(62, 80, i * 0.5, 0.5) for i in range(8)], 90.0, "p.mid")
    plan = Plan(GenerationSettings(seed=MAX_SEED), VA(0.6, 0.2))
    nxt = plan.next_piece(2, VA(-0.8, 0.0))
    assert nxt.settings.seed == 0 and nxt.target == VA(-0.8, 0.0) and nxt.prime == ()
    assert nxt.key.mode == "minor" and auto_key(0.5, MAX_SEED).tonic in {nxt.key.tonic, (nxt.key.tonic + 3) % 12}
    from engine.request import make_plan

    class Enc:
        def __init__(self, va, image):
            self.va, self.image, self.memory = va, image, object()

    p = make_plan(GenerationSettings(bars=4), [Enc(VA(0.5, 0.5), "a.jpg"), Enc(VA(-0.5, -0.5), "b.jpg")],
                  primer=primer, window=512)
    assert p.settings.arc == (VA(0.5, 0.5), VA(-0.5, -0.5)) and p.images == ("a.jpg", "b.jpg")
    assert p.settings.tempo == 90.0 and p.prime and p.steer(3).memory is not p.steer(0).memory
    assert p.metadata()["images"] == ["a.jpg", "b.jpg"] and p.metadata()["prime"] == "p.mid"
