"""What the service answers: a request → the notes of one piece, made exactly as ``generate``
makes them; a picture → its VA and encoding. Every field is checked here, and a bad one is
answered with one line naming it; nothing a client sends can stop the service.

Public names: ``Pieces``, ``RequestError``, ``PIECE_SETTINGS``.

A piece request (all but ``op`` optional; ``settings`` as the rows of ``engine.settings.SETTINGS``):

    {"op": "piece", "settings": {"bars": 8, "seed": 7, "key": "auto", "intensity": 1.5, ...},
     "va": [0.5, -0.2], "tempo": 120.0, "piece": 1, "turns": [[4, 0.9, 0.8]],
     "picture": {"name": "coffee.jpg", "va": [0.33, -0.45], "memory": "<base64 float32>"}}

is the plan ``generate coffee.jpg --valence 0.5 --arousal -0.2 --tempo 120 --bars 8 --seed 7``
makes (``Runtime.plan``), and the answer is that piece's notes, in beats from its first bar line:

    {"ok": true, "notes": [[start, duration, pitch, velocity], ...], "key": "G", "tempo": 120.0, ...}

The emotion: ``va`` asks for a VA outright (``--valence/--arousal``); ``shift`` (what the plugin
sends) moves the picture's own VA by that much, clipped to the plane — with no picture, from the
centre — so ``"shift": [0, 0]`` with a picture is exactly ``generate`` without an override; with
neither, the picture's VA or the centre. ``piece`` N > 1 is the N-th piece of a loop
(``Plan.next_piece``, as ``stream --loop`` plays it); ``turns`` steer it from bar ``b`` (0-based,
in the piece) to another VA (or shift, as the request's), as ``stream --steer`` does when a CC
arrives (``engine.live.steering.Steering``): until the first turn the piece's own VA, from each turn on
the turn's. The same request always gives the same notes, so answers are cached.

``picture`` carries the picture's encoding itself (``{"op": "picture", "path": ...}`` makes it),
so a DAW project that stores it plays the same music when the picture file is gone.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from ..errors import UsageError
from ..events import MAX_TEMPO, MIN_TEMPO, VA, BarAim
from ..settings import MAX_SEED, SETTINGS, GenerationSettings

# the settings a request may carry: every row but the arc (the plugin's emotion is its VA and
# turns) and the tempo (its own field: the host's)
PIECE_SETTINGS = tuple(s.name for s in SETTINGS if s.name not in ("arc", "tempo"))
MAX_NAME = 255
CACHE_SIZE = 64
COMPOSERS = 2        # pieces composed at once (2 CPU cores: more would only slow each down)
TOP_FIELDS = {"op", "settings", "va", "shift", "tempo", "piece", "turns", "picture", "token", "id"}


class RequestError(UsageError):
    """A request the service cannot take: the message names the field."""


def _number(x: Any, field: str, lo: float, hi: float) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or not lo <= x <= hi:
        raise RequestError(f"{field} must be a number in {lo:g}..{hi:g} (received {_short(x)})")
    return float(x)


def _short(x: Any) -> str:
    text = json.dumps(x) if not isinstance(x, str) else repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def _va(x: Any, field: str, span: float = 1.0) -> VA:
    if not (isinstance(x, list) and len(x) == 2):
        raise RequestError(f"{field} must be [valence, arousal] (received {_short(x)})")
    v, a = _number(x[0], f"{field} valence", -span, span), _number(x[1], f"{field} arousal", -span, span)
    return VA(v, a) if span == 1.0 else _Shift(v, a)


class _Shift(tuple):
    """A move of the VA (each axis in -2..2), not a point on the plane."""

    def __new__(cls, valence: float, arousal: float):
        return super().__new__(cls, (valence, arousal))

    def from_(self, base: VA) -> VA:
        return VA(max(-1.0, min(1.0, base.valence + self[0])), max(-1.0, min(1.0, base.arousal + self[1])))


def _int(x: Any, field: str, lo: int, hi: int) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi:
        raise RequestError(f"{field} must be a whole number in {lo}..{hi} (received {_short(x)})")
    return x


def settings_from(obj: Any, tempo: float | None) -> GenerationSettings:
    """The request's settings (a JSON object of ``PIECE_SETTINGS``) at ``tempo``, checked once by
    ``GenerationSettings`` itself."""
    if obj is None:
        obj = {}
    if not isinstance(obj, dict):
        raise RequestError(f"settings must be an object (received {_short(obj)})")
    unknown = sorted(set(obj) - set(PIECE_SETTINGS))
    if unknown:
        raise RequestError(f"settings: unknown {_short(unknown[0])} (known: {', '.join(PIECE_SETTINGS)})")
    values = dict(obj)
    for s in SETTINGS:  # JSON has one number type: a whole float is the int a row may want
        v = values.get(s.name)
        if s.kind is float and isinstance(v, int) and not isinstance(v, bool):
            values[s.name] = float(v)
        if s.kind is int and isinstance(v, float) and v.is_integer():
            values[s.name] = int(v)
    try:
        return GenerationSettings(**values, tempo=tempo)
    except UsageError as e:
        raise RequestError(f"settings: {e}") from None


def _steer(settings: GenerationSettings, turns: list[tuple[int, VA]]):
    """``steer(bar)`` for ``compose_notes``: None (the piece's own VA) until the first turn, then
    the last turn's VA aimed as the settings say — ``engine.live.steering.Steering`` with the CCs'
    arrival bars known in advance."""
    if not turns:
        return None

    def steer(bar: int):
        va = None
        for b, v in turns:
            if b <= bar:
                va = v
        return BarAim(settings.aim(va)) if va is not None else None

    return steer


class Pieces:
    """The service's answers. ``runtime()`` gives the loaded ``engine.generation.runtime.Runtime`` (loaded
    once, on first use); answers to piece requests are cached (the same request, the same notes)."""

    def __init__(self, runtime: Callable[[], Any]) -> None:
        self.runtime = runtime
        self._cache: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()
        self._composers = threading.BoundedSemaphore(COMPOSERS)

    # --- pictures ------------------------------------------------------------------------------

    def picture(self, msg: dict) -> dict:
        """``{"op": "picture", "path": P}`` → the picture's name, VA, encoding and checksum."""
        path = msg.get("path")
        if not isinstance(path, str) or not path or len(path) > 4096 or "\0" in path:
            raise RequestError(f"path must be a picture's file path (received {_short(path)})")
        from ..files.inputs import open_input
        from ..picture.images import MAX_FILE_BYTES, ImageError

        rt = self.runtime()
        with open_input(path, "a picture", ImageError) as (fh, size):
            if size > MAX_FILE_BYTES:
                raise RequestError(f"path: {size} bytes is too large for a picture (limit {MAX_FILE_BYTES // 2**20} MB)")
            h = hashlib.sha256()
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
            digest = h.hexdigest()
        enc = rt.encode(path)
        memory = np.ascontiguousarray(enc.memory, dtype="<f4")
        name = str(enc.image or "")[:MAX_NAME]
        return {"ok": True, "name": name, "path": path, "sha256": digest,
                "va": [float(enc.va.valence), float(enc.va.arousal)],
                "memory": base64.b64encode(memory.tobytes()).decode("ascii")}

    def _encoding(self, obj: Any):
        """A picture object from a request → an ``Encoding`` (its memory exactly as stored)."""
        from ..generation.runtime import Encoding

        if not isinstance(obj, dict):
            raise RequestError(f"picture must be an object (received {_short(obj)})")
        name = obj.get("name", "")
        if not isinstance(name, str) or len(name) > MAX_NAME:
            raise RequestError(f"picture name must be text of at most {MAX_NAME} characters")
        va = _va(obj.get("va"), "picture va")
        cfg = self.runtime().config
        shape = (1, int(cfg["feat_tokens"]), int(cfg["d_model"]))
        text = obj.get("memory")
        if not isinstance(text, str):
            raise RequestError("picture memory must be base64 text (make it with the picture request)")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError("picture memory is not base64") from None
        if len(raw) != 4 * shape[0] * shape[1] * shape[2]:
            raise RequestError(f"picture memory holds {len(raw)} bytes; this model's is {4 * shape[1] * shape[2]} "
                               "(make it again with the picture request)")
        memory = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
        if not np.isfinite(memory).all():
            raise RequestError("picture memory holds numbers that are not finite")
        return Encoding(memory, va, name or None)

    # --- pieces --------------------------------------------------------------------------------

    def piece(self, msg: dict) -> dict:
        unknown = sorted(set(msg) - TOP_FIELDS)
        if unknown:
            raise RequestError(f"unknown field {_short(unknown[0])}")
        tempo = _number(msg.get("tempo", 120.0), "tempo", MIN_TEMPO, MAX_TEMPO)
        settings = settings_from(msg.get("settings"), tempo)
        if "va" in msg and "shift" in msg:
            raise RequestError("give va (a VA) or shift (a move of the picture's VA), not both")
        relative = "shift" in msg
        picture = msg.get("picture")
        encodings = [self._encoding(picture)] if picture is not None else []
        base = encodings[0].va if encodings else VA(0.0, 0.0)
        if relative:
            target = _va(msg["shift"], "shift", 2.0).from_(base)
        else:
            target = _va(msg["va"], "va") if "va" in msg else base
        index = _int(msg.get("piece", 1), "piece", 1, MAX_SEED)
        turns_in = msg.get("turns", [])
        if not isinstance(turns_in, list) or len(turns_in) > settings.bars:
            raise RequestError(f"turns must be a list of at most {settings.bars} [bar, valence, arousal]")
        turns: list[tuple[int, VA]] = []
        for i, t in enumerate(turns_in):
            if not (isinstance(t, list) and len(t) == 3):
                raise RequestError(f"turn {i + 1} must be [bar, valence, arousal] (received {_short(t)})")
            bar = _int(t[0], f"turn {i + 1} bar", 0, settings.bars - 1)
            if turns and bar <= turns[-1][0]:
                raise RequestError(f"turn {i + 1}: bars must increase (bar {bar} after bar {turns[-1][0]})")
            turn = _va(t[1:], f"turn {i + 1}", 2.0 if relative else 1.0)
            turns.append((bar, turn.from_(base) if relative else turn))
        key = hashlib.sha256(json.dumps([repr(settings), repr(target), index, repr(turns), picture],
                                        sort_keys=True).encode()).hexdigest()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return {**hit, "cached": True}
        rt = self.runtime()
        with self._composers:
            t0 = time.perf_counter()
            plan = rt.plan(settings, encodings, va=target)
            if index > 1:
                plan = plan.next_piece(index, target)
            notes = [[n.start, n.duration, n.pitch, n.velocity]
                     for n in rt.stream_notes(plan, steer=_steer(plan.settings, turns))]
            ms = (time.perf_counter() - t0) * 1000.0
        answer = {"ok": True, "notes": notes, "piece": index, "bars": plan.settings.bars, "key": plan.key.name,
                  "tempo": plan.tempo, "seed": plan.settings.seed, "va": [target.valence, target.arousal],
                  "ms": round(ms, 1)}
        with self._lock:
            self._cache[key] = answer
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return answer
