"""Steering latency: from a CC on "Synesthete In" to the first note composed under its VA, over
real JACK ports with the shipped model.

    python scripts/bench_steering.py                  # starts a private dummy jackd, prints a table
    python scripts/bench_steering.py --trials 12 --tempo 120 --json

Each trial streams a piece for (-0.8, -0.8) with ``Steering`` (``engine.live.steering``): a "DAW"
JACK client sends CC20 = CC21 = 127 (valence, arousal → +1) at a random moment in bar 2..3.
Printed per trial, in ms from the CC:
* composed: when the first bar under the new VA began to be composed;
* heard: when the first note of that bar reached a JACK client listening to our port (the
  driver's stamp on our clock); the issue asks at most one bar plus 50 ms;
and the judge's VA of the bars before the CC and from the steered bar on (it should move
toward (+1, +1)). The design bound is one bar plus ``LEAD_S`` (``engine.live.steering``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np  # noqa: E402
import rtmidi  # noqa: E402

from engine.events import BEATS_PER_BAR, VA  # noqa: E402
from engine.live.stream import LiveStream  # noqa: E402
from engine.live.midi_in import MidiIn  # noqa: E402
from engine.live.ports import open_output  # noqa: E402
from engine.request import GenerationSettings  # noqa: E402
from engine.live.steering import LEAD_S, Pacer, Steering  # noqa: E402
from test_live_jack import Receiver  # noqa: E402

START, STEERED = VA(-0.8, -0.8), VA(1.0, 1.0)


def steer_trial(rt, enc, *, tempo: float = 160.0, bars: int = 6, cc_beat: float = 6.0, seed: int = 0) -> dict:
    """One steered take; the CC goes out when playback reaches ``cc_beat``. Needs a JACK server."""
    tag = uuid.uuid4().hex[:4]
    in_name, out_name = f"SteerIn{tag}", f"SteerOut{tag}"
    daw = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, f"daw{tag}")
    with MidiIn(in_name, api="jack") as mi, open_output(out_name, api="jack") as port:
        daw.open_port([i for i, p in enumerate(daw.get_ports()) if in_name in p][0], "out")
        rec = Receiver(f"{out_name}:", client=f"rec{tag}")
        try:
            settings = GenerationSettings(bars=bars, tempo=tempo, seed=seed)
            pacer = Pacer()
            steering = Steering(settings, lambda: mi.next_va(START), pacer)
            notes = rt.stream_notes(rt.plan(settings, [enc], va=START), steer=steering.for_piece(1, START))
            live = LiveStream(notes, port, tempo=tempo, midi_in=mi, pacer=pacer).start()
            sent = {}

            deadline = time.monotonic() + bars * BEATS_PER_BAR * 60 / tempo + 15

            def daw_rides_the_faders():
                while time.monotonic() < deadline:
                    head = live.scheduler.playhead()
                    if head is not None and head >= cc_beat:
                        break
                    time.sleep(0.001)
                sent["t"] = time.perf_counter()
                daw.send_message([0xB0, 20, 127])
                daw.send_message([0xB0, 21, 127])

            th = threading.Thread(target=daw_rides_the_faders, daemon=True)
            th.start()
            while not live.wait(0.1):
                if time.monotonic() > deadline:
                    live.stop()
                    raise TimeoutError("the steered take did not end in time")
            th.join(2)
            result = live.result()
            time.sleep(0.1)
            arrivals = rec.note_ons()
        finally:
            rec.close()
            daw.close_port()
            daw.delete()
    if result.error is not None:
        raise result.error
    turn = next(t for t in steering.turns)
    bar_start = turn.bar * BEATS_PER_BAR
    t_bar = live.scheduler.map.time_at(bar_start)
    heard = [t for m, t in arrivals if t >= t_bar - 0.01]
    played = result.played
    before = [n for n in played if n.start < cc_beat]
    after = [n for n in played if n.start >= bar_start]
    judge = rt.judge
    jb = VA(*judge.predict(before)).clipped() if before else None
    ja = VA(*judge.predict(after)).clipped() if after else None
    return {"bar_ms": 1000 * BEATS_PER_BAR * 60 / tempo, "steered_bar": turn.bar,
            "composed_ms": 1000 * (turn.at - sent["t"]), "heard_ms": 1000 * (heard[0] - sent["t"]) if heard else None,
            "judge_before": jb, "judge_after": ja}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--tempo", type=float, default=120.0)
    ap.add_argument("--image", default=str(Path(__file__).resolve().parents[1] / "examples" / "coffee.jpg"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    from jack_fixture import start_jackd, stop_jackd
    from engine.generation.runtime import Runtime

    name = f"synesthete-bench-{uuid.uuid4().hex[:6]}"
    proc = start_jackd(name)
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1")
    try:
        rt = Runtime.load()
        enc = rt.encode(a.image)
        rng = np.random.default_rng(0)
        rows = [steer_trial(rt, enc, tempo=a.tempo, bars=5, cc_beat=float(4 + 4 * rng.random()), seed=k) for k in range(a.trials)]
    finally:
        stop_jackd(proc)
    bar = rows[0]["bar_ms"]
    heard = [r["heard_ms"] for r in rows if r["heard_ms"] is not None]
    composed = [r["composed_ms"] for r in rows]
    out = {"tempo": a.tempo, "bar_ms": bar, "lead_ms": 1000 * LEAD_S, "trials": len(rows),
           "composed_ms": {"median": statistics.median(composed), "max": max(composed)},
           "heard_ms": {"median": statistics.median(heard), "max": max(heard)},
           "heard_within_bar_plus_50ms": sum(h <= bar + 50 for h in heard) / len(heard),
           "judge_arousal_before_after": [statistics.mean(r["judge_before"].arousal for r in rows if r["judge_before"]),
                                          statistics.mean(r["judge_after"].arousal for r in rows if r["judge_after"])]}
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"steering at {a.tempo:g} BPM (a bar is {bar:.0f} ms, LEAD_S {1000 * LEAD_S:.0f} ms), {len(rows)} trials")
    print(f"CC → first bar composed under the new VA: median {out['composed_ms']['median']:.0f} ms, max {out['composed_ms']['max']:.0f} ms")
    print(f"CC → its first note heard:                  median {out['heard_ms']['median']:.0f} ms, max {out['heard_ms']['max']:.0f} ms "
          f"({100 * out['heard_within_bar_plus_50ms']:.0f}% within a bar + 50 ms)")
    b, f = out["judge_arousal_before_after"]
    print(f"judge arousal before the CC {b:+.2f}, from the steered bar on {f:+.2f} (CC asked +1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
