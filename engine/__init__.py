"""Synesthete's engine: picture → valence-arousal → tokens → notes → MIDI port or file.

This package is the product and never imports torch or Qt; it runs on ONNX Runtime and numpy.
Its folders follow the flow:

- ``picture``: any picture in, its valence and arousal out (image statistics, the VA head, calibration)
- ``settings``: every generation setting declared once; ``request``: a request resolved once into a
  ``Plan``, and the ``Piece`` it gives
- ``generation``: the model on ONNX Runtime, the one compose loop, sampling, tokens, the controls
- ``music``: keys, dynamics, humanize and swing, the music-VA judge, the phrase to continue
- ``live``: MIDI ports, the scheduler, the DAW's clock, streaming, Link, steering, listening
- ``files``: ``.mid`` files, audio through a SoundFont, and the rules for every input and output path
- ``events`` and ``errors``: the values and errors every stage shares
- ``cli``: the ``synesthete`` command; ``bench``: speed figures
- ``training`` (a subpackage that needs the ``[train]`` extra): data, pairing, model, training,
  export to ONNX and evaluation

Importing ``engine`` loads nothing heavy; the names below are loaded on first use.
"""
from __future__ import annotations

import importlib

__all__ = ["VA", "NoteEvent", "GenerationSettings", "Plan", "Piece", "Judged", "judge_piece", "rank_by_fit",
           "default_tempo", "Runtime", "Encoding", "ModelError", "UsageError", "SettingError"]

_HOME = {"VA": "events", "NoteEvent": "events", "GenerationSettings": "settings", "Plan": "request", "Piece": "request",
         "Judged": "request", "judge_piece": "request", "rank_by_fit": "request", "default_tempo": "settings",
         "Runtime": "generation.runtime", "Encoding": "generation.runtime", "ModelError": "errors",
         "UsageError": "errors", "SettingError": "errors"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
