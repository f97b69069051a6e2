"""A request for a piece and the piece it returns: the one home of their rules.

Every range is a named constant, checked once when ``GenerationSettings`` is made; a bad value
raises ``SettingError`` naming the setting. The tempo rule (arousal → BPM), key resolution and
spelling, the result ``Piece`` with the metadata that regenerates it, and ranking by emotion
fit live here. The command line, ``stream``, the app and ``evaluate`` build requests and read
results only through this module.

    s = GenerationSettings(bars=8, key="C#", seed=7)       # tempo None: from the target arousal
    piece = runtime.compose(s, runtime.encode("photo.jpg"))
    piece.key.name, piece.tempo, piece.seconds, piece.metadata()
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from .errors import SettingError
from .events import BEATS_PER_BAR, MAX_TEMPO, MIN_TEMPO, VA, NoteEvent
from .humanize import MAX_HUMANIZE
from .keys import Key, resolve_key

MIN_BARS, MAX_BARS = 1, 64          # the window slides, so the upper bound is a product limit
MAX_TEMPERATURE = 5.0               # 0 = greedy
MAX_SEED = 2**63 - 1                # numpy's generators take non-negative seeds
DEFAULT_BARS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P = 8, 1.0, 0.95
MAX_INTENSITY, DEFAULT_INTENSITY = 2.0, 1.0  # how far from neutral the music goes (0: neutral)
FORMS = ("free", "phrases")         # phrases: every second phrase restates the one before (engine.sampling.phrase_plan)
DEFAULT_FORM = "free"
# arousal → tempo: calm pictures get slower music
TEMPO_AT_NEUTRAL, TEMPO_PER_AROUSAL = 108.0, 36.0


def default_tempo(arousal: float) -> float:
    """BPM for a target arousal: 72 at -1, 108 at 0, 144 at +1 (whole BPM)."""
    return float(round(TEMPO_AT_NEUTRAL + TEMPO_PER_AROUSAL * max(-1.0, min(1.0, arousal))))


def aim(target: VA, intensity: float) -> VA:
    """``target`` scaled away from the plane's centre by ``intensity`` (0 = neutral, 1 = as asked,
    2 = twice as far), clipped to the plane."""
    k = float(intensity)
    return VA(max(-1.0, min(1.0, k * target.valence)), max(-1.0, min(1.0, k * target.arousal)))


def check_tempo(tempo: float, field: str = "tempo") -> float:
    if not (isinstance(tempo, (int, float)) and math.isfinite(tempo) and MIN_TEMPO <= tempo <= MAX_TEMPO):
        raise SettingError(field, f"must be in {MIN_TEMPO:g}..{MAX_TEMPO:g} BPM (received {tempo})")
    return float(tempo)


def _check_int(field: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not (lo <= value <= hi):
        raise SettingError(field, f"must be a whole number in {lo}..{hi} (received {value})")


def _check_float(field: str, value, lo: float, hi: float, lo_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (lo < value if lo_open else lo <= value) and value <= hi):
        span = f"({lo:g}, {hi:g}]" if lo_open else f"{lo:g}..{hi:g}"
        raise SettingError(field, f"must be in {span} (received {value})")


@dataclass(frozen=True)
class GenerationSettings:
    """What the user asked for, valid by construction. ``tempo`` None follows the target arousal."""

    bars: int = DEFAULT_BARS
    tempo: float | None = None
    key: str = "auto"
    seed: int = 0
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    form: str = DEFAULT_FORM
    intensity: float = DEFAULT_INTENSITY
    humanize: float = 0.0       # 0 = exactly on the grid; 1 = a player's timing and touch (engine.humanize)

    def __post_init__(self) -> None:
        _check_int("bars", self.bars, MIN_BARS, MAX_BARS)
        if self.tempo is not None:
            check_tempo(self.tempo)
        _check_int("seed", self.seed, 0, MAX_SEED)
        _check_float("temperature", self.temperature, 0.0, MAX_TEMPERATURE)
        _check_float("top_p", self.top_p, 0.0, 1.0, lo_open=True)
        _check_float("intensity", self.intensity, 0.0, MAX_INTENSITY)
        _check_float("humanize", self.humanize, 0.0, MAX_HUMANIZE)
        if self.form not in FORMS:
            raise SettingError("form", f"must be one of {', '.join(FORMS)} (received {self.form!r})")
        try:
            resolve_key(self.key, 0.0)
        except ValueError as e:
            raise SettingError("key", str(e), whole=True) from None

    def aim(self, target: VA) -> VA:
        """The VA the music is composed for (``aim``); the tempo rule, the automatic key's mode and
        the model's conditioning all follow it."""
        return aim(target, self.intensity)

    def tempo_for(self, target: VA) -> float:
        return float(self.tempo) if self.tempo is not None else default_tempo(self.aim(target).arousal)

    def key_for(self, target: VA) -> Key:
        return resolve_key(self.key, self.aim(target).valence, self.seed)

    @property
    def beats(self) -> float:
        return float(self.bars * BEATS_PER_BAR)

    def metadata(self, target: VA, *, image: str | None = None, model: str | None = None) -> dict:
        """Everything that regenerates a piece, as stored in its ``.mid`` (key and tempo resolved)."""
        return {"image": image, "bars": self.bars, "tempo": self.tempo_for(target), "key": self.key_for(target).name,
                "seed": self.seed, "temperature": self.temperature, "top_p": self.top_p, "form": self.form,
                "intensity": self.intensity, "humanize": self.humanize,
                "valence": target.valence, "arousal": target.arousal, "model": model}


@dataclass(frozen=True)
class Piece:
    """A finished piece: notes in beats, already in ``key``, and what made them."""

    notes: tuple[NoteEvent, ...]
    settings: GenerationSettings
    target: VA
    image: str | None = None   # the picture's label (file name), if any
    model: str | None = None   # the model's id (hash of its training data list)
    tokens: tuple[int, ...] = ()

    @property
    def key(self) -> Key:
        return self.settings.key_for(self.target)

    @property
    def tempo(self) -> float:
        return self.settings.tempo_for(self.target)

    @property
    def seconds(self) -> float:
        return self.settings.beats * 60.0 / self.tempo

    def metadata(self) -> dict:
        return self.settings.metadata(self.target, image=self.image, model=self.model)

    def write(self, path) -> "object":
        """Write as a ``.mid`` (atomic; Type 1 with tempo, key signature and this metadata)."""
        from .midi_io import write_midi

        return write_midi(self.notes, path, tempo=self.tempo, key=self.key.signature, settings=self.metadata(), bars=self.settings.bars)

    def render(self, path, soundfont=None) -> "object":
        """Render as a 44.1 kHz stereo WAV with a SoundFont (atomic; ``engine.audio``)."""
        from .audio import Synth, note_events, write_wav

        with Synth(soundfont) as synth:
            return write_wav(synth.render(note_events(self.notes, self.tempo)), path, synth.sample_rate)[0]


@dataclass(frozen=True)
class Judged:
    """A piece with the VA the independent judge hears in it."""

    piece: Piece
    va: VA | None

    @property
    def fit(self) -> float:
        """Distance between the judge's VA and the target (0 = exactly what was asked)."""
        if self.va is None:
            return math.inf
        return math.hypot(self.va.valence - self.piece.target.valence, self.va.arousal - self.piece.target.arousal)


def judge_piece(piece: Piece, judge) -> Judged:
    """``judge``: an ``engine.judge.Judge``. A piece with no notes has no emotion to judge."""
    return Judged(piece, VA(*judge.predict(list(piece.notes))).clipped() if piece.notes else None)


def rank_by_fit(judged: Iterable[Judged]) -> list[Judged]:
    """Best emotion fit first; ties keep their order (the earlier variation wins)."""
    return sorted(judged, key=lambda j: j.fit)
