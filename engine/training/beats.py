"""From MIDI notes to notes on a 16th-note grid in beats.

Two kinds of input (see docs/DESIGN.md, Timing):

* **sequenced** files (VGMIDI, DAW exports): the ticks already are beats; we only round to
  the nearest 16th.
* **performances** (EMOPIA: piano transcriptions written at a constant 120 BPM tempo meta,
  onsets at chance level against any grid): we build an onset-strength envelope from the
  notes (100 frames/s, velocity-weighted, lightly smoothed), run librosa's dynamic-programming
  beat tracker (Ellis 2007) on it, map each onset to a fractional beat index by linear
  interpolation between tracked beats, pick the bar phase (which beat is the downbeat) where
  bass onsets are strongest, and round to the nearest 16th.

The sanity check keeps a performance only when the tracked tempo is plausible
(50-200 BPM) and stable (inter-beat-interval coefficient of variation ≤ 0.25), with at
least 8 beats; the rest is kept out of training and counted in ``synesthete data``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..files.midi_io import MidiPiece
from ..events import BEATS_PER_BAR
from ..generation.tokens import STEPS_PER_BEAT, GridNote

FPS = 100
MIN_BPM, MAX_BPM, MAX_IBI_CV, MIN_BEATS = 50.0, 200.0, 0.25, 8


@dataclass
class Quantized:
    notes: list[GridNote]
    tempo_bpm: float  # estimated (performances) or the file's first tempo (sequenced)
    error_ms: np.ndarray  # per-note |onset - quantized onset| in milliseconds
    ok: bool  # passed the sanity check
    reason: str = ""


def _onset_envelope(onsets_s: np.ndarray, weights: np.ndarray) -> np.ndarray:
    n = int(np.ceil(onsets_s.max() * FPS)) + FPS
    env = np.zeros(n, dtype=np.float32)
    np.add.at(env, np.clip(np.round(onsets_s * FPS).astype(int), 0, n - 1), weights.astype(np.float32))
    kernel = np.exp(-0.5 * (np.arange(-3, 4) / 1.0) ** 2)
    return np.convolve(env, kernel / kernel.sum(), mode="same").astype(np.float32)


def track_beats(onsets_s: np.ndarray, velocities: np.ndarray) -> tuple[float, np.ndarray]:
    """Beat times (s) of a performance, from its note onsets, with librosa's beat tracker."""
    import librosa  # training-time dependency only

    env = _onset_envelope(onsets_s, velocities / 127.0)
    tempo, frames = librosa.beat.beat_track(onset_envelope=env, sr=FPS, hop_length=1, start_bpm=100.0, tightness=100, trim=False)
    beats = frames.astype(np.float64) / FPS
    return float(np.atleast_1d(tempo)[0]), beats


def _beat_index(times: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Fractional beat index of each time, extrapolating with the mean interval at the ends."""
    ibi_start = beats[1] - beats[0]
    ibi_end = beats[-1] - beats[-2]
    idx = np.interp(times, beats, np.arange(len(beats), dtype=np.float64))
    idx = np.where(times < beats[0], (times - beats[0]) / ibi_start, idx)
    idx = np.where(times > beats[-1], len(beats) - 1 + (times - beats[-1]) / ibi_end, idx)
    return idx


def _beat_time(idx: np.ndarray, beats: np.ndarray) -> np.ndarray:
    ibi_start = beats[1] - beats[0]
    ibi_end = beats[-1] - beats[-2]
    t = np.interp(idx, np.arange(len(beats), dtype=np.float64), beats)
    t = np.where(idx < 0, beats[0] + idx * ibi_start, t)
    t = np.where(idx > len(beats) - 1, beats[-1] + (idx - len(beats) + 1) * ibi_end, t)
    return t


def quantize_performance(piece: MidiPiece) -> Quantized:
    on = np.array([n.start_s for n in piece.notes])
    off = np.array([n.end_s for n in piece.notes])
    vel = np.array([n.velocity for n in piece.notes], dtype=np.float64)
    pitch = np.array([n.pitch for n in piece.notes])
    tempo, beats = track_beats(on, vel)
    if len(beats) < MIN_BEATS:
        return Quantized([], tempo, np.zeros(0), False, f"only {len(beats)} beats tracked")
    ibi = np.diff(beats)
    cv = float(ibi.std() / ibi.mean())
    local_bpm = 60.0 / float(np.median(ibi))
    b_on = _beat_index(on, beats)
    b_off = _beat_index(off, beats)
    # Downbeat phase: the beat (mod 4) where low notes start most strongly.
    bass = np.where(pitch < np.median(pitch), vel, 0.25 * vel)
    near = np.abs(b_on - np.round(b_on)) < 0.125
    strength = [bass[near & (np.round(b_on).astype(int) % 4 == ph)].sum() for ph in range(4)]
    phase = int(np.argmax(strength))
    b_on = b_on - phase
    b_off = b_off - phase
    # Whole bars, keeping the phase, so that the first note *as quantized* lands in bar 1. Measured on
    # the raw onset, a first note a few ms before the first tracked beat (-0.02 beats) moved the whole
    # piece a bar later and left bar 1 empty: 18% of the EMOPIA test clips, and the strongest clue
    # that told real clips from generated ones (docs/MUSICALITY.md).
    first = np.round(b_on.min() * STEPS_PER_BEAT) / STEPS_PER_BEAT
    shift = -np.floor(first / BEATS_PER_BAR) * BEATS_PER_BAR
    q_on = np.round(b_on * STEPS_PER_BEAT) / STEPS_PER_BEAT
    err_ms = np.abs(_beat_time(q_on + phase, beats) - on) * 1000.0
    notes = []
    for i in range(len(on)):
        s = int(round((b_on[i] + shift) * STEPS_PER_BEAT))
        e = int(round((b_off[i] + shift) * STEPS_PER_BEAT))
        notes.append(GridNote(int(pitch[i]), int(vel[i]), s, max(1, e - s)))
    ok = MIN_BPM <= local_bpm <= MAX_BPM and cv <= MAX_IBI_CV
    reason = "" if ok else f"tempo {local_bpm:.0f} BPM, IBI CV {cv:.2f}"
    return Quantized(notes, local_bpm, err_ms, ok, reason)


def quantize_sequenced(piece: MidiPiece) -> Quantized:
    notes = []
    errs = []
    bpm = piece.tempos[0][1] if piece.tempos else 120.0
    for n in piece.notes:
        s = int(round(n.start_beat * STEPS_PER_BEAT))
        e = int(round(n.end_beat * STEPS_PER_BEAT))
        notes.append(GridNote(n.pitch, n.velocity, s, max(1, e - s)))
        errs.append(abs(s / STEPS_PER_BEAT - n.start_beat) * 60000.0 / bpm)
    return Quantized(notes, bpm, np.asarray(errs), True)


def quantize(piece: MidiPiece, performance: bool) -> Quantized:
    """Grid notes for a piece; ``performance`` selects beat tracking over the file's own beats."""
    return quantize_performance(piece) if performance else quantize_sequenced(piece)
