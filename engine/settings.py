"""Every generation setting, declared once: name, type, range, default, help, the app's label and
control, and whether the ``.mid`` metadata stores it.

Public names: ``Setting``, ``SETTINGS``, ``GenerationSettings``, ``setting``, the range constants,
``aim``, ``arc_point``, ``parse_arc``, ``default_tempo``, ``check_tempo``.

The command line's flags (``engine.cli.args``), validation (``SettingError``, in
``GenerationSettings.__post_init__``), the app's Generate panel (``desktop.generate_panel``), the
metadata a piece carries (``GenerationSettings.metadata``) and the model card's list of settings
are all read from ``SETTINGS``. A new setting is one row here and the code that uses it.

    s = GenerationSettings(bars=8, key="C#", seed=7)       # tempo None: from the target arousal
    s.key_for(target).name, s.tempo_for(target), s.metadata(target)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from .errors import SettingError, UsageError
from .events import BEATS_PER_BAR, MAX_TEMPO, MIN_TEMPO, VA
from .generation.expression import DEFAULT_STRENGTH as DEFAULT_EXPRESSION
from .music.humanize import MAX_HUMANIZE, MAX_SWING
from .music.form import MIN_SONG_BARS
from .music.keys import Key, resolve_key

MIN_BARS, MAX_BARS = 1, 64          # the window slides, so the upper bound is a product limit
MAX_TEMPERATURE = 5.0               # 0 = greedy
MAX_SEED = 2**63 - 1                # numpy's generators take non-negative seeds
DEFAULT_BARS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P = 8, 1.0, 0.95
# how far from neutral the music goes (0: neutral, 1: as the target says). 1.5 by default: on 120
# validation pictures it made the picture's music follow the labels best (judge ratio 0.859 at 1, 0.792
# at 1.5, 0.799 at 2; docs/EXPRESSION.md) — the calibrated picture VA is on the pictures' scale, whose
# arousal spreads half as wide as the music's the decoder learnt from
MAX_INTENSITY, DEFAULT_INTENSITY = 2.0, 1.5
# phrases: every second phrase restates the one before (engine.generation.sampling.phrase_plan); auto: a real
# song's form that fits the bars (engine.music.form); or a form written out, "A8 B8 A8 B8"
FORMS = ("free", "phrases", "auto")
DEFAULT_FORM = "auto"
MAX_EXPRESSION = 3.0
# how far each piece's density and touch may depart from its mood's (engine.generation.controls): 0 = every
# piece of a mood alike, 1 = the spread of real music around its mood. 1 by default: on 134 validation
# pictures the forest told the music from real music 0.832 / 0.783 / 0.806 of the time at 0 / 0.5 / 1
# (the last two within noise; CHANGELOG.md, fitted controls)
MAX_VARIETY, DEFAULT_VARIETY = 2.0, 1.0
# how far each velocity moves inside its token's band toward the running loudness (engine.music.dynamics):
# 0 plays the bins' centres. 0.5 by default: on 134 validation pieces it brought the within-piece
# velocity sd from 12.1 to 10.0 (real 9.6), where 1 overshot to 8.3 (MUSICALITY.md)
DEFAULT_DYNAMICS = 0.5
# how evenly each pitch class is drawn over the octaves (engine.generation.sampling.octave_spread): 1 = the
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


def check_tempo(tempo: float, field: str = "tempo") -> float:
    if not (isinstance(tempo, (int, float)) and math.isfinite(tempo) and MIN_TEMPO <= tempo <= MAX_TEMPO):
        raise SettingError(field, f"must be in {MIN_TEMPO:g}..{MAX_TEMPO:g} BPM (received {tempo})")
    return float(tempo)


def _check_key(key) -> None:
    try:
        resolve_key(key, 0.0)
    except (ValueError, AttributeError) as e:
        raise SettingError("key", str(e), whole=True) from None


def _check_chords(chords) -> None:
    if not isinstance(chords, str):
        raise SettingError("chords", f"must be a progression as text, e.g. 'Am F C G' (received {chords!r})")
    if chords.strip():
        from .music.chords import parse_progression

        try:
            parse_progression(chords)
        except UsageError as e:
            raise SettingError("chords", str(e), whole=True) from None


def _check_form(form) -> None:
    if form in FORMS:
        return
    if not isinstance(form, str):
        raise SettingError("form", f"must be {', '.join(FORMS)} or a form such as 'A8 B8 A8 B8' (received {form!r})")
    from .music.form import parse_form

    try:
        parse_form(form)
    except UsageError as e:
        raise SettingError("form", str(e), whole=True) from None


def is_written_form(form: str) -> bool:
    """A form written out (``"A8 B8"``), as ``auto`` resolves to, rather than free or phrases."""
    return form not in ("free", "phrases", "auto")


def _check_arc(arc) -> None:
    if arc and not (2 <= len(arc) <= MAX_ARC_POINTS and all(isinstance(p, VA) for p in arc)):
        raise SettingError("arc", f"needs 2..{MAX_ARC_POINTS} valence,arousal points (received {len(arc)})")


@dataclass(frozen=True)
class Setting:
    """One row of the table. ``kind`` is ``int``, ``float``, ``str`` or ``bool``; ``lo``..``hi`` (or
    ``choices``) is the valid range, checked by ``check``, else by ``check_value``; ``parse`` turns
    the command line's text into a value where ``kind`` cannot. ``label`` and ``control`` place it
    in the app's Generate panel (``None``: not there): ``"slider"`` in hundredths of the value,
    ``"spin"``, ``"combo"``, ``"check"``, or the panel's own ``"tempo"``, ``"key"``, ``"seed"``.
    ``stored``: in the ``.mid`` metadata, ``"always"``, ``"set"`` (only when not the default)
    or ``"never"``."""

    name: str
    kind: type
    default: Any
    help: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None
    check: Callable[[Any], None] | None = None
    label: str | None = None
    control: str | None = None
    tooltip: str = ""
    stored: str = "always"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check_value(self, value) -> None:
        """Raise ``SettingError`` naming this setting when ``value`` is not one it takes."""
        if self.check is not None:
            self.check(value)
        elif self.kind is bool:
            if not isinstance(value, bool):
                raise SettingError(self.name, f"must be true or false (received {value!r})")
        elif self.choices:
            if value not in self.choices:
                raise SettingError(self.name, f"must be one of {', '.join(self.choices)} (received {value!r})")
        elif self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or not (self.lo <= value <= self.hi):
                raise SettingError(self.name, f"must be a whole number in {self.lo:g}..{self.hi:g} (received {value})")
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not (ok and (self.lo < value if self.lo_open else self.lo <= value) and value <= self.hi):
                span = f"({self.lo:g}, {self.hi:g}]" if self.lo_open else f"{self.lo:g}..{self.hi:g}"
                raise SettingError(self.name, f"must be in {span} (received {value})")


SETTINGS: tuple[Setting, ...] = (
    Setting("bars", int, DEFAULT_BARS, f"length in 4/4 bars, {MIN_BARS}..{MAX_BARS} (default {DEFAULT_BARS})",
            MIN_BARS, MAX_BARS, metavar="N", label="Bars", control="spin"),
    Setting("tempo", float, None, f"BPM, {MIN_TEMPO:g}..{MAX_TEMPO:g} (default: from the target arousal, "
            f"{TEMPO_AT_NEUTRAL - TEMPO_PER_AROUSAL:g}..{TEMPO_AT_NEUTRAL + TEMPO_PER_AROUSAL:g})",
            MIN_TEMPO, MAX_TEMPO, metavar="BPM", check=lambda t: None if t is None else check_tempo(t),
            label="Tempo", control="tempo"),
    Setting("key", str, "auto", "auto (major for positive valence, else minor; the tonic from the seed: all 24 keys), "
            "or e.g. D, F#, Bbm, Am", check=_check_key, label="Key", control="key"),
    Setting("seed", int, 0, "random seed, 0 or more (same seed + settings = same music)", 0, MAX_SEED,
            metavar="S", label="Seed", control="seed"),
    Setting("temperature", float, DEFAULT_TEMPERATURE, f"0 = greedy, 1 = as trained (default), up to {MAX_TEMPERATURE:g}",
            0.0, MAX_TEMPERATURE, metavar="T", label="Temperature", control="spin",
            tooltip="Lower: safer, more repetitive (0: always the likeliest note). Higher: more surprising."),
    Setting("top_p", float, DEFAULT_TOP_P, f"nucleus sampling mass in (0, 1] (default {DEFAULT_TOP_P})",
            0.0, 1.0, lo_open=True, metavar="P"),
    Setting("intensity", float, DEFAULT_INTENSITY, f"how far from neutral the music goes, 0..{MAX_INTENSITY:g}: "
            f"0 neutral, 1 as the picture says, 2 twice as far (default {DEFAULT_INTENSITY:g}: chosen on validation "
            "pictures)", 0.0, MAX_INTENSITY, metavar="K"),
    Setting("form", str, DEFAULT_FORM, f"free; phrases: every second 4-bar phrase restates the one before with a "
            f"new last bar; auto: from {MIN_SONG_BARS} bars a real song's form that fits --bars (sections that return, "
            f"varied; an intro, a chorus), a shorter piece free; or a form written out, e.g. 'i4 A8 B8 A8 B4' (letters: sections, lower case without the "
            f"tune, i intro, o outro), repeated or cut to fill --bars (default {DEFAULT_FORM})", choices=FORMS,
            check=_check_form, metavar="FORM", label="Form", control="combo",
            tooltip="Phrases: every second 4-bar phrase comes back, with a new last bar, as songs and loops do"),
    Setting("humanize", float, 0.0, "0..1: a player's timing and touch (0 = exactly on the grid, default; 1 = a few "
            "to a few tens of ms, accents, rolled chords); seeded, so the same seed gives the same file",
            0.0, MAX_HUMANIZE, metavar="H", label="Humanize", control="slider",
            tooltip="0: exactly on the grid. Up: a player's timing and touch — accents, rolled chords, a few to "
                    "a few tens of milliseconds off the grid"),
    Setting("arc", tuple, (), "an emotion arc: valence,arousal points spread evenly from the first bar to the last, "
            "linear in between (e.g. --arc='-0.8,-0.8;0.8,0.8', quoted for the shell, goes from sad to excited)",
            metavar="V,A;V,A;...", parse=parse_arc, check=_check_arc, stored="set"),
    Setting("scale_lock", bool, False, "keep every pitch in the key's scale", label="Scale", control="check",
            tooltip="Scale lock: every note in the key's scale (the chosen key, the phrase's, or the automatic one)",
            stored="set"),
    Setting("expression", float, DEFAULT_EXPRESSION, f"how strongly each bar's arousal shapes velocity, and a change "
            f"of arousal (an arc, steering) shapes density, 0..{MAX_EXPRESSION:g} (0 = off; default "
            f"{DEFAULT_EXPRESSION:g})", 0.0, MAX_EXPRESSION, metavar="K"),
    Setting("variety", float, DEFAULT_VARIETY, f"how far this piece's density and loudness may depart from its "
            f"mood's, 0..{MAX_VARIETY:g} (0 = every piece of a mood alike; 1 = as much as real music varies; seeded; "
            f"default {DEFAULT_VARIETY:g})", 0.0, MAX_VARIETY, metavar="K", label="Variety", control="slider",
            tooltip="How far each variation's density and loudness may stray from its mood's: 0 every piece of a "
                    "mood alike, the middle as much as real music varies"),
    Setting("dynamics", float, DEFAULT_DYNAMICS, f"0..1: how far each note's loudness moves inside its velocity bin "
            f"toward the running loudness of the line, so neighbouring notes do not jump a whole bin (0 = the bins' "
            f"centres; default {DEFAULT_DYNAMICS:g})", 0.0, 1.0, metavar="K"),
    Setting("spread", float, DEFAULT_SPREAD, f"{MIN_SPREAD:g}..{MAX_SPREAD:g}: how evenly each note is drawn over the "
            f"octaves, its pitch class (key, chord) kept as the model chose it (1 = the model's own register, "
            f"narrower than real music's; default {DEFAULT_SPREAD:g})", MIN_SPREAD, MAX_SPREAD, metavar="K",
            label="Spread", control="slider",
            tooltip="How widely the notes spread over the octaves; the notes of the key and chord stay the "
                    "model's. 100: the model's own register, narrower than real music's"),
    Setting("chords", str, "", "a chord progression the harmony follows, one chord a bar ('Am F C G') or with beats "
            "('Am:2 F:2 C:4'); C, Cm, C7, Cmaj7, Cm7, Cdim, Csus4, C/E, N for none; repeated to fill the bars; the key "
            "follows the chords unless given (default: the model's own harmony)", metavar="CHORDS", check=_check_chords,
            stored="set"),
    Setting("swing", float, 0.0, f"0..{MAX_SWING:g}: how late each off-beat eighth comes (0 = straight, default; "
            f"1 = a triplet feel, the off-beat two thirds into the beat); the 16ths move with their eighths",
            0.0, MAX_SWING, metavar="K", label="Swing", control="slider",
            tooltip="0: straight eighths. Up: the off-beats come later, to a triplet feel at 100", stored="set"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    """The table's row for ``name``."""
    return _BY_NAME[name]


def _settings_class(cls):
    """Make ``cls`` a frozen dataclass with one field per row of ``SETTINGS``, in table order."""
    cls.__annotations__ = {s.name: s.kind for s in SETTINGS}
    for s in SETTINGS:
        setattr(cls, s.name, s.default)
    return dataclass(frozen=True)(cls)


@_settings_class
class GenerationSettings:
    """What the user asked for, one field per row of ``SETTINGS``, valid by construction (a bad value
    raises ``SettingError`` naming it). ``tempo`` None follows the target arousal."""

    def __post_init__(self) -> None:
        for s in SETTINGS:
            s.check_value(getattr(self, s.name))

    def aim(self, target: VA) -> VA:
        """The VA the music is composed for (``aim``); the tempo rule, the automatic key's mode and
        the model's conditioning all follow it."""
        return aim(target, self.intensity)

    def bar_aim(self, target: VA, bar: int) -> VA:
        """The aimed VA of one bar: on the arc when there is one, else the target's; a written form's
        section leans its arousal (``engine.music.form.section_lean``)."""
        va = self.aim(arc_point(self.arc, bar, self.bars) if self.arc else target)
        lean = self.section_lean(bar)
        return VA(va.valence, max(-1.0, min(1.0, va.arousal + lean))) if lean else va

    def section_lean(self, bar: int) -> float:
        if not is_written_form(self.form):
            return 0.0
        from .music.form import section_at, section_lean

        section = section_at(self.sections, bar)
        return section_lean(section.letter) if section is not None else 0.0

    @property
    def sections(self) -> tuple:
        """The written form's sections over the piece's bars (``engine.music.form.Section``); () otherwise."""
        if not is_written_form(self.form):
            return ()
        from .music.form import fit_form, parse_form

        return fit_form(parse_form(self.form), self.bars)

    @property
    def progression(self) -> tuple:
        """The chord of each beat of the bars (``engine.music.chords.Chord``, in the piece's key), the
        progression repeated to fill them; () where the model plays its own harmony."""
        if not self.chords.strip():
            return ()
        from .music.chords import parse_progression, per_beat

        return tuple(per_beat(parse_progression(self.chords), int(self.beats)))

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
        meta: dict = {"image": image}
        for s in SETTINGS:
            value = getattr(self, s.name)
            if s.stored == "never" or (s.stored == "set" and value == s.default):
                continue
            meta[s.name] = value
        meta["tempo"] = self.tempo_for(target)
        meta["key"] = self.key_for(target).name
        if "arc" in meta:
            meta["arc"] = [[p.valence, p.arousal] for p in self.arc]
        # six decimals: a picture's VA comes from float32 networks whose last digits differ
        # between CPUs (vector units), and the file should not
        meta.update(valence=round(target.valence, 6), arousal=round(target.arousal, 6), model=model)
        return meta
