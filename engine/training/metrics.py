"""Evaluation metrics: the paper's MusPy metrics, and emotion-fidelity statistics.

MusPy (pinned 0.5.0) computes the paper's metrics; we only convert notes to a
``muspy.Music`` and choose the grid, as docs/DESIGN.md (Evaluation) specifies:

* default grid: ``adjust_resolution(24)`` and ``groove_consistency(measure_resolution=96)``;
* 16-steps-per-bar grid: resolution 4, ``measure_resolution=16`` (where groove consistency
  is not trivially ≈ 1).
"""
from __future__ import annotations

import math

import numpy as np

from ..events import NoteEvent


def to_muspy(notes: list[NoteEvent], resolution: int = 4):
    """Notes in beats → a one-track ``muspy.Music`` at ``resolution`` time steps per beat."""
    import muspy

    track = muspy.Track(program=0, is_drum=False, notes=[
        muspy.Note(time=int(round(n.start * resolution)), pitch=int(n.pitch), duration=max(1, int(round(n.duration * resolution))), velocity=int(n.velocity))
        for n in notes
    ])
    return muspy.Music(resolution=resolution, tracks=[track])


def muspy_metrics(notes: list[NoteEvent]) -> dict:
    """The paper's table for one piece, on both grids (NaN where MusPy says undefined)."""
    import muspy

    m4 = to_muspy(notes, 4)
    m24 = to_muspy(notes, 4)
    m24.adjust_resolution(24)
    return {
        "polyphony_rate": muspy.polyphony_rate(m24),
        "pitch_entropy": muspy.pitch_entropy(m24),
        "pitch_class_entropy": muspy.pitch_class_entropy(m24),
        "groove_consistency": muspy.groove_consistency(m24, measure_resolution=96),
        "polyphony_rate_16": muspy.polyphony_rate(m4),
        "groove_consistency_16": muspy.groove_consistency(m4, measure_resolution=16),
    }


def note_density(notes: list[NoteEvent]) -> float:
    """Notes per beat over the span from the first onset to the last note-off."""
    if not notes:
        return 0.0
    span = max(n.end for n in notes) - min(n.start for n in notes)
    return len(notes) / max(span, 1.0)


def mean_velocity(notes: list[NoteEvent]) -> float:
    return float(np.mean([n.velocity for n in notes])) if notes else math.nan


def spearman(x, y) -> float:
    """Spearman rank correlation: Pearson correlation of average ranks (ties share a rank)."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return math.nan
    return float(spearmanr(x[ok], y[ok]).statistic)
