"""Keys: Krumhansl-Schmuckler estimation, the mode token, and transposition.

Decision (made before training): every training piece is transposed so its estimated tonic
is C (major) or A (minor) — the relative pair sharing the white-key signature — and the
estimated mode becomes a conditioning token (``Mode_major`` / ``Mode_minor``). At generation
the mode comes from the requested key, or with ``--key auto`` from the target valence
(valence ≥ 0 → major); the result is then transposed from C/Am to the requested tonic.
``auto`` takes the mode from valence and the tonic from the seed (all 24 keys; seed 0 is C major /
A minor). A requested key keeps the user's spelling (``Key.name``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..events import PIANO_HIGH, PIANO_LOW, NoteEvent

# Krumhansl & Kessler (1982) key profiles.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# One spelling per pitch class for menus (the app's key list): the common key-signature names.
PITCH_CLASSES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Key signatures that exist (at most 7 sharps or flats), as MIDI files name them; another
# spelling of the same key is written with the preferred one for its mode.
_SIGNATURES = {"C", "G", "D", "A", "E", "B", "F#", "C#", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb",
               "Am", "Em", "Bm", "F#m", "C#m", "G#m", "D#m", "A#m", "Dm", "Gm", "Cm", "Fm", "Bbm", "Ebm", "Abm"}
_PREFERRED = {"major": ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"],
              "minor": ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]}


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


@dataclass(frozen=True)
class Key:
    """A key to generate in: tonic pitch class, mode, and its name as the user spelled it.

    ``name`` is what reports and metadata show (``C#`` stays ``C#``, ``Ebm`` stays ``Ebm``);
    ``signature`` is the same key as a MIDI key-signature name, which exists for only one or
    two spellings of each key (there is no ``D#`` major signature, so it is written as ``Eb``).
    """

    tonic: int
    mode: str
    name: str

    @property
    def signature(self) -> str:
        suffix = "m" if self.mode == "minor" else ""
        if self.name in _SIGNATURES:
            return self.name
        return _PREFERRED[self.mode][self.tonic] + suffix


def _spell(letter: str, accidental: str, mode: str) -> str:
    return letter.upper() + accidental.lower() + ("m" if mode == "minor" else "")


def parse_key(key: str) -> Key | None:
    """'auto' → None; 'C', 'F#', 'Bb', 'Am', 'c#m', 'Eb minor', 'D major' → Key (spelling kept)."""
    k = key.strip()
    if k.lower() == "auto":
        return None
    mode = "major"
    low = k.lower()
    for suffix, m in ((" minor", "minor"), (" major", "major"), ("min", "minor"), ("maj", "major"), ("m", "minor")):
        if low.endswith(suffix):
            k, mode = k[: len(k) - len(suffix)].strip(), m
            break
    letter, accidental = k[:1], k[1:]
    if letter.upper() not in _NATURALS or accidental.lower() not in ("", "#", "b"):
        raise ValueError(f"unknown key {key!r}: use auto, or a tonic like C, F#, Bb with an optional m for minor (e.g. Am)")
    tonic = (_NATURALS[letter.upper()] + {"": 0, "#": 1, "b": -1}[accidental.lower()]) % 12
    return Key(tonic, mode, _spell(letter, accidental, mode))


# --key auto: one spelling per key, the usual key-signature names
AUTO_NAMES = {"major": ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"],
              "minor": ["Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm"]}


def auto_key(valence: float, seed: int) -> Key:
    """The key ``--key auto`` picks: the mode from valence (≥ 0 → major), the tonic from the seed,
    stepping round the circle of fifths from C major / A minor (seed 0), so neighbouring seeds
    land in related keys and every one of the 24 keys is reachable."""
    mode = "major" if valence >= 0 else "minor"
    tonic = ((0 if mode == "major" else 9) + 7 * seed) % 12
    return Key(tonic, mode, AUTO_NAMES[mode][tonic])


def resolve_key(key: str, valence: float, seed: int = 0) -> Key:
    """The key to generate in: the requested one as spelled, or for 'auto' ``auto_key``."""
    parsed = parse_key(key)
    return auto_key(valence, seed) if parsed is None else parsed


def transpose_from_reference(notes: list[NoteEvent], key: Key) -> list[NoteEvent]:
    """Move notes generated in C major / A minor to the requested tonic (nearest direction),
    folding any note that leaves the piano range back by an octave."""
    s = -shift_to_reference(key.tonic, key.mode)
    out = []
    for n in notes:
        p = n.pitch + s
        while p < PIANO_LOW:
            p += 12
        while p > PIANO_HIGH:
            p -= 12
        out.append(NoteEvent(p, n.velocity, n.start, n.duration, n.channel))
    return out
