"""``synesthete ports`` and ``synesthete stream``: the live half of the command line.

``engine.cli`` calls ``add_parsers(subparsers)``; each command's ``func(args)`` returns the
exit code. Bad arguments raise ``UsageError`` (exit 2); a port that fails or disappears
prints one line and returns 1, after the port has been silenced.

    synesthete ports --json
    synesthete stream examples/coffee.jpg --bars 8 --tempo 100 --also-write take1.mid
    synesthete stream examples/coffee.jpg --connect loopMIDI          # Windows
    synesthete stream examples/coffee.jpg --sync --loop               # follow the DAW, steer by CC
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from .errors import UsageError



def add_parsers(subparsers) -> None:
    p = subparsers.add_parser("ports", help="list MIDI ports Synesthete can connect to",
                              description="List MIDI output ports (for --connect) and input ports.")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--api", default="auto", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_ports)

    s = subparsers.add_parser(
        "stream", help="generate from an image and play it live into a DAW",
        description="Generate music for IMAGE and play it in real time on a MIDI port: a virtual "
                    "port named 'Synesthete' (Linux: JACK if running, else ALSA; macOS: CoreMIDI), "
                    "or an existing port with --connect (Windows: a loopMIDI port). Exits 0 when "
                    "the piece has played or on Ctrl-C; every note is switched off on the way out.")
    s.add_argument("image", metavar="IMAGE", help="picture to read the emotion from")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--port-name", default="Synesthete", metavar="NAME",
                       help="name of the virtual output port to create (default: Synesthete)")
    where.add_argument("--connect", metavar="SUBSTRING",
                       help="send to an existing output port whose name contains SUBSTRING")
    s.add_argument("--bars", type=int, default=8, metavar="N", help="bars per piece, 1..64 (default: 8)")
    s.add_argument("--tempo", type=float, default=None, metavar="BPM",
                   help="tempo in BPM, 20..300 (default: from the target arousal, 72..144; with --sync the DAW's clock wins)")
    s.add_argument("--key", default="auto", help="auto (C major / A minor from valence), or e.g. D, F#, Bbm, Am")
    s.add_argument("--seed", type=int, default=0, metavar="S", help="sampling seed (default: 0)")
    s.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="0 = greedy, 1 = as trained (default), up to 5")
    s.add_argument("--valence", type=float, metavar="V", help="override valence, -1..1 (with --arousal)")
    s.add_argument("--arousal", type=float, metavar="A", help="override arousal, -1..1 (with --valence)")
    s.add_argument("--also-write", metavar="OUT.mid", help="also save exactly what was played")
    s.add_argument("--sync", action="store_true",
                   help="wait for the DAW's Start on 'Synesthete In', begin on the next bar, follow its clock")
    s.add_argument("--loop", action="store_true",
                   help="keep generating piece after piece until stopped; CC20/CC21 on "
                        "'Synesthete In' steer valence/arousal of each next piece")
    s.add_argument("--cc-valence", type=int, default=20, help=argparse.SUPPRESS)
    s.add_argument("--cc-arousal", type=int, default=21, help=argparse.SUPPRESS)
    s.add_argument("--api", default="auto", help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_stream)


def _fail(msg: str) -> int:
    print(f"synesthete: {msg}", file=sys.stderr)
    return 1


def cmd_ports(args) -> int:
    from .ports import PortError, PortNotFound, list_ports
    try:
        ports = list_ports(args.api)
    except PortNotFound as err:
        raise UsageError(str(err)) from None
    except PortError as err:
        return _fail(str(err))
    if args.json:
        print(json.dumps(ports))
        return 0
    print(f"MIDI system: {ports['api']}")
    for title, key in (("Outputs (use with --connect)", "outputs"), ("Inputs", "inputs")):
        print(f"{title}:")
        for name in ports[key] or ["(none)"]:
            print(f"  {name}")
    return 0


def _validate(args) -> None:
    from .cli import check_generation_args, override_va

    if not Path(args.image).is_file():
        raise UsageError(f"{args.image}: no such image file")
    override_va(args)
    check_generation_args(args)
    if args.also_write:
        out = Path(args.also_write)
        if out.is_dir() or not out.parent.is_dir():
            raise UsageError(f"{out}: cannot write there (give a .mid file in an existing directory)")


def cmd_stream(args) -> int:
    from .live import stream
    from .midi_in import MidiIn
    from .ports import PortError, PortNotFound, open_output

    _validate(args)
    port = midi_in = None
    try:
        try:
            # Ports before the model: a wrong --connect should fail in a second, not after loading.
            port = open_output(args.port_name, connect=args.connect, api=args.api)
            if args.sync or args.loop:
                midi_in = MidiIn(cc_valence=args.cc_valence, cc_arousal=args.cc_arousal, api=args.api)
        except PortNotFound as err:
            raise UsageError(str(err)) from None
        from .runtime import Runtime  # late: loads onnxruntime

        rt = Runtime.load()
        try:
            image_va = rt.image_va(args.image)
        except (OSError, ValueError) as err:
            raise UsageError(f"{args.image}: {str(err).splitlines()[0]}") from None
        from .cli import override_va, settings_from

        va = override_va(args) or image_va
        settings = settings_from(args, va.arousal)  # the default tempo follows the target arousal
        pieces = [0]

        def next_piece(next_va):
            pieces[0] += 1
            return rt.generate(dataclasses.replace(settings, seed=args.seed + pieces[0]), next_va)

        def on_piece(i, piece_va):
            if args.loop:
                print(f"piece {i}: valence {piece_va.valence:+.2f} arousal {piece_va.arousal:+.2f}",
                      file=sys.stderr)

        where = f"{port.name!r} ({port.api})"
        if args.sync:
            print(f"Playing on {where}; waiting for the DAW's Start on 'Synesthete In'...", file=sys.stderr)
        else:
            print(f"Playing on {where}. Ctrl-C stops.", file=sys.stderr)
        result = stream(rt.generate(settings, va), port=port, tempo=settings.tempo, sync=args.sync,
                        midi_in=midi_in, next_piece=next_piece if args.loop else None, va=va,
                        piece_beats=4.0 * args.bars, also_write=args.also_write,
                        write_settings={"image": str(args.image), "bars": args.bars,
                                        "tempo": settings.tempo, "seed": args.seed,
                                        "temperature": args.temperature, "key": args.key, **va.as_dict()},
                        handle_signals=True, on_piece=on_piece)
    except PortError as err:
        return _fail(str(err))
    finally:
        if midi_in is not None:
            midi_in.close()
        if port is not None:
            port.close()
    notes = sum(1 for s in result.sent if s.kind == "on")
    msg = f"played {notes} notes in {result.seconds:.1f} s"
    if result.written is not None:
        msg += f"; wrote {result.written}"
    print(msg, file=sys.stderr)
    return 0
