"""The one loop from a decoder to the notes of a piece, for every backend.

ONNX Runtime (the product), PyTorch (evaluation of every run, the LSTM included) and the
benchmark all come through here, so a piece is made the same way wherever it is made: the
mode from the resolved key, grammar-masked sampling (``engine.sampling``), transposition from
C major / A minor to the key, and notes cut at the last bar line so a clip loops cleanly.
"""
from __future__ import annotations

from typing import Callable, Iterator

from .events import VA, NoteEvent
from .humanize import humanize
from .keys import transpose_from_reference
from .request import GenerationSettings, Piece
from .sampling import SamplingSettings, Stepper, TokenStream, phrase_plan


def sampling_settings(settings: GenerationSettings, target: VA) -> SamplingSettings:
    plan = phrase_plan(settings.bars) if settings.form == "phrases" else ()
    return SamplingSettings(bars=settings.bars, temperature=settings.temperature, top_p=settings.top_p,
                            seed=settings.seed, mode=settings.key_for(target).mode, plan=plan)


def compose_notes(stepper_for: Callable[[VA], Stepper], settings: GenerationSettings, target: VA,
                  tokens_out: list[int] | None = None) -> Iterator[NoteEvent]:
    """Notes of one piece in start order, yielded as soon as each is sampled.

    ``stepper_for(va)`` makes the backend's decoder conditioned on ``va``: it is given the aimed VA
    (``settings.aim(target)``), which also decides the mode and key. ``tokens_out`` receives
    every sampled token (for token error rates)."""
    end = settings.beats
    played = humanize(_grid_notes(stepper_for, settings, target, tokens_out), settings.humanize,
                      settings.seed, settings.tempo_for(target))
    for n in played:
        if n.start >= end:  # pushed past the last bar line by a late hand: cut, as the clip is
            continue
        yield n if n.end <= end else NoteEvent(n.pitch, n.velocity, n.start, end - n.start, n.channel)


def _grid_notes(stepper_for, settings: GenerationSettings, target: VA, tokens_out: list[int] | None) -> Iterator[NoteEvent]:
    """The model's notes on the grid, in the key."""
    key = settings.key_for(target)
    stepper = stepper_for(settings.aim(target))
    for tok, notes in TokenStream(stepper, sampling_settings(settings, target)):
        if tokens_out is not None:
            tokens_out.append(tok)
        yield from transpose_from_reference(notes, key)


def compose(stepper_for: Callable[[VA], Stepper], settings: GenerationSettings, target: VA, *, image: str | None = None,
             model: str | None = None) -> Piece:
    """A whole piece at once."""
    tokens: list[int] = []
    notes = tuple(compose_notes(stepper_for, settings, target, tokens))
    return Piece(notes, settings, target, image=image, model=model, tokens=tuple(tokens))
