"""``synesthete serve``: the engine listening for the plugin, one thread per connection.

Public names: ``Service``, ``Server``, ``serve``, ``IDLE_CONNECTION_S``, ``MAX_CLIENTS``.

    srv = Server(Service(model_dir=None), path=socket_path())   # or tcp_port=0
    srv.serve_forever()                                         # until close(), a signal or idle_exit

Who may connect and how messages are bounded: ``engine.service.protocol``. What is answered:
``engine.service.pieces``. Here: the socket is made and guarded (one service per socket, a lock
file beside it; a stale socket from a crash is replaced), each connection is checked (peer uid,
or the token on TCP) and served until it closes, and every way a message can be wrong is
answered or ends that connection alone — the service itself never stops for a client.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import select
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import ModelError, UsageError
from .pieces import Pieces, RequestError
from .protocol import (MAX_REQUEST, MAX_RESPONSE, MAX_UNIX_PATH, PROTOCOL, BadMessage, ProtocolError, TooLarge,
                       peer_uid, private_dir, send_message, read_message, tcp_info_path)

log = logging.getLogger("synesthete.serve")

IDLE_CONNECTION_S = 300.0   # a connection with no message for this long is closed (the plugin pings every second)
MAX_CLIENTS = 64            # connections served at once; more are closed at once
ACCEPT_POLL_S = 0.25


class Service:
    """The answers, independent of sockets: ``handle(message) -> answer`` never raises."""

    def __init__(self, model_dir: str | None = None, runtime: Any = None) -> None:
        self.model_dir = model_dir
        self._runtime = runtime
        self._load_lock = threading.Lock()
        self.pieces = Pieces(self.runtime)
        self.started = time.time()

    def runtime(self):
        with self._load_lock:
            if self._runtime is None:
                from ..generation.runtime import Runtime

                self._runtime = Runtime.load(self.model_dir)
            return self._runtime

    def warm_up(self) -> None:
        """Load the model now (in the background at start), so the first piece is not late."""
        try:
            self.runtime()
        except Exception as e:  # noqa: BLE001 - reported with the first request that needs it
            log.warning("model: %s", str(e).splitlines()[0] if str(e) else type(e).__name__)

    def handle(self, msg: dict) -> dict:
        op = msg.get("op")
        try:
            if op == "hello":
                rt = self._runtime
                return {"ok": True, "service": "synesthete", "protocol": PROTOCOL, "pid": os.getpid(),
                        "model": getattr(rt, "model_id", None), "ready": rt is not None}
            if op == "piece":
                return self.pieces.piece(msg)
            if op == "picture":
                return self.pieces.picture(msg)
            return {"ok": False, "error": f"unknown op {json.dumps(op)[:40]} (hello, piece, picture)"}
        except (RequestError, UsageError, ModelError, ValueError, OSError) as e:
            return {"ok": False, "error": _one_line(e)}
        except Exception as e:  # noqa: BLE001 - a bug answers one line; the service goes on
            log.exception("request failed")
            return {"ok": False, "error": f"internal error: {type(e).__name__}: {_one_line(e)}"}


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return (lines[0] if lines else type(e).__name__)[:300]


class AlreadyRunning(RuntimeError):
    """Another service holds this socket."""


class Server:
    """Listens on a Unix socket ``path`` (mode 0600 in a 0700 directory) or, with ``tcp_port``
    (0: any free port), on 127.0.0.1 with a per-start token written to ``tcp_info_path()``.
    ``idle_exit`` seconds with no connection ends ``serve_forever`` (the plugin's autostart)."""

    def __init__(self, service: Service, *, path: str | os.PathLike | None = None, tcp_port: int | None = None,
                 idle_exit: float | None = None, max_clients: int = MAX_CLIENTS,
                 idle_connection_s: float = IDLE_CONNECTION_S) -> None:
        self.service, self.idle_exit, self.max_clients = service, idle_exit, max_clients
        self.idle_connection_s = idle_connection_s
        self.path = Path(path) if path is not None else None
        self.token: str | None = None
        self._lock_fd: int | None = None
        self._stop = threading.Event()
        self._clients = 0
        self._count_lock = threading.Lock()
        self._last_activity = time.monotonic()
        self.refused = 0          # connections closed for the wrong uid or token (tests read it)
        self._inode: int | None = None
        self._close_lock = threading.Lock()
        self._closed = False
        if tcp_port is not None:
            self.sock = self._listen_tcp(tcp_port)
        else:
            if self.path is None:
                raise ValueError("a Unix socket path or a TCP port is needed")
            self.sock = self._listen_unix(self.path)
        self.address = self.path if tcp_port is None else self.sock.getsockname()

    # --- the socket ---------------------------------------------------------------------------

    def _listen_unix(self, path: Path) -> socket.socket:
        if len(os.fsencode(str(path))) >= MAX_UNIX_PATH:
            raise UsageError(f"{path}: too long for a Unix socket ({MAX_UNIX_PATH - 1} bytes at most); "
                             "set SYNESTHETE_SOCKET to a shorter path")
        private_dir(path.parent)
        self._lock_fd = _lock(path.with_suffix(".lock"))
        if self._lock_fd is None:
            raise AlreadyRunning(f"a Synesthete engine already serves {path}")
        try:
            path.unlink()          # a socket left by a crash: nobody holds the lock, so nobody listens
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)     # born 0600: no moment when another user could connect
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self._inode = os.stat(path).st_ino
        sock.listen(16)
        return sock

    def _listen_tcp(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", port))   # loopback only: no other host can reach it
        sock.listen(16)
        self.token = secrets.token_hex(32)
        info = tcp_info_path()
        info.parent.mkdir(parents=True, exist_ok=True)
        tmp = info.with_name(info.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"port": sock.getsockname()[1], "token": self.token, "pid": os.getpid()}, fh)
        os.replace(tmp, info)
        return sock

    # --- serving ------------------------------------------------------------------------------

    def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        if on_ready is not None:
            on_ready()
        try:
            while not self._stop.is_set():
                try:
                    ready, _, _ = select.select([self.sock], [], [], ACCEPT_POLL_S)
                except (OSError, ValueError):  # closed by close() from another thread
                    return
                if not ready:
                    if self._idle_too_long():
                        log.info("no plugin for %.0f s: exiting", self.idle_exit)
                        return
                    if self._socket_gone():
                        log.info("%s was removed or replaced: exiting", self.path)
                        return
                    continue
                try:
                    conn, _addr = self.sock.accept()
                except OSError:
                    continue
                self._touch()
                with self._count_lock:
                    full = self._clients >= self.max_clients
                    if not full:
                        self._clients += 1
                if full:
                    conn.close()
                    continue
                threading.Thread(target=self._serve_client, args=(conn,), daemon=True, name="synesthete-client").start()
        finally:
            self.close()

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _idle_too_long(self) -> bool:
        if not self.idle_exit:
            return False
        with self._count_lock:
            busy = self._clients > 0
        return not busy and time.monotonic() - self._last_activity > self.idle_exit

    def _socket_gone(self) -> bool:
        """Our socket file deleted or replaced (a temp cleaner, another service after a crash):
        nobody can reach us any more, so we go."""
        if self.path is None or self._inode is None:
            return False
        try:
            return os.stat(self.path).st_ino != self._inode
        except OSError:
            return True

    def _allowed_peer(self, conn: socket.socket) -> bool:
        if self.path is None:
            return True           # TCP: the token decides, request by request
        try:
            uid = peer_uid(conn)
        except OSError:
            return False
        me = os.getuid() if hasattr(os, "getuid") else None
        return uid is None or uid == me

    def _serve_client(self, conn: socket.socket) -> None:
        try:
            if not self._allowed_peer(conn):
                self.refused += 1
                log.warning("refused a connection from another user")
                return
            while not self._stop.is_set():
                try:
                    msg = read_message(conn, MAX_REQUEST, idle=self.idle_connection_s)
                except BadMessage as e:
                    self._touch()
                    send_message(conn, {"ok": False, "error": str(e)})
                    continue
                except TooLarge as e:
                    send_message(conn, {"ok": False, "error": str(e)})
                    return        # the stream cannot be trusted after an oversized length
                except (EOFError, ProtocolError, OSError):
                    return
                self._touch()
                if self.token is not None:
                    given = msg.get("token")
                    if not (isinstance(given, str) and hmac.compare_digest(given.encode(), self.token.encode())):
                        self.refused += 1
                        send_message(conn, {"ok": False, "error": "not authorized (wrong or missing token)"})
                        return
                answer = self.service.handle(msg)
                try:
                    send_message(conn, answer, MAX_RESPONSE)
                except TooLarge as e:
                    send_message(conn, {"ok": False, "error": str(e)})
                self._touch()
        except OSError:
            pass
        finally:
            with self._count_lock:
                self._clients -= 1
            self._touch()
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        """Stop listening and remove our socket; safe to call from any thread, more than once."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        if self.path is not None and self._lock_fd is not None:
            try:
                if not self._socket_gone():   # never another service's socket
                    self.path.unlink()
            except OSError:
                pass
            os.close(self._lock_fd)
            self._lock_fd = None
        if self.token is not None:
            try:
                info = tcp_info_path()
                if json.loads(info.read_text()).get("pid") == os.getpid():
                    info.unlink()
            except (OSError, ValueError):
                pass


def _lock(path: Path) -> int | None:
    """An exclusive lock on ``path`` held for the process's life (None: someone else holds it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:     # Windows has no Unix sockets either: TCP never comes here
        return fd
    except OSError:
        os.close(fd)
        return None
    return fd


def detach(log_path: Path) -> None:
    """Go on in the background, in a session of its own (the plugin starts ``serve --detach`` and
    waits only for this): the parent returns at once, stdout and stderr go to ``log_path``."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)


def serve(*, path: Path | None, tcp_port: int | None, idle_exit: float | None, model_dir: str | None,
          announce: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> int:
    """Run a server until SIGINT/SIGTERM or ``idle_exit``; 0, or 0 at once when another holds the socket."""
    service = Service(model_dir)
    try:
        server = Server(service, path=path, tcp_port=tcp_port, idle_exit=idle_exit)
    except AlreadyRunning as e:
        announce(str(e))
        return 0

    def on_signal(signum, frame):
        server._stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=service.warm_up, daemon=True, name="synesthete-warm-up").start()
    where = f"127.0.0.1:{server.address[1]} (token in {tcp_info_path()})" if tcp_port is not None else str(path)
    server.serve_forever(on_ready=lambda: announce(f"synesthete engine listening on {where} (pid {os.getpid()})"))
    return 0
