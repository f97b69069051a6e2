"""Live MIDI over a real JACK server (dummy backend): ports, timing, silence on every way out,
clock following and CC steering. Receivers and senders are real JACK clients
(python-rtmidi, API_UNIX_JACK); nothing stands in for a port here."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import mido
import pytest

pytestmark = pytest.mark.jack
rtmidi = pytest.importorskip("rtmidi")

from engine.events import VA, NoteEvent  # noqa: E402
from engine.live.stream import LiveStream, stream  # noqa: E402
from engine.live.midi_in import MidiIn  # noqa: E402
from engine.files.midi_io import read_midi  # noqa: E402
from engine.live.ports import PortError, list_ports, open_output  # noqa: E402
from engine.request import GenerationSettings, Plan  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class Receiver:
    """A JACK MIDI input client that records (message, arrival time) from one source port."""

    def __init__(self, source_substring: str, client: str = "rec") -> None:
        self.midi = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, client)
        self.midi.ignore_types(timing=False)
        deadline = time.monotonic() + 3
        while True:
            ports = self.midi.get_ports()
            hits = [i for i, p in enumerate(ports) if source_substring in p]
            if hits or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert hits, f"{source_substring!r} not among JACK outputs {ports}"
        self.log: list[tuple[mido.Message, float]] = []
        self._driver = None
        self._offset = float("inf")
        self._raw: list[tuple[list[int], float, float]] = []
        # Polled, not a callback: a Python callback runs in JACK's process thread and, waiting
        # for the GIL, makes the client late enough for JACK to drop that cycle's MIDI.
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()
        self.midi.open_port(hits[0], "in")

    def _poll(self):
        while not self._stop.is_set():
            event = self.midi.get_message()
            if event is None:
                time.sleep(0.0002)
                continue
            self._on(event, time.perf_counter())

    def _on(self, event, now):
        data, delta = event
        self._driver = 0.0 if self._driver is None else self._driver + delta
        self._offset = min(self._offset, now - self._driver)
        self._raw.append((data, self._driver, now))

    def messages(self) -> list[tuple[mido.Message, float]]:
        # Arrival = the driver's stamp (taken in JACK's cycle) on our clock; see ports.InputPort.
        return [(mido.Message.from_bytes(d), t + self._offset) for d, t, _ in list(self._raw)]

    def note_ons(self):
        return [(m, t) for m, t in self.messages() if m.type == "note_on" and m.velocity > 0]

    def close(self) -> None:
        self._stop.set()
        self._poller.join(1)
        self.midi.close_port()
        self.midi.delete()


def sounding_at_end(msgs) -> set[tuple[int, int]]:
    down: set[tuple[int, int]] = set()
    for m, _ in msgs:
        if m.type == "note_on" and m.velocity > 0:
            down.add((m.channel, m.note))
        elif m.type in ("note_on", "note_off"):
            down.discard((m.channel, m.note))
        elif m.type == "control_change" and m.control in (120, 123):
            down = {d for d in down if d[0] != m.channel}
    return down


def assert_silent(rec: Receiver) -> None:
    msgs = rec.messages()
    assert not sounding_at_end(msgs), f"stuck notes: {sounding_at_end(msgs)}"
    assert any(m.type == "control_change" and m.control == 123 for m, _ in msgs), "no All Notes Off"


def model(notes, delay: float = 0.0):
    """A stand-in for Runtime.generate: yields notes lazily, taking ``delay`` s per note."""
    for n in notes:
        if delay:
            time.sleep(delay)
        yield n


def melody(n: int, step: float = 0.5, dur: float = 0.4) -> list[NoteEvent]:
    out = []
    for i in range(n):
        out.append(NoteEvent(60 + (i * 5) % 24, 70 + i % 40, i * step, dur))
        if i % 4 == 0:  # a chord now and then: same start, several pitches
            out.append(NoteEvent(48 + i % 12, 60, i * step, dur * 2))
    return out


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:4]}"


@pytest.mark.timeout(30)
@pytest.mark.flaky(reruns=2, reruns_delay=1)
def test_notes_arrive_once_in_order_on_time(jack_server, tmp_path):
    name = unique("SynA")
    notes = melody(24, step=0.25, dur=0.2)
    with open_output(name, api="jack") as port:
        assert port.api == "jack" and port.virtual
        rec = Receiver(f"{name}:")
        try:
            res = stream(Plan(GenerationSettings(tempo=180), VA(0.0, 0.0)), port, model(notes, delay=0.005),
                         also_write=tmp_path / "take.mid")
            wait_for(lambda: any(m.type == "control_change" for m, _ in rec.messages()), 2)
        finally:
            rec.close()
    ons = rec.note_ons()
    assert [m.note for m, _ in ons] == [s.pitch for s in res.sent if s.kind == "on"]
    assert sorted(m.note for m, _ in ons) == sorted(n.pitch for n in notes)
    offs = [m for m, _ in rec.messages() if m.type == "note_off" or (m.type == "note_on" and m.velocity == 0)]
    assert len(offs) >= len(notes)
    assert_silent(rec)
    # Onset error vs the schedule, as the receiving JACK client saw it; loose: well under a 16th.
    sched = [s.scheduled for s in res.sent if s.kind == "on"]
    errs = [t - s for (_, t), s in zip(ons, sched)]
    assert max(abs(e) for e in errs) < 0.030, [round(e * 1000, 1) for e in errs]
    assert not res.shifts
    written = read_midi(tmp_path / "take.mid")
    assert [(round(n.start_beat, 3), n.pitch) for n in written.notes] == \
        sorted((round(n.start, 3), n.pitch) for n in res.played)


@pytest.mark.timeout(30)
def test_ports_listing_and_connect(jack_server):
    sink = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, unique("Sink"))
    sink.open_virtual_port("in")
    try:
        listed = list_ports("auto")
        assert listed["api"] == "jack"
        target = [p for p in listed["outputs"] if p.endswith(":in") and "Sink" in p]
        assert target
        with open_output("SynC", connect=target[0].split(":")[0], api="jack") as port:
            assert port.name == target[0] and not port.virtual
        out = subprocess.run([sys.executable, "-c", "import json,sys; from engine.cli.live import cmd_ports;"
                              "import argparse; sys.exit(cmd_ports(argparse.Namespace(json=True, api='auto')))"],
                             capture_output=True, text=True, cwd=ROOT, timeout=20)
        assert out.returncode == 0, out.stderr
        import json
        obj = json.loads(out.stdout)
        assert set(obj) == {"outputs", "inputs", "api"} and obj["api"] == "jack"
        assert out.stderr == ""
    finally:
        sink.close_port()
        sink.delete()


@pytest.mark.timeout(30)
def test_stop_mid_stream_leaves_nothing_sounding(jack_server):
    name = unique("SynS")
    chord = [NoteEvent(p, 90, 0.0, 16.0) for p in (60, 64, 67)] + [NoteEvent(72, 90, 0.5, 16.0)]
    with open_output(name, api="jack") as port:
        rec = Receiver(f"{name}:")
        try:
            live = LiveStream(model(chord), port, tempo=120, lookahead=0.05).start()
            deadline = time.monotonic() + 3
            while len(rec.note_ons()) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            threading.Thread(target=live.stop).start()
            assert live.wait(3)
            t_stop = time.perf_counter()
            time.sleep(0.2)
            res = live.result()
        finally:
            rec.close()
    assert len(rec.note_ons()) == 4
    assert_silent(rec)
    assert not [m for m, t in rec.messages() if m.type == "note_on" and m.velocity > 0 and t > t_stop]
    assert res.stopped and all(n.duration < 16.0 for n in res.played)


DRIVER = textwrap.dedent("""
    # Runs the real `synesthete stream` code path (engine.cli.main) with a stand-in model in
    # place of engine.generation.runtime, so the test does not depend on the model: it plays over JACK.
    import sys, time, types
    from engine.events import VA, NoteEvent

    class Encoding:
        va = VA(0.5, 0.5); image = "img.png"

    class Runtime:
        model_id = "stand-in"
        @classmethod
        def load(cls, model_dir=None): return cls()
        def encode(self, path): return Encoding()
        def plan(self, settings, encodings=(), **request):
            from engine.request import make_plan
            return make_plan(settings, encodings, model=self.model_id, **request)
        def stream_notes(self, plan, tokens_out=None, *, steer=None):
            for i in range(plan.settings.bars * 4):
                time.sleep(0.01)
                yield NoteEvent(60 + i % 12, 90, float(i), 4.0)  # overlapping long notes

    sys.modules["engine.generation.runtime"] = types.SimpleNamespace(Runtime=Runtime)
    from engine.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def run_driver(tmp_path, *argv, env=None):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    image = tmp_path / "img.png"
    image.write_bytes(b"not really a png; the stand-in model ignores it")
    return subprocess.Popen([sys.executable, str(script), "stream", str(image), *argv],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def jack_outputs() -> list[str]:
    probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "look")
    try:
        return probe.get_ports()
    finally:
        probe.delete()


def wait_for(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.timeout(40)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_stream_subprocess_ends_clean(jack_server, tmp_path, sig):
    name = unique("SynP")
    out = tmp_path / "take.mid"
    proc = run_driver(tmp_path, "--port-name", name, "--api", "jack", "--loop", "--tempo", "200",
                      "--bars", "2", "--also-write", str(out))
    rec = None
    try:
        assert wait_for(lambda: any(name in p for p in jack_outputs()), 15)
        rec = Receiver(f"{name}:")
        assert wait_for(lambda: len(rec.note_ons()) >= 3, 10), proc.stderr
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=10)
        time.sleep(0.05)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert_silent(rec)
        assert out.exists() and len(read_midi(out).notes) >= 3
    finally:
        if proc.poll() is None:
            proc.kill()
        if rec is not None:
            rec.close()


@pytest.mark.timeout(30)
def test_connected_port_vanishing_silences_and_reports(jack_server):
    """The DAW's port goes away mid-stream: a clear PortError, and anyone else listening to
    our port (here: an observer) hears every note switched off."""
    sink_name = unique("Daw")
    sink = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, sink_name)
    sink.open_virtual_port("in")
    port = open_output("SynL", connect=sink_name, api="jack")
    obs = Receiver("SynL:", client="observer")  # our own port, which outlives the DAW's
    try:
        notes = [NoteEvent(60 + i % 12, 90, i * 0.25, 8.0) for i in range(400)]
        live = LiveStream(model(notes), port, tempo=240, lookahead=0.05).start()
        assert wait_for(lambda: len(obs.note_ons()) >= 4, 5)
        sink.close_port()
        sink.delete()
        assert live.wait(3)
        res = live.result()
        assert isinstance(res.error, PortError) and "disappeared" in str(res.error)
        time.sleep(0.05)
        assert_silent(obs)
    finally:
        port.close()
        obs.close()


@pytest.mark.timeout(40)
def test_jack_server_vanishing_gives_one_line(tmp_path):
    """Stop the JACK server under a streaming `synesthete stream`: exit 1, one clear line on
    stderr, no traceback and none of libjack's chatter."""
    from jack_fixture import start_jackd, stop_jackd
    server = unique("synesthete-doomed-")
    env = {"JACK_DEFAULT_SERVER": server, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1"}
    jack = start_jackd(server)
    proc = run_driver(tmp_path, "--api", "jack", "--loop", "--tempo", "200", env=env)
    try:
        assert wait_for(lambda: "Playing on" in (proc.stderr.readline() or ""), 15)
        time.sleep(0.5)
        # SIGTERM, not SIGKILL: clients see the same lost connection, but a killed jackd
        # leaves its slot in JACK's shared registry (8 slots) taken until the next reboot.
        jack.terminate()
        _, err = proc.communicate(timeout=10)
    finally:
        stop_jackd(jack)
        if proc.poll() is None:
            proc.kill()
    # `--loop` says how to steer and reports each piece it starts; beyond those, one line and
    # nothing from libjack.
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("piece ", "Steering: "))]
    assert proc.returncode == 1, err
    assert lines == ["error: MIDI port 'Synesthete' disappeared"], err


@pytest.mark.timeout(30)
@pytest.mark.flaky(reruns=2, reruns_delay=1)
def test_follows_daw_clock_start_and_cc_steering(jack_server):
    """A JACK client plays the DAW: CCs, Start and a 150 BPM clock into 'Synesthete In'.
    Playback starts on the next bar (pulse 96), and the loop's next piece gets the CC's VA."""
    in_name, out_name = unique("SynIn"), unique("SynO")
    daw = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, "daw")
    with MidiIn(in_name, api="jack") as mi, open_output(out_name, api="jack") as port:
        ports = daw.get_ports()
        daw.open_port([i for i, p in enumerate(ports) if in_name in p][0], "out")
        rec = Receiver(f"{out_name}:")
        try:
            daw.send_message([0xB0, 20, 127])   # valence → +1
            daw.send_message([0xB0, 21, 0])     # arousal → -1
            asked: list[VA] = []

            def next_piece(va):
                asked.append(va)
                return None  # the loop ends after this piece

            live = LiveStream(model([NoteEvent(60, 90, 0.0, 1.0), NoteEvent(62, 90, 1.0, 1.0)]), port,
                              tempo=120, sync=True, midi_in=mi, next_piece=next_piece, va=VA(0.0, 0.0),
                              piece_beats=16.0)
            live.start()
            spp = 60.0 / (150 * 24)
            times = {}
            t0 = time.perf_counter() + 0.05
            daw_ok = threading.Event()

            def play_daw():
                # A DAW sends Start, then pulses; we stamp when each pulse leaves.
                while time.perf_counter() < t0:
                    time.sleep(0.0005)
                daw.send_message([0xFA])
                for k in range(130):
                    t = t0 + 0.002 + k * spp
                    while time.perf_counter() < t:
                        time.sleep(0.0005)
                    daw.send_message([0xF8])
                    times[k] = time.perf_counter()
                daw_ok.set()

            th = threading.Thread(target=play_daw)
            th.start()
            assert wait_for(lambda: len(rec.note_ons()) >= 2, 6)
            th.join(5)
            live.stop()
            assert live.wait(3)
        finally:
            rec.close()
            daw.close_port()
            daw.delete()
    ons = rec.note_ons()
    assert mi.tempo == pytest.approx(150, abs=2)
    # The first note lands on pulse 96 (bar 2), the second a beat (24 pulses) later.
    # loose bounds (a 16th at 150 BPM is 100 ms); the tight figures are the benchmark's
    assert ons[0][1] - times[96] == pytest.approx(0.0, abs=0.03)
    assert ons[1][1] - times[120] == pytest.approx(0.0, abs=0.03)
    assert asked and asked[0].valence == 1.0 and asked[0].arousal == -1.0


@pytest.mark.parametrize("extra", [[], ["--arc=-0.8,-0.8;0.8,0.8", "--bars", "4", "--humanize", "0.5"]], ids=["plain", "arc+humanize"])
def test_stream_plays_the_same_notes_generate_writes_for_the_same_request(jack_server, tmp_path, extra):
    """One request, one piece: `stream` (real model, real JACK port) and `generate` agree note for note,
    also along an emotion arc and humanized."""
    from engine.files.midi_io import read_midi

    request = ["--bars", "2", "--tempo", "300", "--seed", "3", "--key", "F#", *extra]
    take, written = tmp_path / "take.mid", tmp_path / "gen.mid"
    r = subprocess.run([sys.executable, "-m", "engine.cli", "stream", str(ROOT / "examples" / "coffee.jpg"), *request,
                        "--api", "jack", "--port-name", unique("Same"), "--also-write", str(take)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "engine.cli", "generate", str(ROOT / "examples" / "coffee.jpg"), *request,
                        "-o", str(written)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr

    def notes(p):
        return [(n.pitch, n.velocity, round(n.start_beat, 3), round(n.end_beat, 3)) for n in read_midi(p).notes]

    played, composed = notes(take), notes(written)
    assert [n[:3] for n in played] == [n[:3] for n in composed] and composed
    # a port cannot sound one key twice: a note the piece repeats while it still rings is released
    # when the repeat starts, and the take records that; every other note lasts as composed
    # (a file cannot say which of two overlapping notes of one pitch ends first: reading pairs
    # them first in, first out, so an end may belong to the other note of that pitch)
    restarts = {(n[0], n[2]) for n in composed}
    ends = {(n[0], n[3]) for n in composed}
    for p_, c in zip(played, composed):
        assert p_[3] == c[3] or (p_[0], p_[3]) in ends or (p_[3] < c[3] and (p_[0], p_[3]) in restarts), (p_, c)


def test_stream_refuses_an_also_write_it_cannot_save_before_opening_a_port(jack_server, tmp_path):
    # root may write anywhere, so "cannot save" here is a parent that is a file, and the input itself
    not_a_dir = tmp_path / "notes.txt"
    not_a_dir.write_text("x")
    image = tmp_path / "p.jpg"
    image.write_bytes((ROOT / "examples" / "coffee.jpg").read_bytes())
    for out in (not_a_dir / "take.mid", image):
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "engine.cli", "stream", str(image), "--api", "jack",
                            "--port-name", unique("Ro"), "--also-write", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error:"), r.stderr
        assert "Playing on" not in r.stderr and time.monotonic() - t0 < 20
    assert image.read_bytes() == (ROOT / "examples" / "coffee.jpg").read_bytes()
