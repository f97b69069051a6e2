"""The plugin's engine service (`synesthete serve`, engine/service/): only its user gets in, every
message is bounded, no bytes can stop it, and it answers with the notes `generate` writes.

A real service on a real socket in each test (a thread of this process, on the shipped model), and
real clients: another uid (a forked child that drops to `nobody`, when the tests run as root),
a wrong token on loopback TCP, and a fuzzer throwing random and malformed messages at it."""
from __future__ import annotations

import json
import os
import random
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.events import VA
from engine.files.midi_io import read_midi
from engine.service.protocol import MAX_REQUEST, Client, encode, private_dir, socket_path
from engine.service.server import AlreadyRunning, Server, Service

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "coffee.jpg"
SETTINGS = {"bars": 2, "seed": 3}


@pytest.fixture(scope="module")
def service():
    """One loaded model for the module's servers."""
    s = Service()
    s.runtime()
    return s


def _serve(server: Server) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return t


@pytest.fixture
def unix_server(service, tmp_path):
    server = Server(service, path=tmp_path / "run" / "engine.sock")
    thread = _serve(server)
    yield server
    server.close()
    thread.join(5)


def _hello(path) -> dict:
    with Client(path, timeout=10) as c:
        return c.call({"op": "hello"})


def test_the_socket_is_its_users_alone(unix_server):
    path = unix_server.path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert _hello(path)["ok"] is True


def test_the_default_socket_lives_in_a_private_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("SYNESTHETE_SOCKET", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert socket_path() == tmp_path / "synesthete" / "engine.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert socket_path() == tmp_path / f"synesthete-{os.getuid()}" / "engine.sock"
    # a directory someone could have made for us is never used
    shared = tmp_path / "open"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    with pytest.raises(PermissionError, match="lets others in"):
        private_dir(shared)


def _as_nobody(path: Path) -> str:
    """Connect from a child process running as `nobody`; what it saw, in one word."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, try to talk to the engine
        os.close(r)
        try:
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            try:
                s.connect(str(path))
            except PermissionError:
                os.write(w, b"denied")
                os._exit(0)
            s.sendall(encode({"op": "hello"}))
            data = s.recv(100)
            os.write(w, b"answered" if data else b"closed")
        except (ConnectionError, OSError):
            os.write(w, b"closed")
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    with os.fdopen(r, "rb") as fh:
        return fh.read().decode()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_another_user_is_refused(service):
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="synesthete-peer-"))   # a parent `nobody` may pass through
    os.chmod(base, 0o755)
    server = Server(service, path=base / "run" / "engine.sock")
    thread = _serve(server)
    try:
        # the modes keep them out ...
        assert _as_nobody(server.path) == "denied"
        # ... and were they loosened by mistake, the peer check still closes the door without a word
        os.chmod(server.path.parent, 0o777)
        os.chmod(server.path, 0o777)
        refused = server.refused
        assert _as_nobody(server.path) == "closed"
        assert server.refused == refused + 1
        assert _hello(server.path)["ok"] is True      # its user still gets in
    finally:
        server.close()
        thread.join(5)
        shutil.rmtree(base, ignore_errors=True)


def test_loopback_tcp_needs_the_users_token(service, tmp_path, monkeypatch):
    info = tmp_path / "cfg" / "engine.json"
    monkeypatch.setenv("SYNESTHETE_TCP_INFO", str(info))
    server = Server(service, tcp_port=0)
    thread = _serve(server)
    try:
        host, port = server.address
        assert host == "127.0.0.1"                       # no other host can reach it
        assert stat.S_IMODE(os.stat(info).st_mode) == 0o600
        saved = json.loads(info.read_text())
        assert saved["port"] == port and len(saved["token"]) == 64
        for token in ("0" * 64, "", None, 7):
            with Client(port=port, token=None, timeout=10) as c:
                msg = {"op": "hello"} if token is None else {"op": "hello", "token": token}
                answer = c.call(msg)
                assert answer == {"ok": False, "error": "not authorized (wrong or missing token)"}
                assert c.sock.recv(10) == b""            # and the connection is closed
        with Client(tcp=True, timeout=10) as c:          # the user's own client reads the token file
            assert c.call({"op": "hello"})["ok"] is True
    finally:
        server.close()
        thread.join(5)
    assert not info.exists()


def test_one_service_per_socket_and_a_stale_socket_is_replaced(service, tmp_path):
    path = tmp_path / "run" / "engine.sock"
    first = Server(service, path=path)
    try:
        with pytest.raises(AlreadyRunning):
            Server(service, path=path)
    finally:
        first.close()
    private_dir(path.parent)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))                                 # a crash leaves its socket behind
    stale.close()
    server = Server(service, path=path)
    thread = _serve(server)
    try:
        assert _hello(path)["ok"] is True
    finally:
        server.close()
        thread.join(5)


def test_idle_exit(service, tmp_path):
    server = Server(service, path=tmp_path / "run" / "engine.sock", idle_exit=0.5)
    t0 = time.monotonic()
    server.serve_forever()
    assert 0.4 < time.monotonic() - t0 < 5
    assert not server.path.exists()


def _raw(path: Path, data: bytes, read: bool = True) -> bytes:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(path))
    try:
        s.sendall(data)
        if not read:
            return b""
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = s.recv(1 << 16)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        s.close()


def _frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def _answers(blob: bytes) -> list[dict]:
    out = []
    while len(blob) >= 4:
        (n,) = struct.unpack(">I", blob[:4])
        out.append(json.loads(blob[4:4 + n]))
        blob = blob[4 + n:]
    return out


def test_bounded_messages(unix_server):
    path = unix_server.path
    # a length over the limit is refused before reading it, and that connection ends
    answers = _answers(_raw(path, struct.pack(">I", MAX_REQUEST + 1) + b"x" * 100))
    assert len(answers) == 1 and "over the 1048576-byte limit" in answers[0]["error"]
    answers = _answers(_raw(path, b"\xff\xff\xff\xff"))
    assert "limit" in answers[0]["error"]
    # a whole bad message gets one error and the connection goes on to the next
    answers = _answers(_raw(path, _frame(b"{not json") + _frame(b"[1, 2]") + _frame(b"\xff\xfe") +
                            _frame(b'{"op": NaN}') + _frame(b"[" * 100000 + b"]" * 100000) +
                            _frame(b'{"op": "piece", "tempo": 1e400}') + _frame(json.dumps({"op": "hello"}).encode())))
    assert [a["ok"] for a in answers] == [False] * 6 + [True]
    assert "not JSON" in answers[0]["error"] and "object" in answers[1]["error"]
    assert "UTF-8" in answers[2]["error"] and "nests too deeply" in answers[4]["error"]
    assert "tempo must be a number" in answers[5]["error"]


BAD_REQUESTS = [
    {"op": "piece", "settings": {"bars": 0}},
    {"op": "piece", "settings": {"bars": 2.5}},
    {"op": "piece", "settings": {"bars": True}},
    {"op": "piece", "settings": {"barz": 2}},
    {"op": "piece", "settings": {"key": "H#"}},
    {"op": "piece", "settings": {"seed": -1}},
    {"op": "piece", "settings": {"humanize": "lots"}},
    {"op": "piece", "settings": [1, 2]},
    {"op": "piece", "va": [2, 0]},
    {"op": "piece", "va": [0]},
    {"op": "piece", "va": [0, 0], "shift": [0, 0]},
    {"op": "piece", "shift": [3, 0]},
    {"op": "piece", "tempo": -5},
    {"op": "piece", "tempo": 10},
    {"op": "piece", "piece": 0},
    {"op": "piece", "turns": [[0, 0, 0]] * 100},
    {"op": "piece", "settings": SETTINGS, "turns": [[1, 0, 0], [1, 0.5, 0.5]]},
    {"op": "piece", "settings": SETTINGS, "turns": [[5, 0, 0]]},
    {"op": "piece", "settings": SETTINGS, "turns": "up"},
    {"op": "piece", "picture": "coffee.jpg"},
    {"op": "piece", "picture": {"va": [0, 0], "memory": "AAAA"}},
    {"op": "piece", "picture": {"va": [0, 0], "memory": "!!!"}},
    {"op": "piece", "picture": {"va": [0, 0], "memory": 12}},
    {"op": "piece", "surprise": 1},
    {"op": "picture", "path": "/nonexistent/picture.jpg"},
    {"op": "picture", "path": "/dev/zero"},
    {"op": "picture", "path": "/etc"},
    {"op": "picture", "path": 42},
    {"op": "picture", "path": "a\u0000b"},
    {"op": "format the disk"},
    {"op": None},
    {},
]


def test_bad_requests_are_answered_one_line_each(unix_server):
    with Client(unix_server.path, timeout=30) as c:
        for msg in BAD_REQUESTS:
            answer = c.call(msg)
            assert answer["ok"] is False, msg
            assert isinstance(answer["error"], str) and "\n" not in answer["error"] and len(answer["error"]) <= 300
        assert c.call({"op": "hello"})["ok"] is True      # the same connection still works


def test_fuzz_any_bytes_leave_the_service_answering(unix_server):
    """Random bytes, random lengths, truncated frames, mangled good requests: after each the
    service answers a good request on a fresh connection, and at the end composes a piece."""
    rng = random.Random(28)
    good = json.dumps({"op": "piece", "settings": SETTINGS, "shift": [0.1, 0.2]}).encode()
    path = unix_server.path
    for i in range(150):
        kind = i % 6
        if kind == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        elif kind == 1:
            data = struct.pack(">I", rng.randrange(1 << 32)) + bytes(rng.randrange(256) for _ in range(rng.randrange(50)))
        elif kind == 2:  # a good frame cut short
            frame = _frame(good)
            data = frame[:rng.randrange(1, len(frame))]
        elif kind == 3:  # a good request with bytes flipped
            body = bytearray(good)
            for _ in range(rng.randrange(1, 6)):
                body[rng.randrange(len(body))] = rng.randrange(256)
            data = _frame(bytes(body))
        elif kind == 4:  # random JSON values where the request's fields go
            junk = rng.choice([None, True, -1, 1e308, "", "x" * 1000, [], {}, [[[]]], {"a": {"b": []}}])
            field = rng.choice(["op", "settings", "va", "shift", "tempo", "piece", "turns", "picture"])
            msg = {"op": "piece", "settings": SETTINGS, field: junk}
            data = _frame(json.dumps(msg).encode())
        else:  # several frames at once, the last one random garbage
            data = _frame(b'{"op":"hello"}') * rng.randrange(1, 4) + bytes(rng.randrange(256) for _ in range(20))
        _raw(path, data, read=rng.random() < 0.5)
        if i % 25 == 24:
            assert _hello(path)["ok"] is True
    with Client(path, timeout=60) as c:
        answer = c.call(json.loads(good))
    assert answer["ok"] is True and answer["notes"]


def test_the_notes_are_generates(unix_server, tmp_path):
    """A picture's piece from the service is the piece `generate` writes for the same request:
    the picture's VA (shift 0 = no override), then moved by a shift (= --valence/--arousal)."""
    with Client(unix_server.path, timeout=60) as c:
        pic = c.call({"op": "picture", "path": str(PHOTO)})
        assert pic["ok"] is True and pic["name"] == "coffee.jpg"
        cases = [([0.0, 0.0], []), ([0.3, -0.2], ["--valence", repr(max(-1, min(1, pic["va"][0] + 0.3))),
                                                  "--arousal", repr(max(-1, min(1, pic["va"][1] - 0.2)))])]
        for shift, flags in cases:
            answer = c.call({"op": "piece", "settings": SETTINGS, "shift": shift, "tempo": 120.0, "picture": pic})
            out = tmp_path / f"g{len(flags)}.mid"
            subprocess.run([sys.executable, "-m", "engine.cli", "generate", str(PHOTO), "-o", str(out), "--bars", "2",
                            "--seed", "3", "--tempo", "120", *flags], check=True, capture_output=True)
            written = sorted((n.start_beat, n.pitch, n.velocity, n.end_beat - n.start_beat) for n in read_midi(out).notes)
            served = sorted((s, p, v, d) for s, d, p, v in answer["notes"])
            assert [w[:3] for w in written] == [s[:3] for s in served]
            assert all(abs(w[3] - s[3]) < 1e-6 for w, s in zip(written, served))


def test_turns_steer_from_their_bar_as_stream_steer_does(unix_server, service):
    """Turns re-aim the piece from their bar on, exactly as engine.live.steering.Steering does when the
    musician's VA changes at that bar; the bars before are the unsteered piece's."""
    from engine.request import GenerationSettings
    from engine.live.steering import Steering

    rt = service.runtime()
    settings = GenerationSettings(bars=4, seed=11, tempo=120.0)
    turn = VA(-0.9, 0.9)
    calls = []

    def source():
        calls.append(1)
        return turn if len(calls) > 2 else None          # bar 2 on: the CC arrived

    plan = rt.plan(settings, [], va=VA(0.6, -0.6))
    steered = [(n.start, n.pitch, n.velocity) for n in rt.stream_notes(plan, steer=Steering(plan.settings, source))]
    with Client(unix_server.path, timeout=60) as c:
        base = {"op": "piece", "settings": {"bars": 4, "seed": 11}, "va": [0.6, -0.6], "tempo": 120.0}
        plain = c.call(base)["notes"]
        served = c.call({**base, "turns": [[2, -0.9, 0.9]]})["notes"]
    assert [(s, p, v) for s, _, p, v in served] == steered
    assert [n for n in served if n[0] < 8] == [n for n in plain if n[0] < 8]
    assert [n for n in served if n[0] >= 8] != [n for n in plain if n[0] >= 8]


def test_loop_pieces_are_stream_loops(unix_server, service):
    """Piece N of the plugin's loop is piece N of `stream --loop` (Plan.next_piece)."""
    from engine.request import GenerationSettings

    rt = service.runtime()
    plan = rt.plan(GenerationSettings(bars=2, seed=4, tempo=100.0), [], va=VA(0.2, 0.4))
    third = [(n.start, n.pitch, n.velocity) for n in rt.stream_notes(plan.next_piece(3, VA(0.2, 0.4)))]
    with Client(unix_server.path, timeout=60) as c:
        served = c.call({"op": "piece", "settings": {"bars": 2, "seed": 4}, "va": [0.2, 0.4], "tempo": 100.0,
                         "piece": 3})
    assert [(s, p, v) for s, _, p, v in served["notes"]] == third
    assert served["seed"] == 6


def test_serve_command_starts_detaches_and_reports(tmp_path):
    """`synesthete serve --detach` as the plugin starts it: back at once, then listening; --status
    finds it; SIGTERM ends it and removes its socket."""
    sock = tmp_path / "r" / "engine.sock"
    env = {**os.environ, "SYNESTHETE_SOCKET": str(sock)}
    cli = [sys.executable, "-m", "engine.cli", "serve"]
    t0 = time.monotonic()
    subprocess.run(cli + ["--detach", "--idle-exit", "30"], env=env, check=True, timeout=30)
    assert time.monotonic() - t0 < 10
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        r = subprocess.run(cli + ["--status", "--json"], env=env, capture_output=True, text=True)
        if r.returncode == 0:
            status = json.loads(r.stdout)
            break
        time.sleep(0.2)
    assert status and status["running"] is True and status["protocol"] == 1
    os.kill(status["pid"], 15)
    deadline = time.monotonic() + 10
    while sock.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not sock.exists()
    assert (sock.parent / "serve.log").exists()
    r = subprocess.run(cli + ["--status"], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "no engine" in r.stdout
