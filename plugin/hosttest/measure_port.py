"""The other row of docs/PLUGIN.md's timing table: the same music through the virtual MIDI port
and the DAW's MIDI clock (`synesthete stream --sync`), recorded by Ardour 7 on a private JACK
server (dummy backend, 48 kHz), quiet and with two busy processes on the CPUs.

    .venv/bin/python plugin/hosttest/measure_port.py [--takes 3] [--period 256]

Each take: jackd starts, `synesthete stream examples/coffee.jpg --sync --bars 4 --tempo 120`
waits for Start, Ardour sends clock and Start, records "Synesthete" from bar 1; the stream
starts on the next bar line (bar 2). The recorded onsets are compared with the beats `generate`
writes for the same request, one bar later. Ardour records MIDI in its ticks (1/1920 beat =
0.26 ms at 120 BPM), which bounds what this can resolve.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from engine.files.midi_io import read_midi  # noqa: E402

PHOTO = ROOT / "examples" / "coffee.jpg"
BPM, RATE = 120.0, 48000


def lua(cfg: dict) -> str:
    return "CFG = {" + ", ".join(f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"' for k, v in cfg.items()) + "}\n"


def one_take(work: Path, period: int, busy: int, seed: int, attempt: int = 0) -> list[tuple[float, int, int]]:
    name = f"synesthete-measure-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1", "JACK_NO_AUDIO_RESERVATION": "1"}
    jackd = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", str(RATE), "-p", str(period)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hogs = []
    stream = None
    try:
        time.sleep(1.5)
        stream = subprocess.Popen([sys.executable, "-m", "engine.cli", "stream", str(PHOTO), "--sync", "--bars", "4",
                                   "--tempo", str(BPM), "--seed", str(seed)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:      # the ports exist once it waits for Start
            ports = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout
            if "Synesthete:Synesthete" in ports and "Synesthete In:Synesthete In" in ports:
                break
            time.sleep(0.2)
        time.sleep(2.0)                          # the model loads after the ports open
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        tag = f"{seed}-{busy}-{attempt}"
        script = work / f"take-{tag}.lua"
        cfg = {"dir": str(work / f"s{tag}"), "name": f"s{tag}", "until_sample": int(6 * 4 * 60 / BPM * RATE)}
        script.write_text(lua(cfg) + (HERE / "port_clock.lua").read_text())
        config = work / "config" / "ardour7"
        config.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["ardour7-lua", str(script)], env={**env, "XDG_CONFIG_HOME": str(work / "config")},
                           capture_output=True, text=True, timeout=240)
        if "DONE" not in r.stdout:
            stream.terminate()
            raise RuntimeError(r.stdout[-1500:] + r.stderr[-1500:] + "\nstream: " + stream.communicate(timeout=10)[1][-1500:])
        notes = []
        for line in r.stdout.splitlines():
            f = line.split()
            if f and f[0] == "NOTE":
                b, t = f[1].split(":")
                notes.append((int(b) + int(t) / 1920.0, int(f[3]), int(f[4])))
        return sorted(notes)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
        if stream is not None:
            stream.terminate()
            try:
                stream.wait(10)
            except subprocess.TimeoutExpired:
                stream.kill()
        jackd.terminate()
        jackd.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--takes", type=int, default=3)
    ap.add_argument("--period", type=int, default=256)
    args = ap.parse_args()
    if shutil.which("jackd") is None or shutil.which("ardour7-lua") is None:
        print("needs jackd and ardour7-lua", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="synesthete-port-"))
    print("| condition | takes | notes | missing | offset (median) | jitter (sd) | error min..max |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for label, busy in (("quiet", 0), ("two busy processes", 2)):
        errors, missing = [], 0
        for k in range(args.takes):
            seed = 7 + k
            out = work / f"g{seed}.mid"
            subprocess.run([sys.executable, "-m", "engine.cli", "generate", str(PHOTO), "--bars", "4", "--tempo",
                            str(BPM), "--seed", str(seed), "-o", str(out)], cwd=ROOT, check=True, capture_output=True)
            want = sorted((n.start_beat + 4.0, n.pitch, n.velocity) for n in read_midi(out).notes)
            try:
                got = one_take(work, args.period, busy, seed)
            except RuntimeError:                       # a JACK server that halted under load: once more
                got = one_take(work, args.period, busy, seed, attempt=1)
            by_note = {}
            for b, p, v in got:
                by_note.setdefault(p, []).append(b)
            for b, p, v in want:                       # each due note: the nearest recorded onset of its pitch
                cands = by_note.get(p, [])
                if not cands:
                    missing += 1
                    continue
                near = min(cands, key=lambda x: abs(x - b))
                if abs(near - b) > 0.5:
                    missing += 1
                    continue
                errors.append((near - b) * 60.0 / BPM * 1000.0)
        med = statistics.median(errors)
        print(f"| virtual port + MIDI clock, {label} | {args.takes} | {len(errors)} | {missing} | {med:+.1f} ms | "
              f"{statistics.pstdev(errors):.1f} ms | {min(errors):+.1f} .. {max(errors):+.1f} ms |", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
