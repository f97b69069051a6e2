"""A request resolved once into a ``Plan``, and the ``Piece`` a plan gives: the one home of their rules.

Public names: ``Plan``, ``make_plan``, ``Piece``, ``check_sections``, ``Judged``, ``judge_piece``,
``rank_by_fit``; ``GenerationSettings`` (from ``engine.settings``).

Every front end — ``generate``, ``stream`` and its writer, the app's worker and its steered
playback, ``evaluate`` — makes one ``Plan`` from what the user gave (settings, pictures, a VA or
an arc, a phrase, the tempo of a clock that rules) with ``make_plan`` (through
``Runtime.plan``), and everything after reads it: the target, the aimed VA, the key, the tempo,
the phrase's tokens, the steering of several pictures, the metadata a file carries.

    plan = runtime.plan(GenerationSettings(bars=8, seed=7), [runtime.encode("photo.jpg")])
    piece = runtime.piece(plan)
    plan.key.name, plan.tempo, piece.seconds, piece.write("out.mid")
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .errors import UsageError
from .events import BEATS_PER_BAR, VA, BarAim, NoteEvent, Steer
from .music.keys import AUTO_NAMES, Key, auto_key
from .settings import MAX_ARC_POINTS, MAX_SEED, GenerationSettings

__all__ = ["Plan", "make_plan", "Piece", "check_sections", "Judged", "judge_piece", "rank_by_fit", "GenerationSettings"]


def chords_key(progression: str, mode: str | None = None) -> Key:
    """The key of a progression's text (``engine.music.chords.progression_key``), ``mode`` preferred
    where the chords fit both."""
    from .music.chords import parse_progression, progression_key

    tonic, mode = progression_key(parse_progression(progression), mode)
    return Key(tonic, mode, AUTO_NAMES[mode][tonic])


def check_sections(pictures: int, bars: int) -> None:
    """Several pictures make one piece with a section each: at most ``MAX_ARC_POINTS`` (they become
    the arc's points) and no more than the bars, so no picture is dropped. Cheap, so it runs
    before any picture is read."""
    if pictures > MAX_ARC_POINTS:
        raise UsageError(f"{pictures} pictures: one piece takes at most {MAX_ARC_POINTS}, a section each")
    if pictures > bars:
        raise UsageError(f"{pictures} pictures need at least {pictures} bars, a section each (--bars {bars})")


@dataclass(frozen=True)
class Plan:
    """Everything a request resolves to. ``settings`` are final: the phrase's key and tempo where the
    user left them automatic, the arc of several pictures, the tempo of a clock that rules (Link).
    ``target`` is the VA asked for (before ``intensity``); ``encoding`` the first picture's
    (``engine.generation.runtime.Encoding``; None: music from the VA alone); ``prime`` the phrase's tokens in
    the plan's mode; ``steer`` the picture of each bar when there are several."""

    settings: GenerationSettings
    target: VA
    encoding: Any = field(default=None, compare=False)  # arrays: a plan is its request, not its pixels
    images: tuple[str, ...] = ()
    model: str | None = None
    primer: Any = None            # the engine.music.primer.Primer this piece continues
    prime: tuple[int, ...] = ()
    include_primer: bool = False  # the file holds the phrase before the continuation
    steer: Steer | None = field(default=None, compare=False)

    @property
    def key(self) -> Key:
        return self.settings.key_for(self.target)

    @property
    def tempo(self) -> float:
        return self.settings.tempo_for(self.target)

    @property
    def aim(self) -> VA:
        """The VA the first bar is composed for (the target scaled by intensity, or the arc's start)."""
        return self.settings.bar_aim(self.target, 0)

    @property
    def image(self) -> str | None:
        return self.images[0] if self.images else None

    @property
    def chords(self) -> tuple:
        """The chord of each beat of the piece (``engine.music.chords.Chord``, in the piece's key), the
        progression repeated to fill the bars; () where the model plays its own harmony."""
        return self.settings.progression

    def metadata(self) -> dict:
        """Everything that regenerates the piece, as its ``.mid`` stores it."""
        meta = self.settings.metadata(self.target, image=self.image, model=self.model)
        if len(self.images) > 1:
            meta["images"] = list(self.images)
        if self.primer is not None:
            meta.update(prime=self.primer.name, prime_bars=self.primer.bars, include_prime=self.include_primer)
        return meta

    def piece(self, notes: Iterable[NoteEvent], tokens: Iterable[int] = ()) -> "Piece":
        return Piece(self, tuple(notes), tuple(tokens))

    def next_piece(self, index: int, va: VA) -> "Plan":
        """The plan of a loop's ``index``-th piece (1 is this one), aimed at ``va``: the next seed (round
        the seed range), and with ``key`` auto the first seed's major key or its relative minor, as
        ``va``'s valence asks, so a take stays in one key family. No phrase: it was the first's. A
        progression goes on where the pieces before left it (``_chords_from``)."""
        s = self.settings
        key = auto_key(s.aim(va).valence, s.seed).name if s.key == "auto" else s.key
        seed = (s.seed + index - 1) % (MAX_SEED + 1)
        chords = self._chords_from(int((index - 1) * s.beats))
        return dataclasses.replace(self, settings=dataclasses.replace(s, seed=seed, key=key, chords=chords), target=va,
                                   primer=None, prime=(), steer=None)

    def _chords_from(self, beat: int) -> str:
        """The progression's text starting ``beat`` beats in (counted round its length): a loop's
        pieces follow one progression rather than each starting it over. Its own text where the
        progression starts afresh anyway (no chords, or a whole number of rounds played)."""
        text = self.settings.chords
        if not text.strip():
            return text
        from .music.chords import parse_progression, per_beat, progression_text

        progression = parse_progression(text)
        total = sum(b for _, b in progression)
        if total != int(total):  # a round of fractional beats: the beats this piece plays, spelled out
            return progression_text(per_beat(progression, beat + int(self.settings.beats))[beat:])
        cycle = per_beat(progression)  # one round, a chord per beat
        k = beat % len(cycle)
        return text if k == 0 else progression_text(cycle[k:] + cycle[:k])


def make_plan(settings: GenerationSettings, encodings: Sequence[Any] = (), *, va: VA | None = None,
              primer: Any = None, tempo: float | None = None, include_primer: bool = False,
              model: str | None = None, window: int = 512) -> Plan:
    """The one place a request is resolved. ``encodings``: the pictures' (several make a section
    each, their VAs the arc unless the settings carry one); ``va`` overrides the picture's; ``primer``
    a phrase to continue (its key and tempo where the settings leave them automatic; its tokens
    cut to half of ``window``); ``tempo`` the tempo of a clock that rules (a Link session), which
    every later use of the tempo then sees — humanizing, the file's metadata."""
    if primer is not None:
        settings = primer.settle(settings)
    if tempo is not None:
        settings = dataclasses.replace(settings, tempo=float(tempo))
    if settings.form == "auto":  # a real song's form, written out, so the file can make it again
        from .music.form import resolve

        settings = dataclasses.replace(settings, form=resolve(settings.form, settings.bars, settings.seed))
    encodings = tuple(encodings)
    first = encodings[0] if encodings else None
    target = va or (settings.arc[0] if settings.arc else first.va if first is not None else VA(0.0, 0.0))
    steer: Steer | None = None
    if len(encodings) > 1:
        check_sections(len(encodings), settings.bars)
        if not settings.arc:
            settings = dataclasses.replace(settings, arc=tuple(e.va for e in encodings))
        n, bars, s = len(encodings), settings.bars, settings

        def by_section(bar: int) -> BarAim:
            return BarAim(s.bar_aim(first.va, bar), encodings[min(n - 1, bar * n // bars)].memory)

        steer = by_section
        target = settings.bar_aim(first.va, 0)
    if settings.chords.strip() and settings.key == "auto":
        # the key follows the chords; where they fit a major key and its relative minor alike, the
        # mood picks, as the automatic key's mode does (valence >= 0: major)
        mood = "major" if settings.bar_aim(target, 0).valence >= 0 else "minor"
        settings = dataclasses.replace(settings, key=chords_key(settings.chords, mood).name)
    prime = primer.tokens(settings.key_for(target).mode, window) if primer is not None else ()
    images = tuple(e.image for e in encodings if getattr(e, "image", None) is not None)
    return Plan(settings, target, first, images, model, primer, tuple(prime), include_primer, steer)


@dataclass(frozen=True)
class Piece:
    """A finished piece: its plan, its notes in beats (already in the plan's key), its tokens."""

    plan: Plan
    notes: tuple[NoteEvent, ...]
    tokens: tuple[int, ...] = ()

    @property
    def settings(self) -> GenerationSettings:
        return self.plan.settings

    @property
    def target(self) -> VA:
        return self.plan.target

    @property
    def key(self) -> Key:
        return self.plan.key

    @property
    def tempo(self) -> float:
        return self.plan.tempo

    @property
    def image(self) -> str | None:
        return self.plan.image

    @property
    def seconds(self) -> float:
        return self.settings.beats * 60.0 / self.tempo

    def metadata(self) -> dict:
        return self.plan.metadata()

    def written_notes(self) -> tuple[tuple[NoteEvent, ...], int]:
        """What the file holds and its bars: the piece, or the primer followed by the piece."""
        primer = self.plan.primer
        if primer is None or not self.plan.include_primer:
            return self.notes, self.settings.bars
        lead = primer.beats
        shifted = tuple(NoteEvent(n.pitch, n.velocity, n.start + lead, n.duration, n.channel) for n in self.notes)
        return tuple(primer.notes) + shifted, primer.bars + self.settings.bars

    def write(self, path) -> "object":
        """Write as a ``.mid`` (atomic; Type 1 with tempo, key signature and this metadata)."""
        from .files.midi_io import write_midi

        notes, bars = self.written_notes()
        return write_midi(notes, path, tempo=self.tempo, key=self.key.signature, settings=self.metadata(), bars=bars,
                          markers=self.markers())

    def _lead(self) -> float:
        return self.plan.primer.beats if self.plan.primer is not None and self.plan.include_primer else 0.0

    def section_markers(self) -> list[tuple[float, str]]:
        """(beat, name) where each section of a written form begins, in the file's beats."""
        from .music.form import section_name

        return [(self._lead() + s.start * BEATS_PER_BAR, section_name(s.letter)) for s in self.settings.sections]

    def markers(self) -> list[tuple[float, str]]:
        """(beat, text) of the markers a DAW shows over the file: where each section of a written form
        begins (its name), and each chord change of a progression."""
        from .music.chords import changes

        lead = self._lead()
        return self.section_markers() + [(lead + beat, chord.name) for beat, chord in changes(self.plan.chords)]

    def render(self, path, soundfont=None) -> "object":
        """Render as a 44.1 kHz stereo WAV with a SoundFont (atomic; ``engine.files.audio``)."""
        from .files.audio import Synth, note_events, write_wav

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
    """``judge``: an ``engine.music.judge.Judge``. A piece with no notes has no emotion to judge."""
    return Judged(piece, VA(*judge.predict(list(piece.notes))).clipped() if piece.notes else None)


def rank_by_fit(judged: Iterable[Judged]) -> list[Judged]:
    """Best emotion fit first; ties keep their order (the earlier variation wins)."""
    return sorted(judged, key=lambda j: j.fit)
