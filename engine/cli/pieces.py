"""``generate``, ``render``, ``va``, ``music-va`` and ``bench``: the file-and-number half of the command line."""
from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..files.outputs import check_output_path, one_line
from ..request import check_sections
from .args import add_generation_args, override_va, settings_from
from .output import emit


def add_parsers(sub) -> None:
    g = sub.add_parser("generate", help="compose a .mid file from an image (or several: one section each)")
    g.add_argument("image", nargs="+", metavar="IMAGE",
                   help="picture(s); several make one piece with a section per picture, the emotion moving through theirs")
    g.add_argument("-o", "--out", required=True, help="output .mid file")
    add_generation_args(g)
    g.add_argument("--prime", metavar="PHRASE.mid",
                   help="continue this phrase: its key and tempo unless given; --bars counts the continuation")
    g.add_argument("--include-prime", action="store_true", help="write the phrase before the continuation (default: the continuation alone)")
    g.add_argument("--chords-from", metavar="PROGRESSION.mid",
                   help="follow the chords of this 4/4 clip (recognised per half bar; repeated to fill --bars)")
    g.add_argument("--revise", metavar="PIECE.mid",
                   help="rewrite bars of this 4/4 piece (with --change), every other note and event kept as it was")
    g.add_argument("--change", metavar="FIRST-LAST", help="the bars --revise rewrites, counted from 1, e.g. 5-6")
    g.add_argument("--wav", metavar="OUT.wav", help="also render the piece to audio (44.1 kHz stereo WAV)")
    g.add_argument("--soundfont", metavar="SF2", help=SOUNDFONT_HELP)
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=cmd_generate)

    r = sub.add_parser("render", help="render a MIDI file to a WAV with a SoundFont",
                       description="Render any MIDI file to 16-bit 44.1 kHz stereo audio with FluidSynth.")
    r.add_argument("midi", metavar="IN.mid")
    r.add_argument("-o", "--out", required=True, metavar="OUT.wav")
    r.add_argument("--soundfont", metavar="SF2", help=SOUNDFONT_HELP)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_render)

    v = sub.add_parser("va", help="an image's valence/arousal")
    v.add_argument("image")
    v.add_argument("--model-dir")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_va)

    m = sub.add_parser("music-va", help="a MIDI file's valence/arousal (the judge)")
    m.add_argument("midi")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_music_va)

    b = sub.add_parser("bench", help="speed and memory figures")
    b.add_argument("--json", action="store_true")
    b.add_argument("--image", help="image to time (default: the example photo)")
    b.add_argument("--checkpoint", help="PyTorch checkpoint with the same weights (default: runs/main/ckpt.pt if present)")
    b.add_argument("--repeats", type=int, default=5)
    b.set_defaults(func=cmd_bench)


SOUNDFONT_HELP = ("SoundFont (.sf2/.sf3) to play the notes with (default: $SYNESTHETE_SOUNDFONT, else the "
                  "system's General MIDI SoundFont, e.g. Debian's fluid-soundfont-gm)")


def load_runtime(args):
    from ..generation.runtime import Runtime

    return Runtime.load(getattr(args, "model_dir", None))


def check_image_path(p: str) -> None:
    if not Path(p).exists():
        raise UsageError(f"{one_line(p)}: no such file")


def chords_from_clip(args):
    """``args`` with ``--chords-from``'s progression as its ``--chords`` (one line if both are given)."""
    if not getattr(args, "chords_from", None):
        return args
    if args.chords:
        raise UsageError("--chords and --chords-from both give the chords: use one")
    from ..music.chords import progression_from_midi

    args.chords = progression_from_midi(args.chords_from)
    return args


def cmd_generate(args) -> int:
    if args.change and not args.revise:
        raise UsageError("--change needs --revise PIECE.mid (the piece whose bars it rewrites)")
    if args.revise:
        return cmd_revise(args)
    images = list(args.image)
    others = images + ([args.prime] if args.prime else []) + ([args.chords_from] if args.chords_from else [])
    soundfont = None
    if args.wav:
        from ..files.audio import Synth, find_soundfont

        soundfont = find_soundfont(args.soundfont)  # an input too: neither output may replace it
        others = others + [soundfont]
    # before any work: never the picture, the phrase, the SoundFont, the model's files, a FIFO or a device
    out = check_output_path(args.out, inputs=others, model_dir=args.model_dir)
    wav = None
    if args.wav:
        wav = check_output_path(args.wav, inputs=others + [args.out], model_dir=args.model_dir)
        Synth(soundfont).close()  # no SoundFont or synth: say so before the model runs
    for p in images:
        check_image_path(p)
    if args.include_prime and not args.prime:
        raise UsageError("--include-prime needs --prime PHRASE.mid")
    va = override_va(args)
    if va is not None and len(images) > 1:
        raise UsageError("several pictures make their own arc: leave out --valence/--arousal (or give --arc)")
    settings = settings_from(chords_from_clip(args))
    if len(images) > 1:
        check_sections(len(images), settings.bars)  # before any picture is read
    primer = None
    if args.prime:
        from ..music.primer import primer_from_midi

        primer = primer_from_midi(args.prime)
    rt = load_runtime(args)
    encs = [rt.encode(p) for p in images]
    plan = rt.plan(settings, encs, va=va, primer=primer, include_primer=args.include_prime)
    settings, piece = plan.settings, rt.piece(plan)
    path = piece.write(out)
    # aim_va: what the music was composed for — the target scaled by --intensity (default 1.5)
    obj = {"path": str(path), "image_va": encs[0].va.as_dict(), "target_va": piece.target.as_dict(),
           "intensity": settings.intensity, "aim_va": settings.aim(piece.target).as_dict(), "notes": len(piece.notes),
           "seconds": round(piece.seconds, 3), "bars": settings.bars, "tempo": piece.tempo, "key": piece.key.name, "seed": settings.seed}
    if len(encs) > 1:
        obj["images"] = [{"path": p, **e.va.as_dict()} for p, e in zip(images, encs)]
    if settings.arc:
        obj["arc"] = [p.as_dict() for p in settings.arc]
    if primer is not None:
        obj["prime"] = {"path": args.prime, "key": primer.key.name, "tempo": primer.tempo, "bars": primer.bars}
    if settings.chords:
        obj["chords"] = settings.chords
    t, i = piece.target, encs[0].va
    also = ""
    if wav is not None:
        obj["wav"] = str(piece.render(wav, soundfont))
        also = f" and {obj['wav']}"
    emit(args, obj, f"wrote {path}{also}: {len(piece.notes)} notes, {settings.bars} bars at {piece.tempo:g} BPM in {piece.key.name} "
         f"(image VA {i.valence:+.2f}/{i.arousal:+.2f}, target {t.valence:+.2f}/{t.arousal:+.2f}, {t.mood})")
    return 0


def cmd_revise(args) -> int:
    """``generate IMAGE --revise PIECE.mid --change 5-6 -o OUT.mid``: new bars 5-6 in the picture's mood."""
    from ..events import MAX_TEMPO, MIN_TEMPO, NoteEvent
    from ..files.midi_edit import splice_notes
    from ..files.midi_io import read_midi
    from ..generation.revise import parse_change, piece_bars
    from ..music.chords import per_bar

    images = list(args.image)
    if not args.change:
        raise UsageError("--revise needs --change FIRST-LAST: the bars to rewrite, e.g. --change 5-6")
    for flag, given in (("--prime", args.prime), ("--include-prime", args.include_prime), ("--wav", args.wav)):
        if given:
            raise UsageError(f"{flag} does not go with --revise")
    if len(images) > 1:
        raise UsageError("--revise takes one picture: its emotion is the new bars'")
    inputs = images + [args.revise] + ([args.chords_from] if args.chords_from else [])
    out = check_output_path(args.out, inputs=inputs, model_dir=args.model_dir)
    check_image_path(images[0])
    va = override_va(args)
    if not args.chords and not args.chords_from:
        # a piece Synesthete wrote over a progression keeps it: the new bars follow its chords there
        from ..files.midi_io import stored_settings

        from ..music.chords import parse_progression

        stored = stored_settings(args.revise).get("chords")
        try:
            if isinstance(stored, str) and stored.strip() and parse_progression(stored):
                args.chords = stored
        except UsageError:
            pass  # a damaged or foreign value: the file is rewritten in the model's own harmony
    settings = settings_from(chords_from_clip(args))
    piece = read_midi(args.revise)
    name = Path(args.revise).name
    odd = [(n, d) for _, n, d in piece.time_signatures if (n, d) != (4, 4)]
    if odd:
        raise UsageError(f"{one_line(name)}: is in {odd[0][0]}/{odd[0][1]}; Synesthete rewrites bars of 4/4 pieces only")
    notes = [NoteEvent(n.pitch, n.velocity, n.start_beat, n.end_beat - n.start_beat) for n in piece.notes]
    if not notes:
        raise UsageError(f"{one_line(name)}: has no notes to rewrite")
    first, last = parse_change(args.change, piece_bars(notes))
    rt = load_runtime(args)
    enc = rt.encode(images[0])
    tempo = min(MAX_TEMPO, max(MIN_TEMPO, float(round(piece.tempos[0][1], 2)))) if piece.tempos else None
    rev = rt.revise(settings, [enc], notes, first, last, va=va, tempo=tempo)
    lo, hi = rev.span
    path = splice_notes(args.revise, out, lo, hi, rev.new, inputs=inputs)
    held = [c for c in per_bar(rev.chords)]
    chords = " ".join(c.name for c in held) if any(not c.is_none for c in held) else None
    obj = {"path": str(path), "revised": args.revise, "bars": [first, last], "new_notes": len(rev.new),
           "kept_notes": len(rev.notes) - len(rev.new), "key": rev.key.name, "chords": chords, "seed": settings.seed}
    over = f" over {chords}" if chords else ""
    emit(args, obj, f"wrote {path}: bars {first}-{last} of {name} rewritten ({len(rev.new)} new notes{over}, "
         f"{obj['kept_notes']} kept as they were)")
    return 0


def cmd_render(args) -> int:
    from ..files.audio import render_midi

    path, seconds = render_midi(args.midi, args.out, args.soundfont)
    emit(args, {"path": str(path), "seconds": round(seconds, 3)}, f"wrote {path}: {seconds:.2f} s of audio")
    return 0


def cmd_va(args) -> int:
    check_image_path(args.image)
    va = load_runtime(args).image_va(args.image)
    obj = {**va.as_dict(), "quadrant": va.quadrant}
    emit(args, obj, f"valence {va.valence:+.3f}  arousal {va.arousal:+.3f}  quadrant Q{va.quadrant} ({va.mood})")
    return 0


def cmd_music_va(args) -> int:
    from ..events import QUADRANT_NAMES, NoteEvent
    from ..music.judge import Judge
    from ..files.midi_io import read_midi

    piece = read_midi(args.midi)
    notes = [NoteEvent(n.pitch, n.velocity, n.start_beat, n.end_beat - n.start_beat) for n in piece.notes]
    v = Judge.load().verdict(notes)
    emit(args, v, f"valence {v['valence']:+.3f}  arousal {v['arousal']:+.3f}  quadrant Q{v['quadrant']} ({QUADRANT_NAMES[v['quadrant']]})")
    return 0


def cmd_bench(args) -> int:
    from ..bench import run

    return run(args)
