"""``synesthete serve``: the engine as a local service for the Synesthete plugin (docs/PLUGIN.md).

    synesthete serve                      # listen on the user's socket until Ctrl-C
    synesthete serve --status --json      # is one running? which model, which pid
    synesthete serve --register           # tell the plugin where this synesthete is, then exit

The plugin starts ``synesthete serve --detach --idle-exit 600`` itself when none is running; it
finds the program through ``$SYNESTHETE_ENGINE``, the file ``--register`` writes, or ``PATH``.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from ..errors import UsageError


def add_parsers(sub) -> None:
    s = sub.add_parser("serve", help="run the engine as a local service for the Synesthete plugin (LV2, VST3, CLAP)",
                       description="Listen for the Synesthete plugin on a socket only you can open (a Unix socket, "
                                   "mode 0600; with --tcp, 127.0.0.1 and a per-user token) and compose the pieces "
                                   "it asks for. The plugin starts one itself when none is running.")
    s.add_argument("--socket", metavar="PATH", help="Unix socket to listen on (default: $SYNESTHETE_SOCKET, else "
                                                    "$XDG_RUNTIME_DIR/synesthete/engine.sock or /tmp/synesthete-UID/)")
    s.add_argument("--tcp", type=int, metavar="PORT", help="listen on 127.0.0.1:PORT (0: any) with a per-user token "
                                                           "instead (for systems without Unix sockets)")
    s.add_argument("--idle-exit", type=float, metavar="S", help="exit after S seconds with no plugin connected")
    s.add_argument("--detach", action="store_true", help="go on in the background (log: serve.log beside the socket)")
    s.add_argument("--status", action="store_true", help="ask the running service and print what it says")
    s.add_argument("--register", action="store_true",
                   help="write this synesthete's path where the plugin looks for it, then exit")
    s.add_argument("--model-dir", help="ONNX model directory (default: the shipped model)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_serve)


def _program() -> str:
    """The ``synesthete`` this is: the script that runs us, else the one on PATH."""
    argv0 = Path(sys.argv[0])
    if argv0.name.startswith("synesthete") and argv0.exists():
        return str(argv0.resolve())
    found = shutil.which("synesthete")
    if found:
        return str(Path(found).resolve())
    raise UsageError("cannot tell where the synesthete program is: run it as `synesthete serve --register`")


def cmd_serve(args) -> int:
    from ..service.protocol import Client, config_dir, socket_path

    if args.register:
        target = config_dir() / "engine"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_program() + "\n")
        _emit(args, {"engine": str(target), "program": _program()}, f"the plugin will start {_program()} (written to {target})")
        return 0
    path = Path(args.socket) if args.socket else socket_path()
    if args.status:
        try:
            with Client(None if args.tcp is not None else path, tcp=args.tcp is not None, timeout=5) as c:
                info = c.call({"op": "hello"})
        except (OSError, ValueError, KeyError) as e:
            _emit(args, {"running": False, "error": str(e)}, f"no engine is running ({e})")
            return 1
        _emit(args, {"running": True, **info}, f"engine running: pid {info.get('pid')}, model {info.get('model')}")
        return 0
    if args.idle_exit is not None and not args.idle_exit > 0:
        raise UsageError(f"--idle-exit must be a number of seconds above 0 (received {args.idle_exit})")
    if args.detach:
        if not hasattr(os, "fork"):
            raise UsageError("--detach needs fork(); start the service from a terminal or a task instead")
        from ..service.protocol import private_dir
        from ..service.server import detach

        detach(private_dir(path.parent) / "serve.log" if args.tcp is None else config_dir() / "serve.log")
    from ..service.server import serve

    return serve(path=None if args.tcp is not None else path, tcp_port=args.tcp, idle_exit=args.idle_exit,
                 model_dir=args.model_dir)


def _emit(args, obj: dict, line: str) -> None:
    print(json.dumps(obj) if args.json else line)
