"""Ardour 7, headless, as the host of the Synesthete LV2 plugin: the host test's driver.

    host = ArdourHost(tmp_path, bundle="build/plugin/bin/Synesthete.lv2")
    take = host.run(tracks=[{"name": "Syn", "preset": "coffee", "record": True}],
                    actions=[["roll"], ["until", 4 * 96000], ["stop"]])
    take.notes(1)          # (onset sample, release sample, pitch, velocity), as the plugin wrote them
    take.recorded(1)       # what Ardour recorded on the track fed by the plugin, in beats

``ardour7-lua`` (Debian's ardour package) runs ``take.lua`` on Ardour's Dummy backend (hidden in
the GUI; shown here through a private config), with a private ``XDG_CONFIG_HOME`` holding the
logger script and a private ``LV2_PATH`` holding the plugin and test presets, so a user's Ardour
setup and plugins are never read. Nothing here needs JACK.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ARDOUR_LUA = shutil.which("ardour7-lua")
RATE = 48000


def lua(value) -> str:
    """A Python value as a Lua literal (dicts with int keys become Lua tables indexed by them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(lua(v) for v in value) + "}"
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            key = f"[{k}]" if isinstance(k, int) else k
            items.append(f"{key} = {lua(v)}")
        return "{" + ", ".join(items) + "}"
    raise TypeError(type(value))


def preset(name: str, *, params: dict | None = None, picture: str | None = None, picture_data: str | None = None) -> str:
    """An LV2 preset for the plugin (Turtle): port values by symbol and, optionally, its state."""
    ports = " , ".join(f'[ lv2:symbol "{k}" ; pset:value {float(v)!r} ]' for k, v in (params or {}).items())
    state = []
    if picture is not None:
        state.append(f"<urn:synesthete:plugin#picture> {json.dumps(picture)}^^atom:Path")
    if picture_data is not None:
        state.append(f"<urn:synesthete:plugin#picture_data> {json.dumps(picture_data)}")
    body = [f'<urn:synesthete:test#{name}> a pset:Preset ; lv2:appliesTo <urn:synesthete:plugin> ; rdfs:label "{name}"']
    if ports:
        body.append(f"  lv2:port {ports}")
    if state:
        body.append(f"  state:state [ {' ; '.join(state)} ]")
    return ("@prefix atom: <http://lv2plug.in/ns/ext/atom#> .\n@prefix lv2: <http://lv2plug.in/ns/lv2core#> .\n"
            "@prefix pset: <http://lv2plug.in/ns/ext/presets#> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
            "@prefix state: <http://lv2plug.in/ns/ext/state#> .\n" + " ;\n".join(body) + " .\n")


@dataclass
class Take:
    lines: list[str]
    stderr: str
    returncode: int
    events: dict[int, list[tuple[int, int, int, int]]] = field(default_factory=dict)
    counted: dict[int, list[tuple[int, int, int, int]]] = field(default_factory=dict)   # on the running count
    recorded_notes: dict[int, list[tuple[float, float, int, int]]] = field(default_factory=dict)
    params: dict[int, dict[int, float]] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, out: str, err: str, rc: int) -> "Take":
        take = cls(out.splitlines(), err, rc)
        for line in take.lines:
            f = line.split()
            if not f:
                continue
            if f[0] == "EV":
                take.events.setdefault(int(f[1]), []).append(tuple(int(float(x)) for x in f[2:6]))
                take.counted.setdefault(int(f[1]), []).append((int(float(f[6])),) + tuple(int(float(x)) for x in f[3:6]))
            elif f[0] == "NOTE":
                take.recorded_notes.setdefault(int(f[1]), []).append(
                    (_beats(f[2]), _beats(f[3]), int(f[4]), int(f[5])))
            elif f[0] == "PARAM":
                take.params.setdefault(int(f[1]), {})[int(f[2])] = float(f[3])
            elif f[0] == "MARK":
                take.marks[f[1]] = int(float(f[2]))
        return take

    @property
    def done(self) -> bool:
        return "DONE" in self.lines

    def notes(self, track: int = 1, clock: str = "transport", played_order: bool = False) -> list[tuple[int, int, int, int]]:
        """(onset, release, pitch, velocity) in samples, paired from the plugin's note-ons and -offs;
        a note never released gets release -1. ``clock``: the transport's samples, or "count" (a
        running count of samples processed, for a transport that stands still). Sorted by onset,
        or with ``played_order`` in the order they sounded (a relocation sends time back)."""
        open_: dict[int, tuple[int, int, int]] = {}
        out = []
        for i, (sample, status, d1, d2) in enumerate((self.events if clock == "transport" else self.counted).get(track, [])):
            kind = status & 0xF0
            if kind == 0x90 and d2 > 0:
                if d1 in open_:
                    s, v, k = open_.pop(d1)
                    out.append((k, (s, sample, d1, v)))
                open_[d1] = (sample, d2, i)
            elif kind == 0x80 or (kind == 0x90 and d2 == 0):
                if d1 in open_:
                    s, v, k = open_.pop(d1)
                    out.append((k, (s, sample, d1, v)))
        out += [(k, (s, -1, p, v)) for p, (s, v, k) in open_.items()]
        if played_order:
            return [n for _, n in sorted(out)]
        return sorted((n for _, n in out), key=lambda n: (n[0], n[2]))

    def recorded(self, track: int = 1) -> list[tuple[float, float, int, int]]:
        return sorted(self.recorded_notes.get(track, []), key=lambda n: (n[0], n[2]))


def _beats(text: str) -> float:
    beats, ticks = text.split(":")
    return int(beats) + int(ticks) / 1920.0


class ArdourHost:
    """A private Ardour setup under ``root``: config (Dummy backend visible, the logger script),
    LV2 path (the plugin bundle, presets) and the sessions."""

    def __init__(self, root: Path, bundle: Path, env: dict | None = None, vst3: Path | None = None) -> None:
        if ARDOUR_LUA is None:
            raise FileNotFoundError("ardour7-lua is not installed (apt-get install ardour)")
        self.root = Path(root)
        self.config = self.root / "config"
        scripts = self.config / "ardour7" / "scripts"
        scripts.mkdir(parents=True, exist_ok=True)
        (self.config / "ardour7" / "config").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<Ardour>\n  <Config>\n'
            '    <Option name="hide-dummy-backend" value="0"/>\n  </Config>\n</Ardour>\n')
        shutil.copy(HERE / "syn_logger.lua", scripts / "syn_logger.lua")
        self.lv2 = self.root / "lv2"
        self.lv2.mkdir(exist_ok=True)
        link = self.lv2 / "Synesthete.lv2"
        if not link.exists():
            link.symlink_to(Path(bundle).resolve())
        self.presets = self.lv2 / "SynestheteTest.preset.lv2"
        self._presets: dict[str, str] = {}
        self.env = {**os.environ, **(env or {}), "LV2_PATH": str(self.lv2), "XDG_CONFIG_HOME": str(self.config)}
        if vst3 is not None:
            self._add_vst3(Path(vst3))

    def _add_vst3(self, bundle: Path) -> None:
        """The VST3 build where Ardour looks (~/.vst3 of a private HOME), indexed by Ardour's own
        scanner (it loads the plugin in a separate process, as Ardour does on a user's machine)."""
        home = self.root / "home"
        (home / ".vst3").mkdir(parents=True, exist_ok=True)
        link = home / ".vst3" / "Synesthete.vst3"
        if not link.exists():
            link.symlink_to(bundle.resolve())
        cache = self.root / "cache"
        self.env.update(HOME=str(home), XDG_CACHE_HOME=str(cache))
        scanner = Path("/usr/lib/ardour7/ardour-vst3-scanner")
        env = {**self.env, "LD_LIBRARY_PATH": "/usr/lib/ardour7"}
        r = subprocess.run([str(scanner), "-f", str(link)], env=env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or "Found Plugin: Synesthete" not in r.stdout + r.stderr:
            raise RuntimeError(f"Ardour's VST3 scanner did not take the plugin: {(r.stdout + r.stderr)[-500:]}")
        self.vst3_scan = r.stdout + r.stderr

    def add_preset(self, name: str, **kwargs) -> None:
        self._presets[name] = preset(name, **kwargs)
        self.presets.mkdir(exist_ok=True)
        (self.presets / f"{name}.ttl").write_text(self._presets[name])
        manifest = ["@prefix lv2: <http://lv2plug.in/ns/lv2core#> .",
                    "@prefix pset: <http://lv2plug.in/ns/ext/presets#> .",
                    "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> ."]
        for n in self._presets:
            manifest.append(f"<urn:synesthete:test#{n}> a pset:Preset ; lv2:appliesTo <urn:synesthete:plugin> ; "
                            f"rdfs:seeAlso <{n}.ttl> .")
        (self.presets / "manifest.ttl").write_text("\n".join(manifest) + "\n")

    def run(self, *, tracks: list[dict], actions: list[list], session: str = "take", load: bool = False,
            tempo: list[tuple[float, float]] | None = None, buffer: int = 256, save: bool = False,
            timeout: float = 240.0, on_mark: Callable[[str], None] | None = None) -> Take:
        cfg = {"dir": str(self.root / "sessions" / session), "name": session, "rate": RATE, "buffer": buffer,
               "load": load, "tracks": tracks, "actions": actions, "tempo": tempo, "save": save,
               "record": any(t.get("record") for t in tracks)}
        script = self.root / f"{session}-{int(time.time() * 1000)}.lua"
        script.write_text(f"CFG = {lua(cfg)}\n" + (HERE / "take.lua").read_text())
        proc = subprocess.Popen([ARDOUR_LUA, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.env, text=True, cwd=self.root)
        out: list[str] = []

        def read_out():
            for line in proc.stdout:
                out.append(line)
                if on_mark is not None and line.startswith("MARK "):
                    on_mark(line.split()[1])

        err: list[str] = []
        threads = [threading.Thread(target=read_out, daemon=True),
                   threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)]
        for t in threads:
            t.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for t in threads:
            t.join(5)
        return Take.parse("".join(out), "".join(err), proc.returncode)
