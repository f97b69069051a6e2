"""The judge: a piece's valence and arousal from interpretable musical features, in numpy.

It is the *evaluation* model (and the app's ranking, and ``synesthete music-va``), so it
shares nothing with the training-time VA estimator (``engine.training.va_estimator``), which sees
token embeddings: the generator is never trained to fool this judge.

Features are computed from notes in beats (the grid the product writes), so the tempo a
user picks does not change the verdict:

====================  =================================================================
note_density          log(1 + notes per beat)
onset_density         log(1 + distinct onsets per beat)
velocity_mean/std     MIDI velocity / 127
pitch_mean/std        MIDI pitch / 12 (octaves)
pitch_range           (p95 - p5) / 12
duration_mean         log(mean note length in beats)
polyphony             mean notes sounding at each onset
major_clarity         best major minus best minor Krumhansl correlation
key_strength          best key correlation
pc_entropy            pitch-class entropy (bits)
high_share            share of notes above C5 (72)
short_share           share of notes of a 16th or shorter
====================  =================================================================

Model: ridge regression on standardised features, one output per dimension, output
clipped to [-1, 1]; weights in ``engine/models/judge.json`` with how they were trained.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..events import NoteEvent, quadrant
from ..generation.tokens import STEPS_PER_BEAT
from .keys import key_correlations, pitch_class_histogram

FEATURES = (
    "note_density", "onset_density", "velocity_mean", "velocity_std", "pitch_mean", "pitch_std", "pitch_range",
    "duration_mean", "polyphony", "major_clarity", "key_strength", "pc_entropy", "high_share", "short_share",
)
JUDGE_PATH = Path(__file__).resolve().parents[1] / "models" / "judge.json"


def features(pitch, velocity, start, duration) -> np.ndarray:
    """Feature vector (len(FEATURES),) of a piece; notes as parallel arrays, times in beats."""
    pitch = np.asarray(pitch, dtype=float)
    velocity = np.asarray(velocity, dtype=float)
    start = np.asarray(start, dtype=float)
    duration = np.maximum(np.asarray(duration, dtype=float), 1e-3)
    if len(pitch) == 0:
        raise ValueError("a piece with no notes has no emotion to judge")
    span = max(float((start + duration).max() - start.min()), 1.0)
    onsets, counts = np.unique(np.round(start * STEPS_PER_BEAT) / STEPS_PER_BEAT, return_counts=True)
    hist = pitch_class_histogram(pitch.astype(int), duration)
    maj, mnr = key_correlations(hist)
    p = hist / hist.sum() if hist.sum() > 0 else np.full(12, 1 / 12)
    ent = float(-(p[p > 0] * np.log2(p[p > 0])).sum())
    return np.array([
        np.log1p(len(pitch) / span),
        np.log1p(len(onsets) / span),
        velocity.mean() / 127.0,
        velocity.std() / 127.0,
        pitch.mean() / 12.0,
        pitch.std() / 12.0,
        (np.percentile(pitch, 95) - np.percentile(pitch, 5)) / 12.0,
        np.log(duration.mean()),
        counts.mean(),
        maj.max() - mnr.max(),
        max(maj.max(), mnr.max()),
        ent,
        float((pitch > 72).mean()),
        float((duration <= 0.25 + 1e-6).mean()),
    ])


def features_of_notes(notes: list[NoteEvent]) -> np.ndarray:
    return features([n.pitch for n in notes], [n.velocity for n in notes], [n.start for n in notes], [n.duration for n in notes])


@dataclass
class Judge:
    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray  # (n_features, 2)
    intercept: np.ndarray  # (2,)
    info: dict

    def predict_features(self, x: np.ndarray) -> np.ndarray:
        """(n, F) or (F,) features → (n, 2) or (2,) VA in [-1, 1]."""
        z = (np.asarray(x, dtype=float) - self.mean) / self.std
        return np.clip(z @ self.coef + self.intercept, -1.0, 1.0)

    def predict(self, notes: list[NoteEvent]) -> tuple[float, float]:
        """(valence, arousal) of a piece; silence is judged neutral (0, 0)."""
        if not notes:
            return 0.0, 0.0
        v, a = self.predict_features(features_of_notes(notes))
        return float(v), float(a)

    def verdict(self, notes: list[NoteEvent]) -> dict:
        v, a = self.predict(notes)
        return {"valence": round(v, 4), "arousal": round(a, 4), "quadrant": quadrant(v, a)}

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, alpha: float = 1.0, info: dict | None = None) -> "Judge":
        mean, std = x.mean(0), x.std(0) + 1e-8
        z = (x - mean) / std
        yc = y.mean(0)
        a = z.T @ z + alpha * len(z) * np.eye(z.shape[1]) / 100.0
        coef = np.linalg.solve(a, z.T @ (y - yc))
        return cls(mean, std, coef, yc, info or {})

    def save(self, path: Path = JUDGE_PATH) -> None:
        d = {"features": list(FEATURES), "mean": self.mean.tolist(), "std": self.std.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept.tolist(), "info": self.info}
        tmp = Path(str(path) + ".part")
        tmp.write_text(json.dumps(d, indent=1))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path = JUDGE_PATH) -> "Judge":
        try:
            d = json.loads(Path(path).read_text())
            if d["features"] != list(FEATURES):
                raise ValueError("feature list differs from this version's")
            return cls(np.asarray(d["mean"]), np.asarray(d["std"]), np.asarray(d["coef"]), np.asarray(d["intercept"]), d.get("info", {}))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: judge model missing; reinstall Synesthete") from None
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: judge model is corrupt ({e})") from None
