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

from .errors import SettingError, UsageError
from .events import BEATS_PER_BAR, MAX_TEMPO, MIN_TEMPO, VA, NoteEvent
from .expression import DEFAULT_STRENGTH as DEFAULT_EXPRESSION
from .humanize import MAX_HUMANIZE
from .keys import Key, resolve_key

MIN_BARS, MAX_BARS = 1, 64          # the window slides, so the upper bound is a product limit
MAX_TEMPERATURE = 5.0               # 0 = greedy
MAX_SEED = 2**63 - 1                # numpy's generators take non-negative seeds
DEFAULT_BARS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P = 8, 1.0, 0.95
# how far from neutral the music goes (0: neutral, 1: as the target says). 1.5 by default: on 120
# validation pictures it made the picture's music follow the labels best (judge ratio 0.859 at 1, 0.792
# at 1.5, 0.799 at 2; docs/EXPRESSION.md) — the calibrated picture VA is on the pictures' scale, whose
# arousal spreads half as wide as the music's the decoder learnt from
MAX_INTENSITY, DEFAULT_INTENSITY = 2.0, 1.5
FORMS = ("free", "phrases")         # phrases: every second phrase restates the one before (engine.sampling.phrase_plan)
DEFAULT_FORM = "free"
MAX_EXPRESSION = 3.0
# how far each piece's density and touch may depart from its mood's (engine.controls): 0 = every
# piece of a mood alike, 1 = the spread of real music around its mood. 1 by default: on 134 validation
# pictures the forest told the music from real music 0.832 / 0.783 / 0.806 of the time at 0 / 0.5 / 1
# (the last two within noise), and the test split gave 0.792 at 0 against 0.720 at 1 (MUSICALITY.md)
MAX_VARIETY, DEFAULT_VARIETY = 2.0, 1.0
# how far each velocity moves inside its token's band toward the running loudness (engine.dynamics):
# 0 plays the bins' centres. 0.5 by default: on 134 validation pieces it brought the within-piece
# velocity sd from 12.1 to 10.0 (real 9.6), where 1 overshot to 8.3 (MUSICALITY.md)
DEFAULT_DYNAMICS = 0.5
# how evenly each pitch class is drawn over the octaves (engine.sampling.octave_spread): 1 = the
# model's own register, narrower than real music's. 1.2 by default: on 134 validation pieces the range
# came to 33.0 semitones (real 32.3; 30.1 at 1) with pitch entropy +0.10 bits, where 1.4 overshot to
# 35.3 and +0.22 (MUSICALITY.md, "Octave spread")
MIN_SPREAD, MAX_SPREAD, DEFAULT_SPREAD = 0.25, 2.0, 1.2
MAX_ARC_POINTS = 32                 # an emotion arc: 2.. points spread over the bars
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


def arc_point(points: tuple[VA, ...], bar: int, bars: int) -> VA:
    """The VA of ``bar`` (0-based) on an arc: the points spread evenly from the first bar to the
    last, linear in between (``--arc=-0.8,-0.8;0.8,0.8`` over 8 bars: bar 0 sad, bar 7 excited)."""
    if len(points) == 1 or bars <= 1:
        return points[0]
    x = min(max(bar, 0), bars - 1) / (bars - 1) * (len(points) - 1)
    i = min(int(x), len(points) - 2)
    f = x - i
    a, b = points[i], points[i + 1]
    return VA(a.valence + f * (b.valence - a.valence), a.arousal + f * (b.arousal - a.arousal))


def parse_arc(text: str) -> tuple[VA, ...]:
    """``"V1,A1;V2,A2;..."`` → VA points. Raises ``SettingError('arc')`` saying what is wrong."""
    points = []
    parts = [p for p in str(text).replace(" ", "").split(";") if p]
    if not parts:  # `--arc=""` asked for an arc: silently playing without one would ignore the user
        raise SettingError("arc", f"is empty: give 2..{MAX_ARC_POINTS} 'valence,arousal' points separated by ';'")
    for i, part in enumerate(parts):
        try:
            v, a = (float(x) for x in part.split(","))
            points.append(VA(v, a))
        except (ValueError, TypeError):
            raise SettingError("arc", f"point {i + 1} ({part!r}) must be 'valence,arousal', each in [-1, 1]") from None
    return tuple(points)


def check_sections(pictures: int, bars: int) -> None:
    """Several pictures make one piece with a section each: at most ``MAX_ARC_POINTS`` (they become
    the arc's points) and no more than the bars, so no picture is dropped. Cheap, so it runs
    before any picture is read."""
    if pictures > MAX_ARC_POINTS:
        raise UsageError(f"{pictures} pictures: one piece takes at most {MAX_ARC_POINTS}, a section each")
    if pictures > bars:
        raise UsageError(f"{pictures} pictures need at least {pictures} bars, a section each (--bars {bars})")


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
    arc: tuple[VA, ...] = ()    # an emotion arc over the bars (arc_point); empty: one VA throughout
    scale_lock: bool = False    # every pitch in the key's scale
    expression: float = DEFAULT_EXPRESSION  # how strongly arousal shapes touch and density (engine.expression)
    variety: float = DEFAULT_VARIETY  # this piece's own density and touch around its mood's (engine.controls)
    dynamics: float = DEFAULT_DYNAMICS  # velocities follow a running loudness inside their bins (engine.dynamics)
    spread: float = DEFAULT_SPREAD  # how evenly pitches are drawn over the octaves (engine.sampling.octave_spread)

    def __post_init__(self) -> None:
        _check_int("bars", self.bars, MIN_BARS, MAX_BARS)
        if self.tempo is not None:
            check_tempo(self.tempo)
        _check_int("seed", self.seed, 0, MAX_SEED)
        _check_float("temperature", self.temperature, 0.0, MAX_TEMPERATURE)
        _check_float("top_p", self.top_p, 0.0, 1.0, lo_open=True)
        _check_float("intensity", self.intensity, 0.0, MAX_INTENSITY)
        _check_float("humanize", self.humanize, 0.0, MAX_HUMANIZE)
        _check_float("expression", self.expression, 0.0, MAX_EXPRESSION)
        _check_float("variety", self.variety, 0.0, MAX_VARIETY)
        _check_float("dynamics", self.dynamics, 0.0, 1.0)
        _check_float("spread", self.spread, MIN_SPREAD, MAX_SPREAD)
        if self.arc and not (2 <= len(self.arc) <= MAX_ARC_POINTS and all(isinstance(p, VA) for p in self.arc)):
            raise SettingError("arc", f"needs 2..{MAX_ARC_POINTS} valence,arousal points (received {len(self.arc)})")
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

    def bar_aim(self, target: VA, bar: int) -> VA:
        """The aimed VA of one bar: on the arc when there is one, else the target's."""
        return self.aim(arc_point(self.arc, bar, self.bars) if self.arc else target)

    def tempo_for(self, target: VA) -> float:
        """The given tempo, else the arousal rule: for an arc, at its mean arousal over the bars."""
        if self.tempo is not None:
            return float(self.tempo)
        if self.arc:
            return default_tempo(sum(self.bar_aim(target, b).arousal for b in range(self.bars)) / self.bars)
        return default_tempo(self.aim(target).arousal)

    def key_for(self, target: VA) -> Key:
        """The key asked for, or the automatic one for the opening's valence (an arc's first point)."""
        return resolve_key(self.key, self.bar_aim(target, 0).valence, self.seed)

    @property
    def beats(self) -> float:
        return float(self.bars * BEATS_PER_BAR)

    def metadata(self, target: VA, *, image: str | None = None, model: str | None = None) -> dict:
        """Everything that regenerates a piece, as stored in its ``.mid`` (key and tempo resolved)."""
        return {"image": image, "bars": self.bars, "tempo": self.tempo_for(target), "key": self.key_for(target).name,
                "seed": self.seed, "temperature": self.temperature, "top_p": self.top_p, "form": self.form,
                "intensity": self.intensity, "humanize": self.humanize, "expression": self.expression,
                "variety": self.variety, "dynamics": self.dynamics, "spread": self.spread,
                **({"arc": [[p.valence, p.arousal] for p in self.arc]} if self.arc else {}),
                **({"scale_lock": True} if self.scale_lock else {}),
                # six decimals: a picture's VA comes from float32 networks whose last digits differ
                # between CPUs (vector units), and the file should not
                "valence": round(target.valence, 6), "arousal": round(target.arousal, 6), "model": model}


@dataclass(frozen=True)
class Piece:
    """A finished piece: notes in beats, already in ``key``, and what made them."""

    notes: tuple[NoteEvent, ...]
    settings: GenerationSettings
    target: VA
    image: str | None = None   # the picture's label (file name), if any
    model: str | None = None   # the model's id (hash of its training data list)
    tokens: tuple[int, ...] = ()
    images: tuple[str, ...] = ()  # several pictures, one section each (the first is ``image``)
    primer: object | None = None  # the engine.primer.Primer this piece continues
    include_primer: bool = False  # write the primer's notes before the continuation

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
        meta = self.settings.metadata(self.target, image=self.image, model=self.model)
        if len(self.images) > 1:
            meta["images"] = list(self.images)
        if self.primer is not None:
            meta.update(prime=self.primer.name, prime_bars=self.primer.bars, include_prime=self.include_primer)
        return meta

    def written_notes(self) -> tuple[tuple[NoteEvent, ...], int]:
        """What the file holds and its bars: the piece, or the primer followed by the piece."""
        if self.primer is None or not self.include_primer:
            return self.notes, self.settings.bars
        lead = self.primer.beats
        shifted = tuple(NoteEvent(n.pitch, n.velocity, n.start + lead, n.duration, n.channel) for n in self.notes)
        return tuple(self.primer.notes) + shifted, self.primer.bars + self.settings.bars

    def write(self, path) -> "object":
        """Write as a ``.mid`` (atomic; Type 1 with tempo, key signature and this metadata)."""
        from .midi_io import write_midi

        notes, bars = self.written_notes()
        return write_midi(notes, path, tempo=self.tempo, key=self.key.signature, settings=self.metadata(), bars=bars)

    def render(self, path, soundfont=None) -> "object":
        """Render as a 44.1 kHz stereo WAV with a SoundFont (atomic; ``engine.audio``)."""
        from .audio import Synth, note_events, write_wav

        with Synth(soundfont) as synth:
            return write_wav(synth.render(note_events(self.written_notes()[0], self.tempo)), path, synth.sample_rate)[0]


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
