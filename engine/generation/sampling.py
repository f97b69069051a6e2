"""Grammar-masked sampling in numpy, shared by every backend (ONNX Runtime, PyTorch, LSTM).

A backend supplies a ``Stepper``: ``reset()`` forgets the context, ``step(token, pos)``
feeds one token at position ``pos`` and returns the logits for the next one. The sampler
owns everything musical: the mode token, the grammar mask (so every sequence decodes), the
bar count, temperature / top-p / seed, and the sliding window that lets a model with a
``block_size``-token context write pieces of any length: when the context is full, it is
rebuilt as ``BOS Mode`` + the tokens since a recent bar line (the shape of the training
windows) and generation continues.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import numpy as np

from ..events import BEATS_PER_BAR, NoteEvent
from . import harmony
from .expression import arousal_bias
from .register import Keeper
from .tokens import (BAR, BOS, DUR0, EOS, MODE0, MODES, N_DUR, N_PITCH, N_POS, PITCH0, PITCH_MIN, POS0, STEPS_PER_BAR,
                     STEPS_PER_BEAT, VEL0, N_VEL, VOCAB_SIZE, DURATION_STEPS, StreamingDecoder, allowed_mask)

# The reference key's scale (C major; A natural minor has the same pitch classes): scale lock
# keeps the model there, and transposition carries it to the key asked for.
REFERENCE_SCALE = frozenset({0, 2, 4, 5, 7, 9, 11})
_OFF_SCALE = np.array([PITCH0 + i for i in range(N_PITCH) if (PITCH_MIN + i) % 12 not in REFERENCE_SCALE])
_PITCH_CLASS = (np.arange(N_PITCH) + PITCH_MIN) % 12
TONIC_TRIAD = {"major": frozenset({0, 4, 7}), "minor": frozenset({9, 0, 4})}  # C E G / A C E


def key_pull_bias(mode: str, pull: float) -> np.ndarray:
    """A logit bias that leans toward the reference key: ``+pull`` on its tonic triad, ``-pull`` off
    its scale. A continuation uses it to stay in the musician's key (the model alone drifts to
    neighbouring keys within a bar or two)."""
    b = np.zeros(VOCAB_SIZE, np.float64)
    for i in range(N_PITCH):
        pc = (PITCH_MIN + i) % 12
        b[PITCH0 + i] = pull if pc in TONIC_TRIAD[mode] else (-pull if pc not in REFERENCE_SCALE else 0.0)
    return b

class Stepper(Protocol):
    block_size: int

    def reset(self) -> None: ...

    def step(self, token: int, pos: int) -> np.ndarray: ...


@dataclass(frozen=True)
class SamplingSettings:
    """What the token loop needs; built from a checked ``GenerationSettings`` (``engine.generation.compose``),
    or by benchmarks and parity checks that run the loop for a token count (huge ``bars``)."""

    bars: int
    temperature: float  # 0 = greedy
    top_p: float
    seed: int
    mode: str
    plan: tuple[int | None, ...] = ()  # per bar: the earlier bar it restates, or None (see phrase_plan)
    max_tokens_per_bar: int = 160  # a guard: no bar may run away
    prime: tuple[int, ...] = ()  # tokens after BOS Mode (whole bars, from Bar on): the musician's phrase, continued
    scale_lock: bool = False     # sample pitches of the reference scale only
    arousal: float = 0.0         # the bar's aimed arousal, for the expression bias (engine.generation.expression)
    expression: float = 0.0      # its strength; 0 = the model alone
    key_pull: float = 0.0        # lean toward the key (key_pull_bias); a continuation's default
    spread: float = 1.0          # octave spread (octave_spread); 1 = the model's own register
    valence: float = 0.0         # the opening's aimed valence: with chords held, it shapes articulation (harmony.articulation)
    chords: tuple = ()           # per beat from the first bar (the primer's included): the Chord held, in the
                                 # reference key, or None where the model's own harmony plays (engine.generation.harmony)
    register: float = 0.0        # keep the first phrase's register and a bass in every bar (engine.generation.register); 0 = off


def phrase_plan(bars: int) -> tuple[int | None, ...]:
    """Phrase-level form, as songs and DAW loops have it: for each bar (0-based), the earlier
    bar it restates, or None where the model writes new material.

    Phrases are 4 bars (2 in pieces shorter than 8 bars; none under 4 bars). Every second
    phrase restates the one before it except its last bar, which the model writes anew — the
    varied ending of an antecedent–consequent pair (A A'). So 8 bars are
    ``[-, -, -, -, 0, 1, 2, -]`` and 16 bars ``A A' B B'``.
    """
    if bars < 4:
        return (None,) * bars
    size = 4 if bars >= 8 else 2
    plan: list[int | None] = []
    for b in range(bars):
        phrase, pos = divmod(b, size)
        restates = phrase % 2 == 1 and pos < size - 1
        plan.append(b - size if restates else None)
    return tuple(plan)


def octave_spread(logits: np.ndarray, mask: np.ndarray, spread: float) -> np.ndarray:
    """Logits whose allowed pitches are drawn over the octaves more evenly (``spread`` > 1) or more
    narrowly (< 1), every pitch class keeping its chance:

        q(p) = P(c) · r(p)^(1/s) / Σ_{p' in c} r(p')^(1/s),   c = p mod 12,

    where P(c) is the model's probability of pitch class c and r(p) its probability of pitch p. Which
    note of the key or chord comes next stays the model's; only the octave it sounds in is drawn
    flatter. (A temperature on all pitches widened the register with off-key notes; MUSICALITY.md.)
    Tokens other than pitches keep their probabilities."""
    if spread == 1.0:
        return logits
    allowed = np.flatnonzero(mask[PITCH0:PITCH0 + N_PITCH])
    if len(allowed) < 2:
        return logits
    z = logits[PITCH0 + allowed].astype(np.float64)
    pc, top = _PITCH_CLASS[allowed], z.max()
    mass = np.bincount(pc, np.exp(z - top), minlength=12)
    flat = np.exp((z - top) / spread)
    share = flat / np.bincount(pc, flat, minlength=12)[pc]
    out = logits.astype(np.float64)  # a copy: the caller's logits stay as they are
    with np.errstate(divide="ignore"):  # a pitch whose share underflows is simply never drawn
        out[PITCH0 + allowed] = top + np.log(mass[pc] * share)
    return out


def choose(logits: np.ndarray, mask: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    """One token from masked logits: greedy at temperature 0, else nucleus sampling.

    Works on the allowed tokens only (often a handful: after a Pitch only the 8 velocities),
    and draws by inverting the cumulative distribution with one uniform number.
    """
    idx = np.flatnonzero(mask)
    z = logits[idx].astype(np.float64)
    if temperature <= 0 or len(idx) == 1:
        return int(idx[int(np.argmax(z))])
    z = (z - z.max()) / temperature
    p = np.exp(z)
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p) + 1)]
        idx, p = idx[keep], p[keep]
    cum = np.cumsum(p)
    j = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
    return int(idx[min(j, len(idx) - 1)])


class TokenStream:
    """Iterates (token, [notes]) pairs; ``tokens`` holds the full sequence so far.

    ``on_bar(bar)`` is called as the Bar token that opens ``bar`` (0-based, the primer's bars
    included) is about to be fed, before the model writes anything in that bar: steering
    changes the stepper's conditioning there, and a live stream holds generation back there
    until playback comes near. A primer's tokens are fed as if sampled (they bypass
    sampling and scale lock), so the piece continues from them."""

    def __init__(self, stepper: Stepper, s: SamplingSettings, on_bar: Callable[[int], None] | None = None) -> None:
        self.stepper, self.s, self.on_bar = stepper, s, on_bar
        self.tokens: list[int] = []
        self.decoder = StreamingDecoder()
        self.rng = np.random.default_rng(s.seed)
        self._bar_at: list[int] = []   # index in ``tokens`` of each Bar token
        self._restating: list[int] = list(s.prime)  # forced tokens: the primer, then restated bars
        self._refocus = 0
        self._chords: list = list(s.chords)
        self._onset = -1  # 16th step of the latest note the model started
        self._sounded = (-1, np.zeros(12))  # (span start, 16th steps sounded per pitch class in it)
        self._pending = None  # (span, pitch class, step) of the note whose Duration is being drawn
        self._keeper = Keeper(s.register) if s.register > 0 else None
        self.set_arousal(s.arousal)

    def hold_chords(self, bar: int, chords) -> None:
        """From now on, bar ``bar`` (0-based, the primer's bars included) is in ``chords``: one Chord
        per beat in the reference key (None: the model's own harmony). Live chord following calls
        it as the bar is about to be composed."""
        lo = bar * BEATS_PER_BAR
        need = lo + len(chords)
        if len(self._chords) < need:
            self._chords += [None] * (need - len(self._chords))
        self._chords[lo:need] = list(chords)

    def refocus(self, bars: int = 1) -> None:
        """At the Bar token being fed now, forget all but the last ``bars`` bars of context, and the
        register the piece had: it is learnt again after the turn (a song's next section, too, may
        sit higher or lower, as a chorus does)."""
        self._refocus = bars
        if self._keeper is not None:
            self._keeper.let_go(self.decoder.bars - 1)

    @staticmethod
    def _bar_lines(ctx: list[int]) -> list[int]:
        """Indexes of the Bar tokens in a context (after BOS and Mode)."""
        return [i for i in range(2, len(ctx)) if ctx[i] == BAR]

    def _recent(self, ctx: list[int], bars: int) -> list[int]:
        lines = self._bar_lines(ctx)
        start = lines[max(0, len(lines) - 1 - bars)]
        return ctx[:2] + ctx[start:]

    def set_arousal(self, arousal: float) -> None:
        """Aim the expression bias at ``arousal`` from the next token on (bar-level steering)."""
        bias = arousal_bias(arousal, self.s.expression, opening=self.s.arousal)
        if self.s.key_pull:
            pull = key_pull_bias(self.s.mode, self.s.key_pull)
            bias = (pull, pull) if bias is None else (bias[0] + pull, bias[1] + pull)
        self._bias = bias

    def _bar_content(self, bar: int) -> list[int]:
        """The tokens of an earlier bar, after its Bar token up to the next one."""
        lo = self._bar_at[bar] + 1
        hi = self._bar_at[bar + 1] if bar + 1 < len(self._bar_at) else len(self.tokens)
        return self.tokens[lo:hi]

    def _next(self, logits: np.ndarray, mask: np.ndarray) -> int:
        """The restated bar's next token where the grammar allows it, else a sampled one."""
        if self._restating:
            tok = self._restating.pop(0)
            if mask[tok]:
                return tok
            self._restating.clear()  # cannot happen for a whole bar copied after a Bar; kept safe
        if self._bias is not None:
            after_note = DUR0 <= self.decoder.state.last < DUR0 + N_DUR
            logits = logits + self._bias[after_note]
        if self._keeper is not None:
            logits = self._keep(logits, mask)
        free = mask
        if self.s.scale_lock:
            locked = mask.copy()
            locked[_OFF_SCALE] = False
            if locked.any():  # after a Position some pitch must follow: the scale has 7 per octave
                mask = locked
        if self._chords:
            logits, mask = self._hold_chord(logits, mask, free)
        logits = octave_spread(logits, mask, self.s.spread)
        tok = choose(logits, mask, self.s.temperature, self.s.top_p, self.rng)
        if self._chords:
            self._heard(tok)
        return tok

    def _keep(self, logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The register keeper's lean on the pitch or duration about to be drawn (engine.generation.register)."""
        st = self.decoder.state
        if st.position < 0:
            return logits
        beat = ((st.bars - 1) * STEPS_PER_BAR + st.position) / STEPS_PER_BEAT
        if VEL0 <= st.last < VEL0 + N_VEL:
            lean, where = self._keeper.duration_bias(beat), slice(DUR0, DUR0 + N_DUR)
        elif mask[PITCH0:PITCH0 + N_PITCH].any():
            lean, where = self._keeper.pitch_bias(st.bars - 1, beat, POS0 <= st.last < POS0 + N_POS), slice(PITCH0, PITCH0 + N_PITCH)
        else:
            return logits
        if lean is None:
            return logits
        logits = logits.astype(np.float64)  # a copy: the stepper's logits stay as they are
        logits[where] += lean
        return logits

    def _hold_chord(self, logits: np.ndarray, mask: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The chord of the current beat on the pitch or duration about to be drawn
        (``engine.generation.harmony``); the chord's own tones stay allowed under scale lock."""
        st = self.decoder.state
        if st.position < 0:
            return logits, mask
        step = (st.bars - 1) * STEPS_PER_BAR + st.position
        span = harmony.span_at(self._chords, step)
        if span is None:
            return logits, mask
        last = st.last
        pitches = slice(PITCH0, PITCH0 + N_PITCH)
        if (POS0 <= last < POS0 + N_POS or DUR0 <= last < DUR0 + N_DUR) and mask[pitches].any():
            allowed, bias = harmony.pitch_rule(span.chord, POS0 <= last < POS0 + N_POS, self._onset < span.start)
            bias = bias + harmony.needed(span.chord, self._sounding(span))
            tones = np.isin(_PITCH_CLASS, sorted(span.chord.tones))
            keep = (mask[pitches] | (free[pitches] & tones)) & allowed
            if keep.any() or not POS0 <= last < POS0 + N_POS:
                mask = mask.copy()
                mask[pitches] = keep
                logits = logits.astype(np.float64)
                logits[pitches] = logits[pitches] + bias
        elif VEL0 <= last < VEL0 + N_VEL:
            ok = harmony.duration_allowed(span, st.last_pitch, step)
            mask = mask.copy()
            mask[DUR0:DUR0 + N_DUR] &= ok
            logits = logits.astype(np.float64)
            logits[DUR0:DUR0 + N_DUR] += harmony.articulation(self.s.valence)
            self._onset = step
            self._pending = (span, st.last_pitch % 12, step)
        return logits, mask

    def _sounding(self, span) -> np.ndarray:
        if self._sounded[0] != span.start:
            self._sounded = (span.start, np.zeros(12))
        return self._sounded[1]

    def _heard(self, tok: int) -> None:
        """A Duration drawn under a chord: its note's time inside the chord counts as sounded."""
        if self._pending is not None and DUR0 <= tok < DUR0 + N_DUR:
            span, pc, step = self._pending
            self._sounding(span)[pc] += min(span.end, step + DURATION_STEPS[tok - DUR0]) - step
        self._pending = None

    def _feed_context(self, ctx: list[int]) -> np.ndarray:
        self.stepper.reset()
        logits = None
        for i, t in enumerate(ctx):
            logits = self.stepper.step(t, i)
        return logits

    def __iter__(self) -> Iterator[tuple[int, list[NoteEvent]]]:
        s, st = self.s, self.stepper
        mode_tok = MODE0 + MODES.index(s.mode)  # a ValueError here is a caller's bug, not user input
        ctx = [BOS, mode_tok]
        for t in ctx:
            self.tokens.append(t)
            yield t, self.decoder.push(t)
        logits = self._feed_context(ctx)
        bar_tokens = 0
        sounded = False
        while True:
            mask = allowed_mask(self.decoder.state, min_bars=s.bars)
            if not sounded and self.decoder.bars >= 1 and not self._restating:
                # A piece (or an answer to a primer) opens with sound: an empty first bar (which the
                # model writes now and then for calm music) would make a one-bar clip silent and a
                # longer one start late.
                opening = mask.copy()
                opening[BAR] = opening[EOS] = False
                if opening.any():
                    mask = opening
            if self.decoder.bars >= 1 and bar_tokens > s.max_tokens_per_bar:
                mask[:] = False
                mask[BAR] = True  # close a runaway bar (always legal after a note)
                if not allowed_mask(self.decoder.state)[BAR]:
                    mask = allowed_mask(self.decoder.state, min_bars=s.bars)
            forced = bool(self._restating)
            tok = self._next(logits, mask)
            if tok == BAR and self.decoder.bars >= s.bars:
                tok = EOS  # the requested bars are complete
            self.tokens.append(tok)
            ctx.append(tok)
            bar_tokens = 0 if tok == BAR else bar_tokens + 1
            notes = self.decoder.push(tok)
            if self._keeper is not None:
                for n in notes:
                    self._keeper.heard(int(n.start // BEATS_PER_BAR), n.pitch, n.start, n.start + n.duration)
            # only the model's own notes count: after a musician's phrase (the primer) the answer's
            # first bar must sound too, or the answer comes a bar late
            sounded = sounded or (bool(notes) and not forced)
            yield tok, notes
            if tok == EOS:
                return
            if tok == BAR:
                self._bar_at.append(len(self.tokens) - 1)
                bar = self.decoder.bars - 1
                if self.on_bar is not None:
                    self.on_bar(bar)
                if self._keeper is not None:
                    self._keeper.bar_line(bar)
                if bar < len(s.plan) and s.plan[bar] is not None:
                    # the model still hears every restated token, so what follows continues from it
                    self._restating = self._bar_content(s.plan[bar]) + [BAR]
            if len(ctx) >= st.block_size:
                ctx = self._slide(ctx)
                logits = self._feed_context(ctx)
            elif tok == BAR and self._refocus > 0:
                # the emotion turned here: keep the last bars only, so the old mood's density and
                # register (which the model otherwise carries on from its context) let go
                ctx = self._recent(ctx, self._refocus)
                self._refocus = 0
                logits = self._feed_context(ctx)
            else:
                logits = st.step(tok, len(ctx) - 1)

    def _slide(self, ctx: list[int]) -> list[int]:
        """Keep BOS, Mode and the tokens from the latest bar line in the second half."""
        half = len(ctx) // 2
        lines = self._bar_lines(ctx)
        later = [i for i in lines if i >= half]
        # no bar line left in the window (an earlier slide kept the tail of one very long bar): the tail again
        start = later[0] if later else (lines[-1] if lines else 2)
        if len(ctx) - start + 2 >= self.stepper.block_size:  # one bar longer than the window: keep its tail
            start = len(ctx) - self.stepper.block_size // 2
        return ctx[:2] + ctx[start:]
