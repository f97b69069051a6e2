"""``synesthete data``: what the data holds, how well the timing survives, how pairs look."""
from __future__ import annotations

from collections import Counter

import numpy as np

from .dataset import SPLITS, data_dir, load_pieces, read_images, read_midis
from ..events import PIANO_HIGH, PIANO_LOW, quadrant
from .pairing import make_pairs, nearest_neighbour_stats, pairing_stats
from ..generation.tokens import DURATION_STEPS, STEPS_PER_BAR, VELOCITY_BINS, GridNote, decode, duration_bin, encode, notes_to_grid, velocity_bin


def round_trip(pieces) -> dict:
    """Encode each quantized piece and decode it again; compare note by note."""
    total = exact = onset_pitch = 0
    max_err = 0
    per_bar = []
    for p in pieces:
        grid = [GridNote(int(a), int(b), int(c), int(d)) for a, b, c, d in p.notes if PIANO_LOW <= a <= PIANO_HIGH]
        toks = encode(grid, p.mode)
        back = notes_to_grid(decode(toks))
        n_bars = max(g.start for g in grid) // STEPS_PER_BAR + 1
        per_bar.append(len(toks) / n_bars)
        ref = {}
        for g in grid:  # duplicates at one (onset, pitch) collapse to one note, as in encode()
            if (g.start, g.pitch) not in ref or g.duration > ref[(g.start, g.pitch)].duration:
                ref[(g.start, g.pitch)] = g
        got = {(g.start, g.pitch): g for g in back}
        for key, g in ref.items():
            total += 1
            if key in got:
                onset_pitch += 1
                h = got[key]
                # velocity and duration come back as their bins' values (lossy by design)
                exact += int(h.velocity == VELOCITY_BINS[velocity_bin(g.velocity)] and h.duration == DURATION_STEPS[duration_bin(g.duration)])
            else:
                cands = [abs(s - key[0]) for (s, pp) in got if pp == key[1]]
                max_err = max(max_err, min(cands) if cands else 10**6)
    return {"notes": total, "onset_pitch_exact": onset_pitch / max(1, total), "all_fields_exact": exact / max(1, total),
            "max_onset_error_steps": max_err, "tokens_per_bar_mean": float(np.mean(per_bar)), "tokens_per_bar_p95": float(np.percentile(per_bar, 95))}


def report(data: str | None = None) -> tuple[str, dict]:
    root = data_dir(data)
    images, midis = read_images(root), read_midis(root)
    lines = [f"data: {root}", "", "counts (train / val / test):"]
    obj: dict = {"data": str(root), "counts": {}, "quadrants": {}}
    for kind, items in (("images", images), ("midi", midis)):
        for src in sorted({i.source for i in items}):
            c = Counter(i.split for i in items if i.source == src)
            obj["counts"][src] = {s: c[s] for s in SPLITS}
            lines.append(f"  {kind:6s} {src:9s} {c['train']:5d} {c['val']:5d} {c['test']:5d}")
    lines += ["", "VA quadrants (Q1 excited, Q2 tense, Q3 sad, Q4 calm):", f"  {'source':9s} {'Q1':>5s} {'Q2':>5s} {'Q3':>5s} {'Q4':>5s}   valence mean±std   arousal mean±std"]
    for items in (images, midis):
        for src in sorted({i.source for i in items}):
            sel = [i for i in items if i.source == src]
            q = Counter(quadrant(i.valence, i.arousal) for i in sel)
            v = np.array([i.valence for i in sel])
            a = np.array([i.arousal for i in sel])
            obj["quadrants"][src] = {f"Q{k}": q[k] for k in (1, 2, 3, 4)}
            lines.append(f"  {src:9s} {q[1]:5d} {q[2]:5d} {q[3]:5d} {q[4]:5d}   {v.mean():+.3f}±{v.std():.3f}      {a.mean():+.3f}±{a.std():.3f}")
    pieces = load_pieces(root, midis)
    lines += ["", "timing (quantization to a 16th grid; EMOPIA beat-tracked with librosa, VGMIDI as sequenced):"]
    obj["timing"] = {}
    for src in sorted({p.item.source for p in pieces}):
        sel = [p for p in pieces if p.item.source == src]
        err = np.concatenate([p.error_ms for p in sel]) if sel else np.zeros(1)
        ok = sum(p.ok for p in sel)
        tempos = np.array([p.tempo_bpm for p in sel])
        obj["timing"][src] = {"pieces": len(sel), "passed": ok, "error_ms_p50": float(np.percentile(err, 50)), "error_ms_p95": float(np.percentile(err, 95)),
                              "tempo_p5": float(np.percentile(tempos, 5)), "tempo_p95": float(np.percentile(tempos, 95))}
        lines.append(f"  {src:9s} {ok}/{len(sel)} pass the sanity check; onset error p50 {np.percentile(err, 50):.1f} ms, p95 {np.percentile(err, 95):.1f} ms; tempo p5-p95 {np.percentile(tempos, 5):.0f}-{np.percentile(tempos, 95):.0f} BPM")
    failed = [p for p in pieces if not p.ok]
    if failed:
        lines.append(f"  left out of training: {len(failed)} ({'; '.join(p.item.path.split('/')[-1] + ': ' + p.reason for p in failed[:5])}{' ...' if len(failed) > 5 else ''})")
    rt = round_trip([p for p in pieces if p.ok])
    obj["tokens"] = rt
    lines += ["", "tokens (round trip of the quantized pieces):",
              f"  {rt['notes']} notes: onset+pitch recovered {100 * rt['onset_pitch_exact']:.2f}%, with velocity and duration equal to their bins {100 * rt['all_fields_exact']:.2f}%; "
              f"max onset error {rt['max_onset_error_steps']} grid steps; tokens per bar mean {rt['tokens_per_bar_mean']:.1f}, p95 {rt['tokens_per_bar_p95']:.1f}"]
    usable = [p.item for p in pieces if p.ok and len(p.notes) >= 8]
    pairs = make_pairs(images, usable)
    lines += ["", "pairing (capacity 3 per piece, up to 2 per image, seed 0, within each split):"]
    obj["pairing"] = {}
    for split in SPLITS:
        st = pairing_stats(pairs[split])
        obj["pairing"][split] = st
        lines.append(f"  {split:5s} {st['pairs']:5d} pairs, {st['images']} images, {st['pieces_used']} pieces used, highest reuse {st['max_reuse']}, "
                     f"mean VA distance {st['mean_distance']:.3f} (random pairs {st['random_distance']:.3f})")
    nn = nearest_neighbour_stats([i for i in images if i.split == "train"], [m for m in usable if m.split == "train"])
    obj["pairing"]["nearest_neighbour_train"] = nn
    lines.append(f"  (plain nearest neighbours on train would use {nn['pieces_used']} pieces, one of them {nn['max_reuse']} times)")
    return "\n".join(lines), obj
