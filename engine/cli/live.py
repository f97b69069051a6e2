"""``synesthete ports`` and ``synesthete stream``: the live half of the command line.

Bad arguments raise ``UsageError`` (exit 2); a port that fails or disappears raises
``PortError`` after the port has been silenced (exit 1). ``engine.cli.main`` maps both.

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

from ..errors import UsageError
from ..keys import auto_key
from ..outputs import check_output_path, one_line
from .args import add_generation_args, override_va, settings_from


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
    add_generation_args(s, tempo_note="; with --sync the DAW's clock wins")
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


def cmd_ports(args) -> int:
    from ..ports import list_ports

    ports = list_ports(args.api)
    if args.json:
        print(json.dumps(ports))
        return 0
    print(f"MIDI system: {ports['api']}")
    for title, key in (("Outputs (use with --connect)", "outputs"), ("Inputs", "inputs")):
        print(f"{title}:")
        for name in ports[key] or ["(none)"]:
            print(f"  {name}")
    return 0


def _validate(args):
    """Everything about the request, checked before a port opens or a note plays."""
    if not Path(args.image).is_file():
        raise UsageError(f"{one_line(args.image)}: no such image file")
    va = override_va(args)
    settings = settings_from(args)
    if args.also_write:
        check_output_path(args.also_write, inputs=[args.image])
    return va, settings


def cmd_stream(args) -> int:
    from ..live import stream
    from ..midi_in import MidiIn
    from ..ports import PortNotFound, open_output

    va, settings = _validate(args)
    port = midi_in = None
    try:
        try:
            # Ports before the model: a wrong --connect should fail in a second, not after loading.
            port = open_output(args.port_name, connect=args.connect, api=args.api)
            if args.sync or args.loop:
                midi_in = MidiIn(cc_valence=args.cc_valence, cc_arousal=args.cc_arousal, api=args.api)
        except PortNotFound as err:
            raise UsageError(str(err)) from None
        from ..runtime import Runtime  # late: loads onnxruntime

        rt = Runtime.load(args.model_dir)
        enc = rt.encode(args.image)
        target = va or enc.va
        tempo = settings.tempo_for(target)  # fixed for the take: the DAW's clock wins with --sync
        pieces = [0]

        def next_piece(next_va):
            # a new seed for new music, but the take stays in one key family: with --key auto the
            # first seed's major key or its relative minor, as the steered valence asks
            pieces[0] += 1
            key = auto_key(settings.aim(next_va).valence, settings.seed).name if settings.key == "auto" else settings.key
            return rt.notes(dataclasses.replace(settings, seed=settings.seed + pieces[0], key=key), enc, next_va)

        def on_piece(i, piece_va):
            if args.loop:
                print(f"piece {i}: valence {piece_va.valence:+.2f} arousal {piece_va.arousal:+.2f}",
                      file=sys.stderr)

        where = f"{port.name!r} ({port.api}) in {settings.key_for(target).name} at {tempo:g} BPM"
        if args.sync:
            print(f"Playing on {where}; waiting for the DAW's Start on {midi_in.name!r}...", file=sys.stderr)
        else:
            print(f"Playing on {where}. Ctrl-C stops.", file=sys.stderr)
        result = stream(rt.notes(settings, enc, target), port=port, tempo=tempo, sync=args.sync,
                        midi_in=midi_in, next_piece=next_piece if args.loop else None, va=target,
                        piece_beats=settings.beats, also_write=args.also_write,
                        write_settings=settings.metadata(target, image=enc.image, model=rt.model_id),
                        write_key=settings.key_for(target).signature,
                        handle_signals=True, on_piece=on_piece)
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
