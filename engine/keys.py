"""Keys: Krumhansl-Schmuckler estimation, the mode token, and transposition.

Decision (made before training): every training piece is transposed so its estimated tonic
is C (major) or A (minor) — the relative pair sharing the white-key signature — and the
estimated mode becomes a conditioning token (``Mode_major`` / ``Mode_minor``). At generation
the mode comes from the requested key, or with ``--key auto`` from the target valence
(valence ≥ 0 → major); the result is then transposed from C/Am to the requested tonic.
``auto`` keeps C major / A minor.
"""
from __future__ import annotations

import numpy as np

from .events import NoteEvent

# Krumhansl & Kessler (1982) key profiles.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCH_CLASSES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_ALIASES = {"DB": 1, "C#": 1, "D#": 3, "EB": 3, "GB": 6, "F#": 6, "G#": 8, "AB": 8, "A#": 10, "BB": 10, "CB": 11, "E#": 5, "FB": 4, "B#": 0}


def pitch_class_histogram(pitches: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    pitches = np.asarray(pitches, dtype=int)
    w = np.ones(len(pitches)) if weights is None else np.asarray(weights, dtype=float)
    return np.bincount(pitches % 12, weights=w, minlength=12).astype(float)


def key_correlations(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of the histogram with the 12 major and 12 minor profiles."""
    if hist.sum() <= 0 or np.allclose(hist, hist[0]):
        return np.zeros(12), np.zeros(12)
    maj = np.array([np.corrcoef(hist, np.roll(MAJOR_PROFILE, k))[0, 1] for k in range(12)])
    mnr = np.array([np.corrcoef(hist, np.roll(MINOR_PROFILE, k))[0, 1] for k in range(12)])
    return maj, mnr


def estimate_key(pitches, durations=None) -> tuple[int, str, float]:
    """(tonic pitch class, 'major'|'minor', correlation) by duration-weighted Krumhansl-Schmuckler."""
    maj, mnr = key_correlations(pitch_class_histogram(pitches, durations))
    if maj.max() >= mnr.max():
        return int(maj.argmax()), "major", float(maj.max())
    return int(mnr.argmax()), "minor", float(mnr.max())


def major_clarity(pitches, durations=None) -> float:
    """Best major-key correlation minus best minor-key correlation (> 0 leans major)."""
    maj, mnr = key_correlations(pitch_class_histogram(pitches, durations))
    return float(maj.max() - mnr.max())


def shift_to_reference(tonic: int, mode: str) -> int:
    """Semitones that move a piece in (tonic, mode) to C major / A minor, within ±6."""
    ref = 0 if mode == "major" else 9
    s = (ref - tonic) % 12
    return s - 12 if s > 6 else s


def parse_key(key: str) -> tuple[int, str] | None:
    """'auto' → None; 'C', 'F#', 'Bb', 'Am', 'C#m', 'Eb minor', 'D major' → (tonic, mode)."""
    k = key.strip()
    if k.lower() == "auto":
        return None
    mode = "major"
    low = k.lower()
    for suffix, m in ((" minor", "minor"), (" major", "major"), ("min", "minor"), ("maj", "major"), ("m", "minor")):
        if low.endswith(suffix):
            k, mode = k[: len(k) - len(suffix)].strip(), m
            break
    name = k.upper()
    if len(name) == 1 and name in "CDEFGAB":
        tonic = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[name]
    elif name in _ALIASES:
        tonic = _ALIASES[name]
    else:
        raise ValueError(f"unknown key {key!r}: use auto, or a tonic like C, F#, Bb with an optional m for minor (e.g. Am)")
    return tonic, mode


def key_name(tonic: int, mode: str) -> str:
    """mido key-signature name, e.g. 'Eb' or 'C#m'."""
    names = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"] if mode == "major" else ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
    return names[tonic % 12] + ("m" if mode == "minor" else "")


def resolve_key(key: str, valence: float) -> tuple[int, str]:
    """The (tonic, mode) to generate in: the requested key, or from valence for 'auto'."""
    parsed = parse_key(key)
    if parsed is None:
        return (0, "major") if valence >= 0 else (9, "minor")
    return parsed


def transpose_from_reference(notes: list[NoteEvent], tonic: int, mode: str) -> list[NoteEvent]:
    """Move notes generated in C major / A minor to the requested tonic (nearest direction),
    folding any note that leaves the piano range back by an octave."""
    s = -shift_to_reference(tonic, mode)
    out = []
    for n in notes:
        p = n.pitch + s
        while p < 21:
            p += 12
        while p > 108:
            p -= 12
        out.append(NoteEvent(p, n.velocity, n.start, n.duration, n.channel))
    return out
