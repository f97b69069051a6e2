"""Humanize: the small timing and loudness deviations a pianist makes, seeded so a piece
regenerates exactly.

Not uniform noise. What players do, and what this adds in proportion to ``amount`` (0..1;
the numbers below are at 1):

* **time that breathes** — a slow drift of the whole hand, one value per beat drawn around the
  previous beat's (a random walk, sd 3 ms a beat, held within ±15 ms), linear in between;
* **metric placement** — downbeats a touch ahead (-4 ms on beat one, -2 ms on beat three),
  off-beat eighths and sixteenths laid back (+3 and +5 ms);
* **each onset's own scatter** — sd 5 ms for the hand, and sd 1.5 ms for each finger in it;
* **chords spread** — notes struck together roll upward, 5 ms a note (at most 20 ms), and the
  top voice (the melody) sounds 6 velocity steps over the rest;
* **accents** — beat one +6 velocity, beat three +3, off-beats -4, sixteenths -6, plus sd 4;
* **articulation** — each release moves by sd 4 ms (never under 15 ms of sound).

Offsets are milliseconds at the piece's tempo, turned into beats. Every draw comes from
``numpy.random.default_rng((seed, SALT, ...))`` keyed by the beat or the onset, never by a
running state, so the same seed gives the same file and notes can be humanized as they
stream in (one onset's chord is held back until the next onset shows it is complete).
"""
from __future__ import annotations

import math
from typing import Iterable, Iterator

import numpy as np

from ..events import BEATS_PER_BAR, NoteEvent

MAX_HUMANIZE = 1.0
MAX_SWING = 1.0
TRIPLET_LATE = 1 / 6  # beats: an off-beat eighth at full swing lands two thirds into the beat
SALT = 0x48554D          # "HUM": keeps these draws apart from the sampler's
EPS = 1e-6
DRIFT_STEP_MS, DRIFT_LIMIT_MS = 3.0, 15.0
PLACEMENT_MS = {"one": -4.0, "three": -2.0, "beat": 0.0, "eighth": 3.0, "sixteenth": 5.0}
SCATTER_MS, FINGER_MS = 5.0, 1.5
ROLL_MS, ROLL_LIMIT_MS = 5.0, 20.0
ACCENT = {"one": 6.0, "three": 3.0, "beat": 0.0, "eighth": -4.0, "sixteenth": -6.0}
TOP_VOICE, VELOCITY_SD = 6.0, 4.0
RELEASE_MS, MIN_SOUND_MS = 4.0, 15.0


def metric_place(beat: float) -> str:
    """Where an onset falls in a 4/4 bar: one, three, beat (two/four), eighth or sixteenth."""
    in_bar = beat % BEATS_PER_BAR
    step = round(in_bar * 4)  # sixteenths
    if abs(in_bar * 4 - step) > 1e-3 or step % 2:
        return "sixteenth"
    if step % 4:
        return "eighth"
    return {0: "one", 8: "three"}.get(step % 16, "beat")


class _Drift:
    """The random walk of the hand's timing, one value per beat, deterministic from the seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.values = [0.0]

    def at(self, beat: float) -> float:
        b = max(0.0, beat)
        i = int(b)
        while len(self.values) <= i + 1:
            k = len(self.values)
            step = np.random.default_rng((self.seed, SALT, 1, k)).normal(0.0, DRIFT_STEP_MS)
            self.values.append(float(np.clip(self.values[-1] + step, -DRIFT_LIMIT_MS, DRIFT_LIMIT_MS)))
        f = b - i
        return (1 - f) * self.values[i] + f * self.values[i + 1]


def _play_chord(chord: list[NoteEvent], amount: float, seed: int, drift: _Drift, ms: float) -> list[NoteEvent]:
    onset = chord[0].start
    place = metric_place(onset)
    rng = np.random.default_rng((seed, SALT, 2, int(round(onset * 960))))
    shared = drift.at(onset) + PLACEMENT_MS[place] + rng.normal(0.0, SCATTER_MS)
    top = max(range(len(chord)), key=lambda i: chord[i].pitch)
    out = []
    for i, n in enumerate(sorted(chord, key=lambda n: n.pitch)):
        shift_ms = amount * (shared + rng.normal(0.0, FINGER_MS) + min(ROLL_LIMIT_MS, ROLL_MS * i))
        release_ms = amount * (shared + rng.normal(0.0, RELEASE_MS))
        start = max(0.0, n.start + shift_ms * ms)
        end = max(start + MIN_SOUND_MS * ms, n.end + release_ms * ms)
        accent = ACCENT[place] + (TOP_VOICE if len(chord) > 1 and n is chord[top] else 0.0)
        vel = int(np.clip(round(n.velocity + amount * (accent + rng.normal(0.0, VELOCITY_SD))), 1, 127))
        out.append(NoteEvent(n.pitch, vel, start, end - start, n.channel))
    return out


def humanize(notes: Iterable[NoteEvent], amount: float, seed: int, tempo: float) -> Iterator[NoteEvent]:
    """``notes`` (in start order, as the model writes them) played by a person; ``amount`` 0
    gives them back unchanged. ``tempo`` (BPM) turns milliseconds into beats."""
    if amount <= 0:
        yield from notes
        return
    ms = float(tempo) / 60000.0  # beats per millisecond
    drift = _Drift(seed)
    chord: list[NoteEvent] = []
    for n in notes:
        if chord and abs(n.start - chord[0].start) > EPS:
            yield from _play_chord(chord, amount, seed, drift, ms)
            chord = []
        chord.append(n)
    if chord:
        yield from _play_chord(chord, amount, seed, drift, ms)


def swing_time(beat: float, amount: float) -> float:
    """``beat`` moved by swing: inside each beat the off-beat eighth (``.5``) goes ``amount`` x 1/6 of
    a beat later — to ``.667``, a triplet feel, at 1 — and every other point in the beat moves in
    proportion (piecewise linear through the beat's start, its off-beat and its end), so the 16ths
    follow their eighths, the downbeats stay, and notes keep their order."""
    whole = math.floor(beat)
    f = beat - whole
    mid = 0.5 + amount * TRIPLET_LATE
    return whole + (f * mid / 0.5 if f <= 0.5 else mid + (f - 0.5) * (1.0 - mid) / 0.5)


def swing(notes: Iterable[NoteEvent], amount: float) -> Iterator[NoteEvent]:
    """Each note's start and end moved by ``swing_time`` (``amount`` 0: unchanged)."""
    for n in notes:
        if amount <= 0:
            yield n
            continue
        start, end = swing_time(n.start, amount), swing_time(n.end, amount)
        yield NoteEvent(n.pitch, n.velocity, start, max(end - start, 1e-3), n.channel)


def perform(notes: Iterable[NoteEvent], settings, tempo: float) -> Iterator[NoteEvent]:
    """The grid's notes (in start order) as the request's performance settings play them
    (``humanize``, then ``swing``), at ``tempo`` BPM: every timing setting is applied here."""
    return swing(humanize(notes, settings.humanize, settings.seed, tempo), settings.swing)
