"""Soak: many generations in one process (memory must not grow), many stream start/stop
cycles on a real JACK port (no note may be left sounding).

    python scripts/soak.py [--generations 1000] [--cycles 100] [--json]

Prints RSS after warm-up and at the end of the generations, and the stuck-note count after
the cycles. The figures go into docs/RELIABILITY.md.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def soak_generations(n: int) -> dict:
    from engine.request import GenerationSettings
    from engine.generation.runtime import Runtime

    rt = Runtime.load()
    image = ROOT / "examples" / "coffee.jpg"
    notes = 0
    t0 = time.time()
    start = None
    enc = None
    for i in range(n):
        if i % 10 == 0:
            enc = rt.encode(image)  # the encoder too, now and then
        notes += len(list(rt.notes(GenerationSettings(bars=1, seed=i), enc)))
        if i == 9:
            start = rss_mb()
    return {"generations": n, "notes": notes, "rss_after_warmup_mb": start, "rss_end_mb": rss_mb(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "seconds": time.time() - t0}


def soak_streams(cycles: int) -> dict:
    import os
    import uuid

    from jack_fixture import start_jackd, stop_jackd
    from test_live_jack import Receiver, melody, sounding_at_end

    from engine.live.stream import LiveStream
    from engine.live.ports import open_output

    name = f"synesthete-soak-{uuid.uuid4().hex[:6]}"
    proc = start_jackd(name)
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1")
    stuck_cycles = 0
    sent_ons = 0
    try:
        with open_output("SynSoak") as port:
            rec = Receiver("SynSoak", client="soakrec")
            rng = random.Random(0)
            for c in range(cycles):
                before = len(rec.messages())
                live = LiveStream(iter(melody(40, step=0.25, dur=0.6)), port, tempo=240.0, lookahead=0.02).start()
                time.sleep(rng.uniform(0.05, 0.4))
                live.stop()
                live.wait(5)
                time.sleep(0.05)  # let the last messages cross JACK
                msgs = rec.messages()[before:]
                sent_ons += sum(1 for m, _ in msgs if m.type == "note_on" and m.velocity > 0)
                if sounding_at_end(msgs):
                    stuck_cycles += 1
            rec.close()
    finally:
        stop_jackd(proc)
    return {"cycles": cycles, "cycles_with_stuck_notes": stuck_cycles, "note_ons_received": sent_ons}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generations", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = {"generations": soak_generations(a.generations)}
    if a.cycles:
        res["streams"] = soak_streams(a.cycles)
    print(json.dumps(res, indent=None if a.json else 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
