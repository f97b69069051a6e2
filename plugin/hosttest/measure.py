"""The timing table of docs/PLUGIN.md: the plugin's onsets against the host's grid in Ardour 7.

    .venv/bin/python plugin/hosttest/measure.py [--takes 3] [--bars 4]

Builds nothing: run scripts/build-plugin.sh first. For each condition (quiet; two busy processes
on the CPUs; Ardour's buffer at 256 and 1024 frames; a tempo change 120 -> 150 BPM in the middle)
it plays takes of a looping piece on Ardour's Dummy backend and compares every onset the plugin
wrote (at its transport sample, read by a logger after it) with the sample where the host's
tempo map puts that note's beat. Prints one Markdown table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from ardour import RATE, ArdourHost  # noqa: E402

from engine.service.protocol import Client  # noqa: E402

DEFAULTS = {"key": "auto", "intensity": 1.5, "variety": 1, "spread": 1.2, "humanize": 0}


def sample_of(beat, tempo):
    frame = 0.0
    for i, (b0, bpm) in enumerate(tempo):
        b1 = tempo[i + 1][0] if i + 1 < len(tempo) else float("inf")
        if beat <= b1:
            return frame + (beat - b0) * 60.0 * RATE / bpm
        frame += (b1 - b0) * 60.0 * RATE / bpm
    return frame


def expected(sock, bars, seed, pieces):
    out = []
    with Client(sock, timeout=120) as c:
        for k in range(1, pieces + 1):
            r = c.call({"op": "piece", "settings": {**DEFAULTS, "bars": bars, "seed": seed}, "shift": [0, 0],
                        "tempo": 120.0, "piece": k})
            out += [((k - 1) * bars * 4 + s, p, v) for s, _, p, v in r["notes"]]
    return sorted(out)


def take(root, sock, bars, seed, beats, tempo, buffer, busy):
    host = ArdourHost(root, ROOT / "build" / "plugin" / "bin" / "Synesthete.lv2",
                      {"SYNESTHETE_SOCKET": str(sock), "SYNESTHETE_AUTOSTART": "0"})
    host.add_preset("m", params={"bars": bars, "seed": seed, "loop": 1})
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        t = host.run(tracks=[{"name": "Syn", "preset": "m"}], tempo=list(tempo), buffer=buffer,
                     actions=[["ready", 60], ["roll"], ["until", int(sample_of(beats, tempo))], ["stop"]])
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    if not t.done:
        raise RuntimeError(t.stderr[-2000:])
    return [(on, p, v) for on, _, p, v in t.notes(1) if on < sample_of(beats, tempo)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--takes", type=int, default=3)
    ap.add_argument("--bars", type=int, default=4, help="bars per piece (each take plays two pieces)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="synesthete-measure-"))
    sock = tmp / "run" / "engine.sock"
    engine = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve"], cwd=ROOT,
                              env={**os.environ, "SYNESTHETE_SOCKET": str(sock)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                with Client(sock, timeout=5) as c:
                    if c.call({"op": "hello"}).get("ready"):
                        break
            except OSError:
                time.sleep(0.1)
        beats = 2 * args.bars * 4
        steady = ((0.0, 120.0),)
        change = ((0.0, 120.0), (float(args.bars * 4), 150.0))
        conditions = [("quiet, buffer 256", steady, 256, 0), ("two busy processes, buffer 256", steady, 256, 2),
                      ("quiet, buffer 1024", steady, 1024, 0), ("two busy processes, buffer 1024", steady, 1024, 2),
                      ("tempo 120 -> 150 mid-take, buffer 1024", change, 1024, 0),
                      ("tempo 120 -> 150 mid-take, two busy processes", change, 1024, 2)]
        print("| condition | takes | notes | missing/extra | onset error max | mean | p99 |")
        print("|---|--:|--:|--:|--:|--:|--:|")
        for i, (label, tempo, buffer, busy) in enumerate(conditions):
            errors, wrong = [], 0
            for k in range(args.takes):
                seed = 100 + 10 * i + k
                want = [(s, p, v) for s, p, v in expected(sock, args.bars, seed, 2) if s < beats]
                got = take(tmp / f"c{i}-{k}", sock, args.bars, seed, beats, tempo, buffer, busy)
                if len(got) != len(want):
                    wrong += abs(len(got) - len(want))
                for (on, p, v), (s, pp, vv) in zip(sorted(got), want):
                    if (p, v) != (pp, vv):
                        wrong += 1
                        continue
                    errors.append(abs(on - sample_of(s, tempo)) / RATE * 1000.0)
            errors.sort()
            p99 = errors[min(len(errors) - 1, int(0.99 * len(errors)))] if errors else float("nan")
            print(f"| {label} | {args.takes} | {len(errors)} | {wrong} | {max(errors):.3f} ms | "
                  f"{statistics.mean(errors):.3f} ms | {p99:.3f} ms |", flush=True)
    finally:
        engine.terminate()
        engine.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
