"""Ableton Link (``stream --link``) against a second Link peer in this process, over a real JACK
port: onsets measured by a JACK client and compared with *the peer's* beat timeline (its own
``beat`` reads bracketed by ``perf_counter``, independent of ``engine.live.link``), tempo changes,
start/stop sync, and the command line. Two peers in one process find each other over the
loopback/LAN multicast that Link uses, in about 0.1 s here."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

aalink = pytest.importorskip("aalink")
rtmidi = pytest.importorskip("rtmidi")

from engine.errors import UsageError  # noqa: E402
from engine.events import NoteEvent  # noqa: E402
from engine.live.link import LinkSync, LinkUnavailable  # noqa: E402
from engine.live.stream import LiveStream  # noqa: E402
from engine.files.midi_io import read_midi  # noqa: E402
from engine.live.ports import open_output  # noqa: E402
from jack_fixture import GRID_MS, PERIOD, RATE  # noqa: E402
from test_live_jack import ROOT, Receiver, assert_silent, model, unique, wait_for  # noqa: E402

TOL_MS = 1000.0 * PERIOD / RATE + 2.0   # the bound: one JACK period plus 2 ms, at p99
LINK_LATENCY_S = 0.1   # a peer's change reaches the others 5..55 ms later, then one POLL_S
SESSION_EPS_S = 0.6  # Link merges two sessions by age, and calls sessions < 0.5 s apart a tie


class Peer:
    """A plain aalink peer (another app in the session) that logs its own timeline."""

    def __init__(self, bpm: float, *, start_stop_sync: bool = False) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop_thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.loop_thread.start()

        async def make():
            return aalink.Link(bpm)

        self.link = asyncio.run_coroutine_threadsafe(make(), self.loop).result(5)
        self.link.quantum = 4  # beat numbers phase-aligned to the session's bars
        self.link.start_stop_sync_enabled = start_stop_sync
        self.link.enabled = True
        self.samples: list[tuple[float, float, float]] = []  # (perf_counter, beat, bpm)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample_loop, daemon=True)
        self._sampler.start()

    def sample(self) -> tuple[float, float, float]:
        best = None
        for _ in range(5):
            t0 = time.perf_counter()
            beat = self.link.beat
            t1 = time.perf_counter()
            if best is None or t1 - t0 < best[0]:
                best = (t1 - t0, 0.5 * (t0 + t1), beat)
        s = (best[1], best[2], self.link.tempo)
        with self._lock:
            self.samples.append(s)
        return s

    def _sample_loop(self) -> None:
        while not self._stop.wait(0.01):  # the timeline is linear between changes: few samples do
            self.sample()

    def set_tempo(self, bpm: float) -> tuple[float, float, float]:
        """Change the session tempo now; returns the sample just before: (time, beat, old bpm)."""
        before = self.sample()
        self.link.tempo = bpm
        self.sample()
        return before

    def beat_at(self, t: float) -> float:
        """The peer's beat at perf_counter ``t``, interpolated between its own samples."""
        if t > self.samples[-1][0]:  # a moment ago, after the sampler's latest sample
            self.sample()
        with self._lock:
            ts, beats, _ = map(np.array, zip(*self.samples))
        assert ts[0] <= t <= ts[-1], "outside the sampled span"
        return float(np.interp(t, ts, beats))

    def bpm_at(self, t: float) -> float:
        with self._lock:
            i = max(0, np.searchsorted([s[0] for s in self.samples], t) - 1)
            return self.samples[i][2]

    def close(self) -> None:
        self._stop.set()
        self._sampler.join(1)
        self.link.enabled = False
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.loop_thread.join(2)


@pytest.fixture
def peer97():
    p = Peer(97.0)
    time.sleep(SESSION_EPS_S)  # an older session: ours joins it rather than the other way round
    yield p
    p.close()


def joined(link: LinkSync, bpm: float) -> None:
    assert link.wait_for_peers(3) >= 1, "the two Link peers did not find each other"
    assert wait_for(lambda: abs(link.tempo - bpm) < 0.01, 2), f"session tempo {link.tempo}, peer {bpm}"


def sixteenths(bars: int) -> list[NoteEvent]:
    out = []
    for i in range(bars * 16):
        out.append(NoteEvent(60 + (i * 5) % 24, 80, i * 0.25, 0.2))
        if i % 8 == 0:  # a chord on each half bar
            out.append(NoteEvent(48 + i % 12, 60, i * 0.25, 1.0))
    return out


def percentile(xs, q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


@pytest.mark.jack
@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.flaky(reruns=2, reruns_delay=1)
def test_plays_on_the_peers_tempo_and_bars_and_follows_a_tempo_change(jack_server, peer97):
    name = unique("SynK")
    with LinkSync(140.0) as link, open_output(name, api="jack") as port:
        joined(link, 97.0)
        rec = Receiver(f"{name}:")
        try:
            live = LiveStream(model(sixteenths(4)), port, tempo=140.0, clock=link).start()
            assert link.wait_for_start(1)
            assert wait_for(lambda: rec.note_ons(), 5), "nothing played"
            bar0 = round(peer97.beat_at(rec.note_ons()[0][1]))
            # 97 → 120 BPM in the middle of the piece's second bar (between two 16ths)
            while peer97.sample()[1] < bar0 + 7.6:
                time.sleep(0.001)
            before = peer97.set_tempo(120.0)
            assert live.wait(20)
            peer97.sample()
            res = live.result()
            time.sleep(0.05)
        finally:
            rec.close()
    sent = [s for s in res.sent if s.kind == "on"]
    assert res.error is None and not res.shifts and len(sent) == 64 + 8   # the player sent every note
    assert_silent(rec)
    # What a JACK client received, paired with what we sent (in order). On a loaded 2-CPU VM the
    # receiving client, in this same process, can miss an event now and then; that is the
    # harness, not the player (which sent all 72), so a few may be missing but none may differ.
    ons, k = [], 0
    for m, t in rec.note_ons():
        while k < len(sent) and sent[k].pitch != m.note:
            k += 1
        assert k < len(sent), "received a note that was never sent"
        ons.append(((m, t), sent[k]))
        k += 1
    assert len(ons) >= len(sent) - 3, f"only {len(ons)} of {len(sent)} notes arrived"
    # beat 0 of the piece is a bar line of the peer's timeline (quantum 4) ...
    assert bar0 % 4 == 0, bar0
    # ... and every onset is where the peer's timeline puts its beat, tempo change included.
    # Link hands a peer's tempo change to the others 5..55 ms later (a peer broadcasts at most
    # every 50 ms), so a note due on the new timeline before the change reached us cannot be
    # there: it plays on the old timeline, or at once if the new one made it overdue.
    t_change, beat_change, old_bpm = before
    seg = [s for s in live.scheduler.map.segments if abs(60.0 / s[2] - 120.0) < 0.01]
    learned = seg[0][1] if seg else float("inf")  # when we re-anchored at the new tempo
    follow_ms = (learned - t_change) * 1000.0
    judged, unknowable = [], []  # (arrival, ms off as received, ms off as aimed, send late, delivery)
    for (_, t), s in ons:
        beat = bar0 + s.beat
        if beat > beat_change and t_change + (beat - beat_change) * 60.0 / 120.0 < learned + 0.002:
            old = (beat_change + (t - t_change) * old_bpm / 60.0 - beat) * 60.0 / old_bpm * 1000.0
            unknowable.append(old if s.sent < learned else (s.sent - learned) * 1000.0)
            continue
        off = [(peer97.beat_at(at) - beat) * 60.0 / peer97.bpm_at(at) * 1000.0 for at in (t, s.scheduled)]
        judged.append((t, *off, 1000.0 * (s.sent - s.scheduled), 1000.0 * (t - s.sent)))
    _, errs, planned, _, _ = zip(*judged)
    worst = sorted((round(abs(j[1]), 2), round(j[3], 2), round(j[4], 2)) for j in judged)[-3:]
    after = [j for j in judged if t_change < j[0] < t_change + 2.0]  # a bar at 120
    p50, p99 = percentile(np.abs(errs), 50), percentile(np.abs(errs), 99)
    print(f"\nLink onset error vs the peer's timeline (ms): p50 {p50:.2f} p99 {p99:.2f} "
          f"max {max(np.abs(errs)):.2f} mean {np.mean(errs):+.2f} over {len(errs)} notes; schedule vs "
          f"timeline max {max(np.abs(planned)):.3f}; tempo change followed after {follow_ms:.1f} ms; "
          f"{len(unknowable)} note(s) due before it arrived {unknowable}")
    # The bound (p99 within a JACK period + 2 ms) is what quiet runs measure
    # (docs/LIVE_MIDI.md: p99 2.5..3.8 ms over 16 runs); a test on a shared 2-CPU VM holds the
    # median to it and the tail to well under a sixteenth note, which any grid error would break.
    assert p50 <= TOL_MS and percentile(np.abs(errs), 95) <= GRID_MS, f"worst (ms off, of which sent late, delivery): {worst}"
    # what we asked the player for is the peer's timeline itself (the rest is OS and JACK delivery)
    assert max(np.abs(planned)) < 0.2, [round(e, 3) for e in planned]
    assert all(abs(e) <= GRID_MS for e in unknowable), unknowable
    # followed within a bar: re-anchored at 120 BPM (well) within a beat of the peer's change,
    # and the notes of the bar after the change on the peer's new grid
    assert 0 <= follow_ms < 500.0, follow_ms
    assert len(after) >= 15 and max(abs(j[2]) for j in after) < 0.2
    assert percentile([abs(j[1]) for j in after], 50) <= TOL_MS, [round(j[1], 2) for j in after]


@pytest.mark.jack
@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.flaky(reruns=2, reruns_delay=1)
def test_start_stop_sync_waits_for_play_and_a_peer_stop_silences(jack_server):
    peer = Peer(120.0, start_stop_sync=True)
    name = unique("SynT")
    try:
        time.sleep(SESSION_EPS_S)
        with LinkSync(90.0, wait_for_play=True) as link, open_output(name, api="jack") as port:
            joined(link, 120.0)
            rec = Receiver(f"{name}:")
            try:
                notes = [NoteEvent(60 + i % 12, 90, float(i), 3.0) for i in range(64)]  # overlapping
                live = LiveStream(model(notes), port, tempo=90.0, clock=link).start()
                assert not link.wait_for_start(0.5) and not rec.note_ons(), "played before the peer's Play"
                peer.sample()
                peer.link.playing = True
                assert link.wait_for_start(2)
                assert wait_for(lambda: len(rec.note_ons()) >= 4, 6)
                peer.sample()
                t_stop = time.perf_counter()
                peer.link.playing = False
                assert live.wait(3), "a peer's Stop did not stop playback"
                peer.sample()
                res = live.result()
                time.sleep(0.1)
            finally:
                rec.close()
    finally:
        peer.close()
    ons = rec.note_ons()
    assert link.stopped_by_session and res.stopped and res.error is None
    assert_silent(rec)
    silent = min(t for m, t in rec.messages() if m.type == "control_change" and m.control == 123)
    print(f"\nLink Stop → All Notes Off received after {1000 * (silent - t_stop):.1f} ms")
    assert silent - t_stop < LINK_LATENCY_S
    # Link takes up to ~55 ms to pass the Stop on (a peer broadcasts at most every 50 ms)
    late = [t - t_stop for _, t in ons if t > t_stop + LINK_LATENCY_S]
    assert not late, f"note-ons after the Stop: {late}"
    # on a bar line of the peer's grid: a wrong start is beats (hundreds of ms) off; timing to the
    # millisecond is the other test's median and the table in docs/LIVE_MIDI.md
    first = peer.beat_at(ons[0][1])
    assert abs(first - round(first)) * 500.0 <= GRID_MS and round(first) % 4 == 0, first
    assert all(n.duration < 3.0 for n in res.played[-2:])  # the sounding notes were cut at the Stop


@pytest.mark.jack
@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.flaky(reruns=2, reruns_delay=1)
def test_a_session_already_playing_when_we_join_is_stopped_by_its_stop(jack_server):
    """LIVE_MIDI.md's order: the DAW plays (and records), then ``stream --link`` joins. Link tells
    a joining peer nothing of the state before its next change, so that Stop must still end the
    take; and joining a *stopped* session never starts it."""
    peer = Peer(120.0, start_stop_sync=True)
    peer.link.playing = True
    name = unique("SynJ")
    try:
        time.sleep(SESSION_EPS_S)
        with LinkSync(90.0) as link, open_output(name, api="jack") as port:
            joined(link, 120.0)
            rec = Receiver(f"{name}:")
            try:
                notes = [NoteEvent(60 + i % 12, 90, float(i), 3.0) for i in range(64)]
                live = LiveStream(model(notes), port, tempo=120.0, clock=link).start()
                assert wait_for(lambda: len(rec.note_ons()) >= 4, 6)
                t_stop = time.perf_counter()
                peer.link.playing = False
                assert live.wait(3), "the Stop of a session that played before we joined was ignored"
                res = live.result()
                time.sleep(0.1)
            finally:
                rec.close()
    finally:
        peer.close()
    assert link.stopped_by_session and res.stopped and res.error is None
    assert_silent(rec)
    late = [t - t_stop for _, t in rec.note_ons() if t > t_stop + LINK_LATENCY_S]
    assert not late, f"note-ons after the Stop: {late}"


@pytest.mark.timeout(30)
def test_joining_a_stopped_session_does_not_start_it():
    peer = Peer(120.0, start_stop_sync=True)
    try:
        time.sleep(SESSION_EPS_S)
        with LinkSync(90.0) as link:
            joined(link, 120.0)
            time.sleep(0.5)  # several of Link's broadcasts
            assert not peer.link.playing
    finally:
        peer.close()


DRIVER = textwrap.dedent("""
    # `synesthete stream` (engine.cli.main) with a stand-in model: one 4-beat note per beat
    import sys, time, types
    from engine.events import VA, NoteEvent

    class Encoding:
        va = VA(0.5, 0.5); image = "img.png"

    class Runtime:
        model_id = "stand-in"; config = {"block_size": 256}
        @classmethod
        def load(cls, model_dir=None): return cls()
        def encode(self, path): return Encoding()
        def plan(self, settings, encodings=(), **request):
            from engine.request import make_plan
            return make_plan(settings, encodings, model=self.model_id, **request)
        def stream_notes(self, plan, tokens_out=None, *, steer=None):
            for i in range(plan.settings.bars * 4):
                time.sleep(0.01)
                yield NoteEvent(60 + i % 12, 90, float(i), 4.0)

    sys.modules["engine.generation.runtime"] = types.SimpleNamespace(Runtime=Runtime)
    from engine.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def run_driver(tmp_path, *argv) -> subprocess.CompletedProcess:
    (tmp_path / "driver.py").write_text(DRIVER)
    image = tmp_path / "img.png"
    image.write_bytes(b"not really a png; the stand-in model ignores it")
    return subprocess.run([sys.executable, str(tmp_path / "driver.py"), "stream", str(image), *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=40, env={**os.environ, "PYTHONPATH": str(ROOT)})


class Sink(Receiver):
    """A JACK MIDI input port of our own that ``stream --connect`` plays into: connected before
    the subprocess plays anything, so no early note is missed."""

    def __init__(self, client: str) -> None:  # Receiver's state, a virtual port instead of a connection
        self.midi = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, client)
        self.log, self._driver, self._offset, self._raw = [], None, float("inf"), []
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()
        self.midi.open_virtual_port("in")


@pytest.mark.jack
@pytest.mark.slow
@pytest.mark.timeout(60)
def test_cli_stream_link_takes_the_session_tempo(jack_server, tmp_path):
    """`synesthete stream --link` (stand-in model) in a subprocess joins this process's peer:
    it reports the session, plays from a bar line of the peer's grid, writes the session tempo."""
    peer = Peer(97.0)
    sink_name, take = unique("LinkSink"), tmp_path / "take.mid"
    sink = Sink(sink_name)
    try:
        time.sleep(SESSION_EPS_S)
        proc = run_driver(tmp_path, "--connect", sink_name, "--api", "jack", "--link", "--bars", "1",
                          "--tempo", "150", "--also-write", str(take))
        err = proc.stderr
        time.sleep(0.05)
        peer.sample()
    finally:
        sink.close()
        peer.close()
    assert proc.returncode == 0, err
    assert "Link session: 97.00 BPM, 1 peer(s)" in err and "at 97 BPM" in err, err
    ons = sink.note_ons()
    assert len(ons) == 4, err
    first = peer.beat_at(ons[0][1])
    assert round(first) % 4 == 0 and abs(first - round(first)) * 60 / 97 * 1000 <= GRID_MS, first
    assert read_midi(take).tempos[0][1] == pytest.approx(97.0, abs=0.01)
    assert_silent(sink)


def test_cli_refuses_link_with_sync_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "engine.cli", "stream", str(ROOT / "examples" / "coffee.jpg"),
                        "--link", "--sync"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "--link" in r.stderr and "--sync" in r.stderr and "not allowed" in r.stderr


def test_missing_aalink_is_a_one_line_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "aalink", None)  # import aalink → ImportError
    with pytest.raises(LinkUnavailable, match="needs the optional aalink package") as err:
        LinkSync(120.0)
    assert isinstance(err.value, UsageError)
