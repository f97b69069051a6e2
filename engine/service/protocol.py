"""Where the engine service listens, who may talk to it, and how a message is framed.

Public names: ``PROTOCOL``, ``MAX_REQUEST``, ``MAX_RESPONSE``, ``ProtocolError``, ``TooLarge``,
``BadMessage``, ``socket_path``, ``private_dir``, ``config_dir``, ``tcp_info_path``,
``encode``, ``send_message``, ``read_message``, ``peer_uid``, ``Client``.

**Only its user.** On Linux and macOS the service listens on a Unix socket, mode 0600, inside a
directory of its own, mode 0700 and owned by the user (``$XDG_RUNTIME_DIR/synesthete`` where the
session has one, else ``$TMPDIR`` or ``/tmp`` + ``synesthete-<uid>``; a directory someone else
owns or others can enter is refused, never used). The file modes keep other users out; the
service also reads each connection's peer credentials (``SO_PEERCRED``, ``LOCAL_PEERCRED``) and
closes any whose uid is not its own — root included. Where there are no Unix sockets (Windows)
it listens on 127.0.0.1 only, with a fresh 256-bit token per start in a file only the user can
read (``tcp_info_path``), and every request must carry that token.

**Bounded.** A message is a 4-byte big-endian length, then that many bytes of UTF-8 JSON
holding one object. A request may be at most ``MAX_REQUEST`` bytes (a picture's encoding is
about 70 kB of it), a response ``MAX_RESPONSE``; a longer length is refused before anything is
read, and the connection closed, since the stream cannot be trusted after it. Bad UTF-8, bad
JSON, NaN, nesting deeper than Python's stack, anything but an object: one error answer, and the
connection goes on. Both sides use the same framing (``plugin/EngineLink.cpp`` in C++).

The same values the plugin uses: ``SYNESTHETE_SOCKET`` overrides the socket's path for both,
``SYNESTHETE_TCP_INFO`` the token file's.
"""
from __future__ import annotations

import json
import os
import socket
import stat
import struct
import sys
import time
from pathlib import Path
from typing import Any

PROTOCOL = 1                    # bumped when a request or answer changes shape
MAX_REQUEST = 1 << 20           # 1 MiB: settings, a picture's encoding (~70 kB), up to 64 turns
MAX_RESPONSE = 16 << 20         # 16 MiB: 64 bars of the densest music is well under 1 MiB
HEADER = struct.Struct(">I")
ENV_SOCKET = "SYNESTHETE_SOCKET"
ENV_TCP_INFO = "SYNESTHETE_TCP_INFO"
SOCKET_NAME = "engine.sock"
MAX_UNIX_PATH = 104             # sun_path: 108 bytes on Linux, 104 on macOS (with the NUL)


class ProtocolError(Exception):
    """The stream cannot go on (closed mid-message, a length over the limit, a timeout)."""


class TooLarge(ProtocolError):
    """A message's length is over the limit: refused before reading it."""


class BadMessage(ValueError):
    """A whole message arrived but is not a JSON object: answer it and go on."""


def _uid() -> int:
    return os.getuid() if hasattr(os, "getuid") else 0


def config_dir() -> Path:
    """The user's Synesthete settings: where the plugin finds the ``synesthete`` to start
    (``engine``) and, on TCP, the port and token (``engine.json``)."""
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "Synesthete"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Synesthete"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "synesthete"


def tcp_info_path() -> Path:
    return Path(os.environ.get(ENV_TCP_INFO) or config_dir() / "engine.json")


def socket_path() -> Path:
    """The Unix socket's path: ``$SYNESTHETE_SOCKET``, else ``$XDG_RUNTIME_DIR/synesthete/engine.sock``
    (a per-user directory the session made), else ``${TMPDIR:-/tmp}/synesthete-<uid>/engine.sock``.
    ``plugin/EngineLink.cpp`` computes the same."""
    env = os.environ.get(ENV_SOCKET)
    if env:
        return Path(env)
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run and os.path.isdir(run):
        return Path(run) / "synesthete" / SOCKET_NAME
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return Path(tmp) / f"synesthete-{_uid()}" / SOCKET_NAME


def private_dir(path: Path) -> Path:
    """``path`` as a directory only this user can enter: made with mode 0700 if missing; an
    existing one must be ours and closed to others (``PermissionError`` saying why otherwise:
    a directory someone else made in /tmp is never used)."""
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise PermissionError(f"{path}: is not a directory (refusing to put the engine's socket there)")
    if st.st_uid != _uid():
        raise PermissionError(f"{path}: owned by uid {st.st_uid}, not you (refusing to put the engine's socket there)")
    if st.st_mode & 0o077:
        raise PermissionError(f"{path}: mode {stat.S_IMODE(st.st_mode):o} lets others in (needs 700)")
    return path


def _no_nan(text: str):
    raise ValueError(f"{text} is not a number JSON allows")


def encode(obj: Any, limit: int = MAX_RESPONSE) -> bytes:
    """One framed message: the length, then compact UTF-8 JSON (NaN refused)."""
    body = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode()
    if len(body) > limit:
        raise TooLarge(f"message of {len(body)} bytes is over the {limit}-byte limit")
    return HEADER.pack(len(body)) + body


def send_message(sock: socket.socket, obj: Any, limit: int = MAX_RESPONSE) -> None:
    sock.sendall(encode(obj, limit))


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError("timed out in the middle of a message")
            sock.settimeout(left)
        try:
            chunk = sock.recv(min(n - len(buf), 1 << 16))
        except socket.timeout:
            raise ProtocolError("timed out in the middle of a message") from None
        if not chunk:
            if not buf:
                raise EOFError
            raise ProtocolError("connection closed in the middle of a message")
        buf += chunk
    return bytes(buf)


def read_message(sock: socket.socket, limit: int = MAX_REQUEST, *, idle: float | None = None,
                 body_s: float = 10.0) -> dict:
    """The next message's object. Waits up to ``idle`` seconds for one to begin (None: forever;
    ``EOFError`` when the peer closes cleanly), then ``body_s`` for the rest. ``TooLarge`` for a
    length over ``limit`` (nothing more is read), ``ProtocolError`` for a broken stream,
    ``BadMessage`` for a whole message that is not a JSON object."""
    sock.settimeout(idle)
    try:
        first = sock.recv(HEADER.size)
    except socket.timeout:
        raise ProtocolError("idle connection timed out") from None
    if not first:
        raise EOFError
    deadline = time.monotonic() + body_s
    head = first + (_recv_exact(sock, HEADER.size - len(first), deadline) if len(first) < HEADER.size else b"")
    (n,) = HEADER.unpack(head)
    if n > limit:
        raise TooLarge(f"message of {n} bytes is over the {limit}-byte limit")
    body = _recv_exact(sock, n, deadline) if n else b""
    try:
        obj = json.loads(body.decode("utf-8"), parse_constant=_no_nan)
    except UnicodeDecodeError:
        raise BadMessage("message is not UTF-8") from None
    except RecursionError:
        raise BadMessage("message nests too deeply") from None
    except ValueError as e:
        raise BadMessage(f"message is not JSON ({str(e).splitlines()[0][:80]})") from None
    if not isinstance(obj, dict):
        raise BadMessage(f"message must be a JSON object, not {type(obj).__name__}")
    return obj


def peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (None where the OS cannot say)."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid, uid, gid}
        raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", raw)[1]
    if sys.platform == "darwin":  # LOCAL_PEERCRED: struct xucred {version, uid, ngroups, groups[16]}
        sol_local, local_peercred = 0, 0x001
        raw = conn.getsockopt(sol_local, local_peercred, struct.calcsize("IIh16I"))
        return struct.unpack_from("II", raw)[1]
    return None


class Client:
    """A connection to the service, for tests, ``synesthete serve --status`` and scripts.

        with Client() as c:
            c.call({"op": "hello"})

    ``tcp=True`` reads the port and token from ``tcp_info_path()`` (or give ``port`` and ``token``)."""

    def __init__(self, path: str | os.PathLike | None = None, *, tcp: bool = False, port: int | None = None,
                 token: str | None = None, timeout: float = 60.0) -> None:
        self.token = token
        if tcp or port is not None:
            if port is None:
                info = json.loads(tcp_info_path().read_text())
                port, self.token = int(info["port"]), token or info["token"]
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            try:
                self.sock.connect(str(path or socket_path()))
            except OSError:
                self.sock.close()
                raise
        self.timeout = timeout

    def call(self, obj: dict) -> dict:
        if self.token is not None and "token" not in obj:
            obj = {**obj, "token": self.token}
        send_message(self.sock, obj, MAX_REQUEST)
        return read_message(self.sock, MAX_RESPONSE, idle=self.timeout, body_s=self.timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
