"""The Synesthete plugin in a real host: Ardour 7, headless (`ardour7-lua`, Dummy backend), the
LV2 build on a MIDI track. What the plugin writes is read two ways: a logger after it on the
track (each event at its transport sample, plugin/hosttest/syn_logger.lua) and Ardour's own
recording of a second track fed by the first, as a user would record it. The expected music is
`generate`'s (or the engine service's, which test_plugin_service.py shows is the same).

Each test starts Ardour once (a few seconds) and plays a short take in real time; all are marked
slow. They skip where Ardour or DPF is not installed (scripts/test.sh installs both as root)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugin" / "hosttest"))
from ardour import ARDOUR_LUA, RATE, ArdourHost  # noqa: E402

from engine.files.midi_io import read_midi  # noqa: E402
from engine.service.protocol import Client  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(ARDOUR_LUA is None, reason="Ardour 7 is not installed (apt-get install ardour)")]

PHOTO = ROOT / "examples" / "coffee.jpg"
BUNDLE = ROOT / "build" / "plugin" / "bin" / "Synesthete.lv2"
TOLERANCE_SAMPLES = 4          # 0.083 ms at 48 kHz: the issue asks for 0.1 ms
DEFAULTS = {"key": "auto", "intensity": 1.5, "variety": 1, "spread": 1.2, "humanize": 0}


@pytest.fixture(scope="module")
def bundle():
    """The LV2 bundle, built now if the sources are newer (scripts/build-plugin.sh)."""
    dpf = Path(os.environ.get("DPF_PATH", "/usr/share/dpf"))
    if not (dpf / "Makefile.plugins.mk").exists() or shutil.which("g++") is None:
        pytest.skip("DPF (apt-get install dpf-source) or g++ is missing")
    so = BUNDLE / "Synesthete.so"
    sources = [p for p in (ROOT / "plugin").iterdir() if p.suffix in (".cpp", ".hpp", ".h")]
    if not so.exists() or not (BUNDLE / "manifest.ttl").exists() or \
            max(p.stat().st_mtime for p in sources) > so.stat().st_mtime:
        subprocess.run(["bash", str(ROOT / "scripts" / "build-plugin.sh")], check=True, capture_output=True)
    return BUNDLE


def _start_engine(sock: Path) -> subprocess.Popen:
    env = {**os.environ, "SYNESTHETE_SOCKET": str(sock)}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with Client(sock, timeout=5) as c:
                if c.call({"op": "hello"}).get("ready"):
                    return proc
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail("synesthete serve did not come up")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    sock = tmp_path_factory.mktemp("engine") / "run" / "engine.sock"
    proc = _start_engine(sock)
    yield {"socket": sock, "proc": proc}
    _stop(proc)


def _host(tmp_path: Path, bundle: Path, sock: Path, **env) -> ArdourHost:
    return ArdourHost(tmp_path / "ardour", bundle, {"SYNESTHETE_SOCKET": str(sock), "SYNESTHETE_AUTOSTART": "0", **env})


def sample_of(beat: float, tempo=((0.0, 120.0),)) -> float:
    """The host's sample for a beat on a tempo map of (beat, bpm) sections."""
    frame = 0.0
    for i, (b0, bpm) in enumerate(tempo):
        b1 = tempo[i + 1][0] if i + 1 < len(tempo) else float("inf")
        if beat <= b1:
            return frame + (beat - b0) * 60.0 * RATE / bpm
        frame += (b1 - b0) * 60.0 * RATE / bpm
    return frame


def served(sock: Path, settings: dict, pieces, *, shift=(0.0, 0.0), picture: dict | None = None, tempo=120.0,
           turns=()) -> list[tuple[float, float, int, int]]:
    """(start, end, pitch, velocity) in beats on the timeline: pieces 1.. of a loop, as the plugin asks."""
    out = []
    with Client(sock, timeout=120) as c:
        for k in pieces:
            msg = {"op": "piece", "settings": {**DEFAULTS, **settings}, "shift": list(shift), "tempo": tempo,
                   "piece": k, "turns": [list(t) for t in turns]}
            if picture is not None:
                msg["picture"] = picture
            answer = c.call(msg)
            assert answer["ok"], answer
            offset = (k - 1) * settings["bars"] * 4.0
            out += [(offset + s, offset + s + d, p, v) for s, d, p, v in answer["notes"]]
    return out


def as_played(notes):
    """A piece as MIDI can play it: a key struck again while it sounds is released first."""
    notes = sorted(notes, key=lambda n: (n[0], n[2]))
    out = []
    for i, (s, e, p, v) in enumerate(notes):
        later = [n[0] for n in notes[i + 1:] if n[2] == p and n[0] < e]
        out.append((s, min([e] + later), p, v))
    return out


def check_take(played, expected, tempo=((0.0, 120.0),), label="take", velocity_tolerance=0) -> list[float]:
    """Every expected note, and no other, with the same pitch and velocity; onsets and releases on
    the host's grid. Returns the onset errors in samples."""
    expected = as_played(expected)
    assert len(played) == len(expected), f"{label}: {len(played)} notes played, {len(expected)} expected"
    errors = []
    for (on, off, pitch, vel), (s, e, p, v) in zip(played, expected):
        assert pitch == p and abs(vel - v) <= velocity_tolerance, \
            f"{label}: {(pitch, vel)} played where {(p, v)} was due at beat {s}"
        errors.append(on - sample_of(s, tempo))
        assert off >= 0, f"{label}: pitch {pitch} from beat {s} never released"
        assert abs(off - sample_of(e, tempo)) <= TOLERANCE_SAMPLES or off <= sample_of(e, tempo), \
            f"{label}: pitch {pitch} from beat {s} released at {off}, due {sample_of(e, tempo)}"
    worst = max(map(abs, errors)) if errors else 0.0
    assert worst <= TOLERANCE_SAMPLES, f"{label}: an onset {worst} samples off the grid"
    print(f"\n{label}: {len(errors)} notes, onset error vs the host's grid: max {worst:.0f} samples "
          f"= {worst / RATE * 1000:.3f} ms, mean {sum(map(abs, errors)) / max(1, len(errors)):.2f} samples")
    return errors


def nothing_left_sounding(take, track=1):
    events = take.events.get(track, [])
    sounding = {}
    for _, status, d1, d2 in events:
        if status & 0xF0 == 0x90 and d2 > 0:
            sounding[d1] = sounding.get(d1, 0) + 1
        elif status & 0xF0 == 0x80 and sounding.get(d1):
            sounding[d1] -= 1
    assert not any(sounding.values()), f"left sounding: {sounding}"


def _generate(tmp_path: Path, *flags) -> list[tuple[float, float, int, int]]:
    out = tmp_path / "generate.mid"
    subprocess.run([sys.executable, "-m", "engine.cli", "generate", *map(str, flags), "-o", str(out)], check=True,
                   capture_output=True)
    return [(n.start_beat, n.end_beat, n.pitch, n.velocity) for n in read_midi(out).notes]


def _busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


@pytest.mark.parametrize("load", ["quiet", "two busy processes"])
def test_a_take_records_generates_piece_on_the_hosts_grid(load, bundle, engine, tmp_path):
    """Inserted with a picture, the plugin plays the piece `generate` writes for that request,
    from the host's bar 1, every onset on the host's sample grid, quiet or with the CPU loaded;
    Ardour's own recording of it holds the same notes; stop leaves nothing sounding."""
    host = _host(tmp_path, bundle, engine["socket"])
    host.add_preset("take", params={"bars": 4, "seed": 7, "loop": 0}, picture=str(PHOTO))
    busy = _busy(2) if load != "quiet" else []
    try:
        take = host.run(tracks=[{"name": "Syn", "preset": "take", "record": True}],
                        actions=[["ready", 60], ["roll"], ["until", int(sample_of(17))], ["stop"], ["wait", 0.3]])
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert take.done, take.stderr[-3000:]
    assert "READY 1" in take.lines
    expected = _generate(tmp_path, PHOTO, "--bars", 4, "--seed", 7, "--tempo", 120)
    check_take(take.notes(1), expected, label=f"Ardour 7, LV2, {load}")
    nothing_left_sounding(take)
    last = take.events[1][-2:]
    assert [(s, d1) for _, s, d1, _ in last] == [(0xB0, 64), (0xB0, 123)]   # pedal up, All Notes Off
    # what Ardour recorded on the track the plugin feeds: the same notes, on its beat grid
    recorded = take.recorded(1)
    want = sorted(as_played(expected), key=lambda n: (n[0], n[2]))
    assert [(p, v) for _, _, p, v in recorded] == [(p, v) for _, _, p, v in want]
    assert max(abs(r[0] - w[0]) for r, w in zip(recorded, want)) <= 1 / 1920      # one Ardour tick
    assert take.params[1][11] == 1.0                                           # status: Ready


def test_tempo_changes_mid_take_are_followed(bundle, engine, tmp_path):
    """120 BPM, then 150 from bar 3: the loop's pieces go on, on the host's grid through the change."""
    tempo = ((0.0, 120.0), (8.0, 150.0))
    host = _host(tmp_path, bundle, engine["socket"])
    host.add_preset("t", params={"bars": 2, "seed": 5, "loop": 1})
    take = host.run(tracks=[{"name": "Syn", "preset": "t"}], tempo=list(tempo), buffer=1024,
                    actions=[["ready", 60], ["roll"], ["until", int(sample_of(16, tempo))], ["stop"]])
    assert take.done, take.stderr[-3000:]
    expected = [n for n in served(engine["socket"], {"bars": 2, "seed": 5}, range(1, 5)) if n[0] < 16]
    played = [n for n in take.notes(1) if n[0] < sample_of(16, tempo)]
    check_take(played, [(s, min(e, 16.0), p, v) for s, e, p, v in expected], tempo, label="tempo 120 -> 150 at bar 3")
    nothing_left_sounding(take)


def test_moving_the_playhead_jumps_and_stop_silences(bundle, engine, tmp_path):
    """Relocated while playing, forward and back (as a loop does), the plugin switches off what
    sounds and plays from the new place, on the grid; stopped, it sends note-offs and All Notes Off."""
    host = _host(tmp_path, bundle, engine["socket"])
    host.add_preset("j", params={"bars": 4, "seed": 2, "loop": 0, "valence": -0.4})
    take = host.run(tracks=[{"name": "Syn", "preset": "j"}],
                    actions=[["ready", 60], ["roll"], ["until", int(sample_of(3.1))],
                             ["locate", int(sample_of(8))], ["wait", 0.5],
                             ["until", int(sample_of(12.5))], ["mark", "back"], ["locate", int(sample_of(4))],
                             ["wait", 0.5], ["until", int(sample_of(6.5))], ["stop"]])
    assert take.done, take.stderr[-3000:]
    piece = served(engine["socket"], {"bars": 4, "seed": 2}, [1], shift=(-0.4, 0.0))
    played = take.notes(1, played_order=True)
    back = [i for i, n in enumerate(played) if i and n[0] < played[i - 1][0]][0]   # where time went back
    again = sorted((n for n in played[back:] if n[0] < sample_of(6.5)), key=lambda n: (n[0], n[2]))
    played = sorted(played[:back], key=lambda n: (n[0], n[2]))
    jump = min(n[0] for n in played if n[0] >= sample_of(3.1))       # where the first note after the jump sounded
    before = [n for n in played if n[0] < sample_of(3.1)]
    after = [n for n in played if jump <= n[0] < sample_of(12.5)]     # the relocation itself lands a little later
    # before: the piece from bar 1 (what sounded at the jump was released there: no note hangs)
    for (on, off, p, v), (s, e, pp, vv) in zip(before, as_played([n for n in piece if n[0] < 3.1])):
        assert (on, p, v) == (round(sample_of(s)), pp, vv) and off >= 0
    # after: the piece from the new place, on the grid; the shift of the whole timeline is the
    # host's own (it relocated to sample_of(8)), so onsets are compared on the host's samples
    due = [n for n in piece if 8 <= n[0] < 12.5]
    assert [(p, v) for _, _, p, v in after] == [(p, v) for _, _, p, v in sorted(due, key=lambda n: (n[0], n[2]))]
    errors = [on - sample_of(s) for (on, *_), (s, *_) in zip(after, sorted(due, key=lambda n: (n[0], n[2])))]
    assert max(map(abs, errors)) <= TOLERANCE_SAMPLES
    # back to bar 2: its notes again, on the grid
    due = sorted((n for n in piece if 4 <= n[0] < 6.5), key=lambda n: (n[0], n[2]))
    assert [(round(sample_of(s)), p, v) for s, _, p, v in due] == [(on, p, v) for on, _, p, v in again]
    nothing_left_sounding(take)


def _notes_prefix(played, expected):
    expected = sorted(as_played(expected), key=lambda n: (n[0], n[2]))
    assert len(played) <= len(expected)
    for (on, _, p, v), (s, _, pp, vv) in zip(played, expected):
        assert (p, v) == (pp, vv) and abs(on - sample_of(s)) <= TOLERANCE_SAMPLES


def test_engine_killed_mid_take_plays_silence_and_says_so(bundle, tmp_path):
    """The engine dies in the second bar (SIGKILL): what was composed plays on, then silence with
    every note released; the plugin reports No engine; the host plays on unaffected."""
    sock = tmp_path / "e" / "run" / "engine.sock"
    proc = _start_engine(sock)
    host = _host(tmp_path, bundle, sock)
    host.add_preset("k", params={"bars": 2, "seed": 3, "loop": 1})
    try:
        take = host.run(tracks=[{"name": "Syn", "preset": "k"}],
                        actions=[["ready", 60], ["roll"], ["until", int(sample_of(5))], ["mark", "kill"],
                                 ["until", int(sample_of(26))], ["params"], ["stop"]],
                        on_mark=lambda name: proc.kill())
    finally:
        _stop(proc)
    assert take.done, take.stderr[-3000:]
    assert take.returncode == 0
    rolled = [int(l.split()[1]) for l in take.lines if l.startswith("AT ")]
    assert max(rolled) >= sample_of(26)                              # the host went on playing
    assert "lost the engine" in take.stderr
    assert take.params[1][11] == 3.0                                 # status: No engine
    played = take.notes(1)
    assert played and max(n[0] for n in played) < sample_of(16)       # composed ahead: bars 1-4, then silence
    engine2 = _start_engine(tmp_path / "e2" / "run" / "engine.sock")
    try:
        expected = served(tmp_path / "e2" / "run" / "engine.sock", {"bars": 2, "seed": 3}, [1, 2])
    finally:
        _stop(engine2)
    _notes_prefix(played, expected)
    assert sum(1 for n in played if n[0] >= sample_of(8)) > 0         # the buffered piece 2 did play
    nothing_left_sounding(take)


# under a full suite on 2 cores the stop can land in the cycle after the last note-off is due, and
# the host's recording ends there; a rerun tells that from a lost note-off (which fails every time)
@pytest.mark.flaky(reruns=2, reruns_delay=1)
def test_the_engine_comes_back_and_the_music_goes_on(bundle, tmp_path):
    """Killed mid-take with autostart on, the engine is started again by the plugin and the take
    goes on as if nothing had happened (the next piece was composed ahead)."""
    sock = tmp_path / "e" / "run" / "engine.sock"
    proc = _start_engine(sock)
    host = _host(tmp_path, bundle, sock, SYNESTHETE_AUTOSTART="1",
                 SYNESTHETE_ENGINE=str(Path(sys.executable).with_name("synesthete")))
    host.add_preset("b", params={"bars": 2, "seed": 8, "loop": 1})
    try:
        take = host.run(tracks=[{"name": "Syn", "preset": "b"}],
                        actions=[["ready", 60], ["roll"], ["until", int(sample_of(5))], ["mark", "kill"],
                                 ["until", int(sample_of(24))], ["params"], ["stop"]],
                        on_mark=lambda name: proc.kill())
        expected = served(sock, {"bars": 2, "seed": 8}, [1, 2, 3])     # asks the engine the plugin restarted
    finally:
        _stop(proc)
        try:
            with Client(sock, timeout=5) as c:
                os.kill(c.call({"op": "hello"})["pid"], 15)
        except OSError:
            pass
    assert take.done, take.stderr[-3000:]
    assert "lost the engine" in take.stderr and "started" in take.stderr and "the engine is back" in take.stderr
    assert take.params[1][11] == 1.0
    check_take(take.notes(1), [(s, min(e, 24.0), p, v) for s, e, p, v in expected if s < 24],
               label="engine killed and restarted")


def test_the_project_reopens_to_the_same_notes_without_the_picture(bundle, engine, tmp_path):
    """Saved with a picture and settings, the session reopens (the picture file gone by then) and
    the plugin plays the same notes: the picture's encoding and VA travel in its state."""
    picture = tmp_path / "holiday.jpg"
    shutil.copy(PHOTO, picture)
    host = _host(tmp_path, bundle, engine["socket"])
    host.add_preset("s", params={"bars": 2, "seed": 9, "loop": 0, "valence": 0.3, "spread": 1.5},
                    picture=str(picture))
    actions = [["ready", 60], ["roll"], ["until", int(sample_of(8.5))], ["stop"]]
    first = host.run(tracks=[{"name": "Syn", "preset": "s"}], actions=actions, session="project", save=True)
    assert first.done, first.stderr[-3000:]
    state = "".join(p.read_text(errors="replace") for p in (host.root / "sessions" / "project").rglob("*.ttl"))
    assert "picture_data" in state and "holiday.jpg" in state and "memory" in state
    picture.unlink()
    second = host.run(tracks=[{"name": "Syn"}], actions=actions, session="project", load=True)
    assert second.done, second.stderr[-3000:]
    assert second.params[1][0] == pytest.approx(0.3) and second.params[1][4] == pytest.approx(1.5)
    assert first.notes(1) and second.notes(1) == first.notes(1)
    assert "cannot use the picture" not in second.stderr


def test_two_instances_play_their_own_streams(bundle, engine, tmp_path):
    host = _host(tmp_path, bundle, engine["socket"])
    host.add_preset("a", params={"bars": 2, "seed": 1, "loop": 0})
    host.add_preset("b", params={"bars": 3, "seed": 2, "loop": 0, "valence": -0.5, "arousal": 0.5})
    take = host.run(tracks=[{"name": "A", "preset": "a"}, {"name": "B", "preset": "b"}],
                    actions=[["ready", 60], ["roll"], ["until", int(sample_of(12.5))], ["stop"]])
    assert take.done, take.stderr[-3000:]
    check_take(take.notes(1), served(engine["socket"], {"bars": 2, "seed": 1}, [1]), label="instance A")
    check_take(take.notes(2), served(engine["socket"], {"bars": 3, "seed": 2}, [1], shift=(-0.5, 0.5)),
               label="instance B")


def test_moving_valence_while_playing_steers_from_a_bar_line(bundle, engine, tmp_path):
    """Valence moved in bar 3 (as automation or CC would): the bars already begun play as they
    were, and from a bar line on the piece is the one the engine composes for that turn, as
    `stream --steer` turns the model at a bar line."""
    host = _host(tmp_path, bundle, engine["socket"])
    host.add_preset("v", params={"bars": 8, "seed": 4, "loop": 0, "valence": 0.6, "arousal": -0.3})
    moved_at = 9.2
    take = host.run(tracks=[{"name": "Syn", "preset": "v"}],
                    actions=[["ready", 60], ["roll"], ["until", int(sample_of(moved_at))], ["param", 1, 0, -0.8],
                             ["until", int(sample_of(32.5))], ["stop"]])
    assert take.done, take.stderr[-3000:]
    settings = {"bars": 8, "seed": 4}
    plain = served(engine["socket"], settings, [1], shift=(0.6, -0.3))
    played = [(n[0], n[2], n[3]) for n in take.notes(1)]
    tried = {}
    for bar in range(3, 8):
        steered = served(engine["socket"], settings, [1], shift=(0.6, -0.3), turns=[(bar, -0.8, -0.3)])
        want = [(round(sample_of(s)), p, v) for s, _, p, v in sorted(steered, key=lambda n: (n[0], n[2]))]
        if played == want:
            break
        tried[bar] = next((i for i, (a, b) in enumerate(zip(played, want)) if a != b), min(len(played), len(want)))
    else:
        pytest.fail(f"the take is no piece steered at a bar line (first difference, by turn bar: {tried})")
    assert [n for n in steered if n[0] < bar * 4] == [n for n in plain if n[0] < bar * 4]
    delay = (bar * 4 - moved_at) * 0.5
    print(f"\nvalence moved at beat {moved_at}: heard from bar {bar + 1} (beat {bar * 4}), {delay:.2f} s later")
    assert bar * 4 - moved_at <= 8, "the turn came more than two bars after the move"


def test_the_vst3_build_in_the_same_host(bundle, engine, tmp_path):
    """The VST3 build, from the same source, indexed by Ardour's VST3 scanner and hosted by Ardour:
    the same piece on the same grid (its parameters set by the host; no picture, which VST3's
    generic parameters cannot carry)."""
    vst3 = ROOT / "build" / "plugin" / "bin" / "Synesthete.vst3"
    scanner = Path("/usr/lib/ardour7/ardour-vst3-scanner")
    if not scanner.exists():
        pytest.skip("this Ardour has no VST3 support")
    host = ArdourHost(tmp_path / "ardour", bundle, {"SYNESTHETE_SOCKET": str(engine["socket"]),
                                                    "SYNESTHETE_AUTOSTART": "0"}, vst3=vst3)
    params = {6: 2, 7: 12, 9: 0, 0: 0.25}          # bars, seed, loop off, valence
    take = host.run(tracks=[{"name": "Syn", "format": "VST3", "params": params}],
                    actions=[["wait", 0.5], ["ready", 60], ["roll"], ["until", int(sample_of(8.5))], ["stop"]])
    assert take.done, take.stderr[-3000:]
    # VST3 carries velocity as a float (v / 127); Ardour 7 turns it back into a byte by truncation,
    # so a velocity may arrive one lower (DPF writes v / 127.0f exactly; LV2 passes MIDI bytes as they are)
    check_take(take.notes(1), served(engine["socket"], {"bars": 2, "seed": 12}, [1], shift=(0.25, 0.0)),
               label="Ardour 7, VST3, quiet", velocity_tolerance=1)
    nothing_left_sounding(take)


def test_free_running_when_not_following_the_transport(bundle, engine, tmp_path):
    """Play on transport off: with the host stopped, the plugin plays on its own at the host's
    tempo, from the first note of the piece (it starts once that music is in), on its own grid."""
    host = _host(tmp_path, bundle, engine["socket"])
    host.add_preset("f", params={"bars": 2, "seed": 6, "loop": 0, "play_on_transport": 0})
    take = host.run(tracks=[{"name": "Syn", "preset": "f"}], actions=[["wait", 7.0]])
    assert take.done, take.stderr[-3000:]
    rolled = [int(l.split()[1]) for l in take.lines if l.startswith("AT ")]
    assert max(rolled) == 0                                           # the host never moved
    played = take.notes(1, clock="count")
    expected = served(engine["socket"], {"bars": 2, "seed": 6}, [1])
    start = played[0][0] - sample_of(min(n[0] for n in expected))
    check_take([(on - start, off - start, p, v) for on, off, p, v in played], expected, label="free-running")


def heard_as(heard: list[tuple[float, int, int]], expected: list[tuple[float, int, int]], tolerance: float = 0.3) -> bool:
    """Whether the notes heard, (beat, pitch, velocity) timed by arrival, are exactly ``expected``:
    one to one, same pitch and velocity, each within ``tolerance`` beats of its place (arrival
    times on a busy machine wander by tens of ms, a sixteenth is 125 ms at 120 BPM)."""
    if len(heard) != len(expected):
        return False
    left = sorted(heard)
    for beat, pitch, vel in sorted(expected):
        match = next((i for i, (b, p, v) in enumerate(left) if p == pitch and v == vel and abs(b - beat) <= tolerance), None)
        if match is None:
            return False
        left.pop(match)
    return True


@pytest.mark.jack
def test_cc_steers_in_a_second_host_jalv(bundle, engine, jack_server, tmp_path):
    """Another LV2 host, jalv on JACK: CC 20 sent to the plugin's MIDI input moves valence and
    steers the piece from a bar line, like automation does (jalv has no musical transport, so
    the plugin free-runs here and the notes are known by their arrival). Which bar line depends
    on how fast the engine answered before (the plugin turns at the first it can recompose in
    time), so an 8-bar piece leaves room for a slow machine."""
    rtmidi = pytest.importorskip("rtmidi")
    if shutil.which("jalv") is None:
        pytest.skip("jalv is not installed (apt-get install jalv)")
    bars = 8
    lv2 = tmp_path / "lv2"
    lv2.mkdir()
    (lv2 / "Synesthete.lv2").symlink_to(bundle)
    env = {**os.environ, "LV2_PATH": str(lv2), "SYNESTHETE_SOCKET": str(engine["socket"]), "SYNESTHETE_AUTOSTART": "0"}
    jalv = subprocess.Popen(["jalv", "-n", "synjalv", "-c", f"bars={bars}", "-c", "loop=0", "-c", "seed=3", "-c", "valence=0.4",
                             "urn:synesthete:plugin"], env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    got: list[tuple[float, list[int]]] = []
    midi_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "synjalv-rec")
    midi_out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, "synjalv-cc")
    try:
        deadline = time.monotonic() + 20
        while not any("synjalv:lv2_events_out" in p for p in midi_in.get_ports()) and time.monotonic() < deadline:
            time.sleep(0.1)
        midi_in.open_port([i for i, p in enumerate(midi_in.get_ports()) if "synjalv:lv2_events_out" in p][0])
        midi_out.open_port([i for i, p in enumerate(midi_out.get_ports()) if "synjalv:lv2_events_in" in p][0])
        midi_in.set_callback(lambda event, _: got.append((time.perf_counter(), event[0])))
        time.sleep(4.0)                                   # the piece is composed while the plugin waits
        jalv.stdin.write("set play_on_transport 0\n")     # free-running from here: it starts at once
        jalv.stdin.flush()
        while not got and time.monotonic() < deadline + 10:
            time.sleep(0.005)
        first = got[0][0]
        time.sleep(max(0.0, first + 2.6 - time.perf_counter()))    # beat 5.2 at 120 BPM
        midi_out.send_message([0xB0, 20, 0])              # CC 20 = 0: valence -1
        time.sleep(max(0.0, first + bars * 2.0 + 0.3 - time.perf_counter()))    # through the last bar
    finally:
        midi_in.close_port()
        midi_out.close_port()
        jalv.stdin.close()
        jalv.terminate()
        try:
            jalv.wait(10)
        except subprocess.TimeoutExpired:
            jalv.kill()
    settings = {"bars": bars, "seed": 3}
    plain = sorted((s, p, v) for s, _, p, v in served(engine["socket"], settings, [1], shift=(0.4, 0.0)))
    ons = sorted((plain[0][0] + (t - first) * 2, m[1], m[2]) for t, m in got if m[0] & 0xF0 == 0x90 and m[2] > 0)
    assert not heard_as(ons, plain), "CC 20 did not steer the piece"
    for bar in range(2, bars):                            # the CC came in bar 2, so bar 3 at the earliest
        steered = sorted((s, p, v) for s, _, p, v in
                         served(engine["socket"], settings, [1], shift=(0.4, 0.0), turns=[(bar, -1.0, 0.0)]))
        if heard_as(ons, steered):
            break
    else:
        pytest.fail(f"not a piece steered at a bar line: {[(round(b, 2), p, v) for b, p, v in ons[:8]]} ... "
                    f"vs plain {plain[:8]} ...")
    assert [n for n in steered if n[0] < bar * 4] == [n for n in plain if n[0] < bar * 4]
    print(f"\njalv: CC 20 at beat 5.2 heard from bar {bar + 1}")
