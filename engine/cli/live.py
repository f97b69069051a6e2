"""``synesthete ports`` and ``synesthete stream``: the live half of the command line.

Bad arguments raise ``UsageError`` (exit 2); a port that fails or disappears raises
``PortError`` after the port has been silenced (exit 1). ``engine.cli.main`` maps both.

    synesthete ports --json
    synesthete stream examples/coffee.jpg --bars 8 --tempo 100 --also-write take1.mid
    synesthete stream examples/coffee.jpg --connect loopMIDI          # Windows
    synesthete stream examples/coffee.jpg --sync --loop               # follow the DAW, steer by CC
    synesthete stream examples/coffee.jpg --link                      # play in an Ableton Link session
    synesthete stream examples/coffee.jpg --steer                     # CC 20/21 steer from the next bar
    synesthete stream examples/coffee.jpg --listen 2                  # answer the phrase you play
    synesthete stream examples/coffee.jpg --chords "Am F C G" --loop  # a progression, on across pieces
    synesthete stream examples/coffee.jpg --sync --follow-chords      # the chord you hold is the next bar's
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

from ..errors import UsageError
from ..events import MAX_TEMPO, MIN_TEMPO
from ..files.outputs import check_output_path, one_line
from .args import add_generation_args, override_va, settings_from
from .pieces import chords_from_clip

LINK_DISCOVERY_S = 1.0  # how long --link looks for peers before reporting the session


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
    add_generation_args(s, tempo_note="; with --sync the DAW's clock wins, with --link the session's tempo")
    s.add_argument("--also-write", metavar="OUT.mid", help="also save exactly what was played")
    clock = s.add_mutually_exclusive_group()
    clock.add_argument("--sync", action="store_true",
                       help="wait for the DAW's Start on 'Synesthete In', begin on the next bar, follow its clock")
    clock.add_argument("--link", action="store_true",
                       help="join the Ableton Link session: its tempo, from its next bar; a peer's Stop "
                            "(start/stop sync) ends the take")
    s.add_argument("--loop", action="store_true",
                   help="keep generating piece after piece until stopped (CC20/CC21 steer, as with --steer)")
    s.add_argument("--steer", action="store_true",
                   help="CC20/CC21 on 'Synesthete In' steer valence/arousal from the next bar line: the model "
                        "composes each bar just before it plays")
    s.add_argument("--listen", type=int, metavar="BARS",
                   help="first listen: record the phrase you play into 'Synesthete In' (BARS bars from your first "
                        "note, at the take's tempo) and answer it from the next bar line")
    s.add_argument("--answer-cc", type=int, default=22, metavar="CC",
                   help="with --listen: this CC (value 64 or more) ends the phrase at the next bar line (default 22)")
    s.add_argument("--prime", metavar="PHRASE.mid", help="continue this phrase (its key and tempo unless given)")
    s.add_argument("--chords-from", metavar="PROGRESSION.mid",
                   help="follow the chords of this 4/4 clip (recognised per half bar; repeated to fill --bars, "
                        "continued across pieces with --loop)")
    s.add_argument("--follow-chords", action="store_true",
                   help="the chord you hold on 'Synesthete In' as a bar is composed (0.1 s before its line) is "
                        "that bar's harmony; nothing held: --chords, or the model's own")
    s.add_argument("--cc-valence", type=int, default=20, help=argparse.SUPPRESS)
    s.add_argument("--cc-arousal", type=int, default=21, help=argparse.SUPPRESS)
    s.add_argument("--api", default="auto", help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_stream)


def cmd_ports(args) -> int:
    from ..live.ports import list_ports

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
    settings = settings_from(chords_from_clip(args))
    if args.listen is not None:
        if not 1 <= args.listen <= 16:
            raise UsageError(f"--listen takes 1..16 bars (received {args.listen})")
        if args.sync or args.link:
            raise UsageError("--listen follows the bars of your own playing: leave out --sync/--link")
    for flag in ("answer_cc", "cc_valence", "cc_arousal"):
        cc = getattr(args, flag)
        if not 0 <= cc <= 127:  # a CC number out of MIDI's range could never match a message
            raise UsageError(f"--{flag.replace('_', '-')} must be a MIDI controller number, 0..127 (received {cc})")
    if args.also_write:
        check_output_path(args.also_write, inputs=[args.image, args.prime, args.chords_from], model_dir=args.model_dir)
    return va, settings


class _Terminated(Exception):
    """SIGTERM before or between the stages that handle it themselves (model loading, listening)."""


def cmd_stream(args) -> int:
    """``stream``: SIGTERM at any stage ends it with exit 0 and every port closed silent — while
    playing through ``stream``'s own handler, before that through this one."""
    def on_term(signum, frame):
        raise _Terminated

    main_thread = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, on_term) if main_thread else None
    try:
        return _stream(args)
    except _Terminated:
        print("stopped (SIGTERM)", file=sys.stderr)
        return 0
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old)


def _stream(args) -> int:
    from ..live.stream import stream
    from ..live.midi_in import MidiIn
    from ..live.ports import PortNotFound, open_output
    from ..live.follow import ChordFollower
    from ..live.steering import Pacer, Steering

    va, settings = _validate(args)
    primer = _primer(args)
    steering_on = args.steer or args.loop
    follow = args.follow_chords
    with ExitStack() as resources:  # closed in reverse on every way out: Link, input, then the port
        try:
            # Ports before the model: a wrong --connect should fail in a second, not after loading.
            port = resources.enter_context(open_output(args.port_name, connect=args.connect, api=args.api))
            midi_in = None
            if args.sync or steering_on or args.listen or follow:
                midi_in = resources.enter_context(MidiIn(cc_valence=args.cc_valence, cc_arousal=args.cc_arousal,
                                                         api=args.api))
        except PortNotFound as err:
            raise UsageError(str(err)) from None
        from ..generation.runtime import Runtime  # late: loads onnxruntime

        rt = Runtime.load(args.model_dir)
        enc = rt.encode(args.image)
        plan = rt.plan(settings, [enc], va=va, primer=primer)
        link = clock = None
        if args.link:
            from ..live.link import LinkSync  # LinkUnavailable (exit 2) without aalink

            # Our tempo only counts when we are alone; a session we join keeps its own, and from
            # here on it is the plan's: the notes' timing, humanizing and the file's metadata.
            link = clock = resources.enter_context(LinkSync(plan.tempo))
            peers = link.wait_for_peers(LINK_DISCOVERY_S)
            session = round(link.tempo, 2)  # Link sends µs per beat: a peer's 97 arrives as 96.99995
            print(f"Link session: {session:.2f} BPM, {peers} peer(s)", file=sys.stderr)
            plan = rt.plan(settings, [enc], va=va, primer=primer, tempo=min(MAX_TEMPO, max(MIN_TEMPO, session)))
        if args.listen:
            primer, clock = _listen(midi_in, plan.tempo, args)
            plan = rt.plan(settings, [enc], va=va, primer=primer, tempo=plan.tempo)
        pacer = Pacer() if steering_on or follow else None
        steering = Steering(plan.settings, lambda: midi_in.next_va(plan.target), pacer) if steering_on else None
        follower = ChordFollower(midi_in.held_notes, pacer) if follow else None
        pieces = [1]

        def notes_for(piece_plan):
            steer = steering.for_piece(pieces[0], piece_plan.target) if steering is not None else None
            if follower is not None:  # around the CC steering: both hold at once
                steer = follower.for_piece(pieces[0], piece_plan.settings, piece_plan.target, steer or piece_plan.steer)
            return rt.stream_notes(piece_plan, steer=steer)

        def next_piece(next_va):
            pieces[0] += 1
            return notes_for(plan.next_piece(pieces[0], next_va))

        def on_piece(i, piece_va):
            if args.loop:
                print(f"piece {i}: valence {piece_va.valence:+.2f} arousal {piece_va.arousal:+.2f}",
                      file=sys.stderr)

        where = f"{port.name!r} ({port.api}) in {plan.key.name} at {plan.tempo:g} BPM"
        if args.chords_from:  # what was read, so a surprising reading shows before it plays
            text = plan.settings.chords
            print(f"Chords from {one_line(args.chords_from)}: {text if len(text) <= 120 else text[:117] + '...'}",
                  file=sys.stderr)
        if args.sync:
            print(f"Playing on {where}; waiting for the DAW's Start on {midi_in.name!r}...", file=sys.stderr)
        elif args.link:
            print(f"Playing on {where} from the session's next bar. Ctrl-C stops.", file=sys.stderr)
        elif args.listen:
            print(f"Answering on {where} from the phrase's next bar line. Ctrl-C stops.", file=sys.stderr)
        else:
            print(f"Playing on {where}. Ctrl-C stops.", file=sys.stderr)
        if steering is not None:
            print(f"Steering: CC{args.cc_valence} (valence) and CC{args.cc_arousal} (arousal) on {midi_in.name!r} "
                  "take effect from the next bar line.", file=sys.stderr)
        if follower is not None:
            otherwise = "the chords asked for" if plan.settings.chords.strip() else "its own harmony"
            print(f"Following chords: the chord held on {midi_in.name!r} just before a bar line is that bar's "
                  f"harmony; with nothing held, {otherwise}.", file=sys.stderr)
        result = stream(plan, port, notes_for(plan), sync=args.sync, midi_in=midi_in, clock=clock,
                        next_piece=next_piece if args.loop else None, also_write=args.also_write,
                        handle_signals=True, on_piece=on_piece, pacer=pacer)
    notes = sum(1 for s in result.sent if s.kind == "on")
    msg = f"played {notes} notes in {result.seconds:.1f} s"
    if steering is not None and steering.turns:
        msg += f"; steered {len(steering.turns)} time(s)"
    if follower is not None:
        msg += f"; {len(follower.follows)} bar(s) in a held chord"
    if result.written is not None:
        msg += f"; wrote {result.written}"
    if link is not None and link.stopped_by_session:
        msg += " (stopped by the Link session)"
    print(msg, file=sys.stderr)
    return 0


def _primer(args):
    if not args.prime:
        return None
    if args.listen:
        raise UsageError("--prime and --listen both give the phrase to continue: choose one")
    from ..music.primer import primer_from_midi

    return primer_from_midi(args.prime)


def _listen(midi_in, tempo: float, args):
    """Record the musician's phrase into 'Synesthete In'; returns (its Primer, the clock that starts
    the answer on the phrase's next bar line)."""
    from ..live.listen import PhraseRecorder, StartAt

    rec = PhraseRecorder(tempo, args.listen, args.answer_cc)
    midi_in.on_message = rec.handle
    print(f"Listening on {midi_in.name!r}: play {args.listen} bar(s) at {tempo:g} BPM from your first note "
          f"(CC{args.answer_cc} answers from the next bar line)...", file=sys.stderr)
    while not rec.wait_for_first_note(0.1):
        pass
    end = rec.wait_for_close()
    midi_in.on_message = None
    primer = rec.primer()
    print(f"Heard {len(primer.notes)} notes in {primer.bars} bar(s), {primer.key.name}: answering.", file=sys.stderr)
    return primer, StartAt(end, tempo)
