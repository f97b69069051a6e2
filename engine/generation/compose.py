"""The one loop from a decoder to the notes of a piece, for every backend.

ONNX Runtime (the product), PyTorch (evaluation of every run, the LSTM included) and the
benchmark all come through here, so a piece is made the same way wherever it is made: the
mode from the resolved key, grammar-masked sampling (``engine.generation.sampling``), transposition from
C major / A minor to the key, each velocity placed inside its bin (``engine.music.dynamics``),
humanizing, and notes cut at the last bar line so a clip loops
cleanly.

Emotion may change bar by bar: with an arc (``GenerationSettings.arc``), several pictures, or
live steering (``steer``), the stepper is re-conditioned where each bar begins. A primer (the
musician's phrase, as tokens of whole bars) is fed first and the piece continues it; the
notes returned are the continuation's, from beat 0.
"""
from __future__ import annotations

from typing import Callable, Iterator

from ..events import BEATS_PER_BAR, VA, BarAim, NoteEvent, Steer
from ..music.dynamics import shape_dynamics
from ..music.humanize import perform
from ..music.form import MIN_SONG_BARS, restatements
from ..music.keys import shift_to_reference, transpose_from_reference
from ..request import Piece, Plan
from ..settings import GenerationSettings
from .harmony import in_reference
from .sampling import SamplingSettings, Stepper, TokenStream, phrase_plan
from .tokens import BAR


REFOCUS_AT = 0.4    # |Δvalence| + |Δarousal| since the last turn that makes the model let go of its context
REFOCUS_BARS = 1    # the bars of context it keeps then
KEY_PULL = 1.0  # a continuation leans toward the primer's key (engine.generation.sampling.key_pull_bias)
REGISTER = 1.0  # a song (MIN_SONG_BARS or more) keeps its first phrase's register (engine.generation.register)


def sampling_settings(settings: GenerationSettings, target: VA, prime: tuple[int, ...] = ()) -> SamplingSettings:
    """The token loop's settings; the expression bias starts at the first bar's aimed arousal, and
    the progression asked for is held from the first bar after the primer, in the reference key."""
    primed = prime.count(BAR)
    plan: tuple = ()
    restated = phrase_plan(settings.bars) if settings.form == "phrases" else restatements(settings.sections) if settings.sections else ()
    if restated:
        plan = (None,) * primed + tuple(None if r is None else r + primed for r in restated)
    key = settings.key_for(target)
    chords: tuple = ()
    progression = settings.progression
    if progression:
        chords = (None,) * (primed * BEATS_PER_BAR) + in_reference(progression, shift_to_reference(key.tonic, key.mode))
        # a bar restates an earlier one only over the same chords: a copy would carry the old harmony
        bar_chords = lambda b: chords[b * BEATS_PER_BAR:(b + 1) * BEATS_PER_BAR]
        plan = tuple(None if r is None or bar_chords(b) != bar_chords(r) else r for b, r in enumerate(plan))
    return SamplingSettings(bars=primed + settings.bars, temperature=settings.temperature, top_p=settings.top_p,
                            seed=settings.seed, mode=key.mode, plan=plan, prime=tuple(prime),
                            scale_lock=settings.scale_lock, arousal=settings.bar_aim(target, 0).arousal,
                            valence=settings.bar_aim(target, 0).valence,
                            expression=settings.expression, key_pull=KEY_PULL if prime else 0.0, spread=settings.spread,
                            chords=chords, register=REGISTER if settings.bars >= MIN_SONG_BARS else 0.0)


def compose_notes(stepper_for: Callable[[VA], Stepper], settings: GenerationSettings, target: VA,
                  tokens_out: list[int] | None = None, *, steer: Steer | None = None,
                  prime: tuple[int, ...] = ()) -> Iterator[NoteEvent]:
    """Notes of one piece in start order, yielded as soon as each is sampled.

    ``stepper_for(va)`` makes the backend's decoder conditioned on ``va``: it is given the aimed VA
    of the first bar (``settings.bar_aim``), which also decides the mode and key. ``steer(bar)``
    (live) or the settings' arc re-aim each later bar. ``tokens_out`` receives every sampled
    token (for token error rates)."""
    end = settings.beats
    grid = shape_dynamics(_grid_notes(stepper_for, settings, target, tokens_out, steer, prime), settings.dynamics)
    played = perform(grid, settings, settings.tempo_for(target))
    for n in played:
        if n.start >= end:  # pushed past the last bar line by a late hand: cut, as the clip is
            continue
        yield n if n.end <= end else NoteEvent(n.pitch, n.velocity, n.start, end - n.start, n.channel)


def _grid_notes(stepper_for, settings: GenerationSettings, target: VA, tokens_out, steer: Steer | None,
                prime: tuple[int, ...]) -> Iterator[NoteEvent]:
    """The model's notes on the grid, in the key, after the primer."""
    key = settings.key_for(target)
    first = settings.bar_aim(target, 0)
    stepper = stepper_for(first)
    primed = prime.count(BAR)
    skip = primed * BEATS_PER_BAR
    state = {"va": first, "memory": None, "anchor": first}

    def on_bar(bar: int) -> None:
        if bar < primed:
            return
        aim = steer(bar - primed) if steer is not None else None
        if aim is not None and aim.chords is not None:  # the harmony the musician holds now
            stream.hold_chords(bar, in_reference(aim.chords, shift_to_reference(key.tonic, key.mode)))
        if aim is None and (settings.arc or settings.sections):  # the arc, or the form's lean, where nobody steers
            aim = BarAim(settings.bar_aim(target, bar - primed))
        if aim is not None and (aim.va != state["va"] or aim.memory is not state["memory"]):
            stepper.retarget((aim.va.valence, aim.va.arousal), aim.memory)
            stream.set_arousal(aim.va.arousal)
            if abs(aim.va.arousal - state["anchor"].arousal) + abs(aim.va.valence - state["anchor"].valence) >= REFOCUS_AT:
                stream.refocus(REFOCUS_BARS)   # a real turn: the context since the last turn lets go
                state["anchor"] = aim.va
            state.update(va=aim.va, memory=aim.memory)

    stream = TokenStream(stepper, sampling_settings(settings, target, prime), on_bar=on_bar)
    for tok, notes in stream:
        if tokens_out is not None:
            tokens_out.append(tok)
        if skip:
            notes = [NoteEvent(n.pitch, n.velocity, n.start - skip, n.duration, n.channel) for n in notes if n.start >= skip]
        yield from transpose_from_reference(notes, key)


def compose(stepper_for: Callable[[VA], Stepper], plan: Plan) -> Piece:
    """A whole piece at once, as ``plan`` asks (its steering, its phrase)."""
    tokens: list[int] = []
    notes = tuple(compose_notes(stepper_for, plan.settings, plan.target, tokens, steer=plan.steer, prime=plan.prime))
    return plan.piece(notes, tokens)
