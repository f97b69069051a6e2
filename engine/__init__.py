"""Synesthete's engine: picture → valence-arousal → tokens → notes → MIDI port or file.

This package is the product and never imports torch or Qt; it runs on ONNX Runtime and numpy.

- ``request``: a request for a piece (``GenerationSettings``, every range a named constant),
  the tempo rule, key resolution, the result ``Piece`` and ranking by emotion fit
- ``runtime``: the shipped model on ONNX Runtime (``Runtime``, ``Encoding``); ``compose``: the
  one sampling loop every backend uses; ``sampling``, ``tokens``, ``keys``: its parts
- ``images``: pictures in; ``judge``: the independent music-VA judge
- ``midi_io``: ``.mid`` files; ``ports``, ``midi_in``, ``scheduler``, ``live``: real-time MIDI
- ``cli``: the ``synesthete`` command; ``bench``: speed figures
- ``training`` (a subpackage that needs the ``[train]`` extra): data, pairing, model, training,
  export to ONNX and evaluation

Importing ``engine`` loads nothing heavy; the names below are loaded on first use.
"""
from __future__ import annotations

import importlib

__all__ = ["VA", "NoteEvent", "GenerationSettings", "Piece", "Judged", "judge_piece", "rank_by_fit",
           "default_tempo", "Runtime", "Encoding", "ModelError", "UsageError", "SettingError"]

_HOME = {"VA": "events", "NoteEvent": "events", "GenerationSettings": "request", "Piece": "request",
         "Judged": "request", "judge_piece": "request", "rank_by_fit": "request", "default_tempo": "request",
         "Runtime": "runtime", "Encoding": "runtime", "ModelError": "errors", "UsageError": "errors",
         "SettingError": "errors"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
