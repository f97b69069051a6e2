"""Fit the controls a model is played with so its pieces spread as real music does; store them in the sidecar.

    python -m engine.training.control_fit [--model-dir engine/models] [--data PATH] [--n 108] [--dry-run]

The decoder learnt to follow density and touch (``engine.training.controls``), but not one to
one: asked through the training map, it played 0.22 softer than asked (108 validation pictures;
on the test pictures mean velocity 63 against real music's 71) and, across pieces, half as varied
(notes per bar ±3.6 against ±7.4). This fits what to *ask* so that what is *played* matches real music:

1. Real music: every training-split piece, bars 2–``bars``+1 (its first bar is often a lead-in
   half of silence), its density and touch against its labelled VA: a linear map ``R`` and the
   spread ``s`` of pieces around it, per control.
2. The model: one piece per validation picture at its labelled VA, asked the current map plus a
   known seeded offset (``PROBE`` spreads wide, so the slope is measured over a real range), its
   played density and touch against what was asked: ``played ≈ a + b·asked``, residual ``r``.
3. Ask ``(R − a) / b`` (the bias row takes −a), and let each piece depart by
   ``spread = √(s² − r²) / b`` per unit of ``variety``: the model's own sampling already adds ``r``.

Reports the fit and writes ``controls`` into the sidecar (atomically) unless ``--dry-run``.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ..generation.controls import CLIP, N_CONTROLS, NAMES, Controls
from ..generation.runtime import MODEL_DIR, Runtime
from . import musicality as M
from .controls import control_values, fit_control_map
from .dataset import data_dir
from .evaluate import reference_pieces, test_images

PROBE = 0.5  # the asked offsets' spread while measuring the model's response


def played_controls(notes, bars: int, n: int = N_CONTROLS) -> np.ndarray:
    """The first ``n`` of (density, touch, range) of notes over ``bars`` bars, as the decoder's
    controls define them, clipped."""
    vel = M.velocity_mean(notes)
    if not notes or not np.isfinite(vel):
        return np.full(n, -CLIP)
    return control_values(max(M.notes_per_bar(notes, bars), 1e-6), vel, M.pitch_range(notes), n)


def real_target(root, bars: int, n: int = N_CONTROLS) -> tuple[np.ndarray, np.ndarray, int]:
    """The training pieces' map R (3, 2), their spread s (2,) around it, and how many pieces."""
    va, ctl = [], []
    for item, notes in reference_pieces(root, bars + 1, split="train"):
        body = M.from_bar(notes, 2)
        if len(body) >= 8:
            va.append((item.valence, item.arousal))
            ctl.append(played_controls(body, bars, n))
    va, ctl = np.array(va), np.array(ctl)
    r = fit_control_map(va, ctl)
    resid = ctl - (r[0] + va @ r[1:])
    return r, resid.std(axis=0), len(va)


def response(asked: np.ndarray, played: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per control, least squares ``played ≈ a + b·asked``: (a, b, residual std), each (k,)."""
    k = asked.shape[1]
    a, b, r = np.zeros(k), np.zeros(k), np.zeros(k)
    for j in range(k):
        x = np.column_stack([np.ones(len(asked)), asked[:, j]])
        (a[j], b[j]), *_ = np.linalg.lstsq(x, played[:, j], rcond=None)
        r[j] = (played[:, j] - x @ np.array([a[j], b[j]])).std()
    return a, b, r


def solve(real_map: np.ndarray, real_spread: np.ndarray, a: np.ndarray, b: np.ndarray, r: np.ndarray) -> Controls:
    """What to ask for the model (response a + b·asked, residual r) to play real music's map and spread."""
    if np.any(b < 0.2):
        raise ValueError(f"the model hardly follows its controls (slopes {np.round(b, 2).tolist()}); nothing to fit")
    m = real_map / b
    m[0] = (real_map[0] - a) / b
    spread = np.sqrt(np.maximum(real_spread ** 2 - r ** 2, 0.0)) / b
    return Controls({"map": m, "spread": spread})


def probe(rt: Runtime, root, n: int, bars: int, log=print) -> tuple[np.ndarray, np.ndarray]:
    """(asked, played) controls of one piece per validation picture, labelled VA, intensity 1,
    asked the runtime's map plus a seeded offset of spread ``PROBE``."""
    from ..events import VA
    from ..request import GenerationSettings

    count = rt.controls.count
    rt.controls = Controls({"map": rt.controls.map, "spread": np.full(count, PROBE)})
    asked, played = [], []
    for k, im in enumerate(test_images(root, n, split="val")):
        s = GenerationSettings(bars=bars, seed=k, intensity=1.0, variety=1.0)
        target = VA(im.valence, im.arousal)
        piece = rt.compose(s, rt.encode(root / im.path), target)
        aimed = s.aim(target)
        asked.append(rt.controls((aimed.valence, aimed.arousal), rt.control_offset(s))[0])
        played.append(played_controls(list(piece.notes), bars, count))
        if (k + 1) % 20 == 0:
            log(f"probed {k + 1}/{n}")
    return np.array(asked), np.array(played)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", default=str(MODEL_DIR))
    ap.add_argument("--data")
    ap.add_argument("--n", type=int, default=108, help="validation pictures to probe the model with (default 108)")
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.time()
    root = data_dir(a.data)
    rt = Runtime.load(a.model_dir, verify=False)
    if rt.controls is None:
        raise SystemExit(f"{a.model_dir}: this decoder was trained without controls; nothing to fit")
    real_map, real_spread, n_real = real_target(root, a.bars, rt.controls.count)
    asked, played = probe(rt, root, a.n, a.bars, log=lambda m: print(m, file=sys.stderr))
    off, slope, resid = response(asked, played)
    fitted = solve(real_map, real_spread, off, slope, resid)
    for j, name in enumerate(NAMES[: rt.controls.count]):
        print(f"{name}: real music (n={n_real}) = {real_map[0, j]:+.3f} {real_map[1, j]:+.3f}·v {real_map[2, j]:+.3f}·a, spread {real_spread[j]:.3f}; "
              f"model (n={len(asked)}) plays {off[j]:+.3f} + {slope[j]:.3f}·asked (residual {resid[j]:.3f}); "
              f"ask {fitted.map[0, j]:+.3f} {fitted.map[1, j]:+.3f}·v {fitted.map[2, j]:+.3f}·a, spread {fitted.spread[j]:.3f}")
    print(f"{time.time() - t0:.0f} s")
    if not a.dry_run:
        from .export import update_sidecar

        update_sidecar(a.model_dir, controls=fitted.to_dict())
        print(f"wrote controls into {a.model_dir}/synesthete.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
