"""The plugin builds, in its three formats, from one source (scripts/build-plugin.sh, DPF), and
what each binary declares is what hosts need; the audio thread's half passes its unit test
(plugin/tests/player_test.cpp: exact frames through tempo changes as hosts report them,
relocations, stop, no allocation). Skipped where DPF or a C++ compiler is missing."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "plugin" / "bin"
DPF = Path(os.environ.get("DPF_PATH", "/usr/share/dpf"))

needs_tools = pytest.mark.skipif(not (DPF / "Makefile.plugins.mk").exists() or shutil.which("g++") is None
                                 or shutil.which("make") is None,
                                 reason="DPF (apt-get install dpf-source), g++ or make is missing")


@pytest.fixture(scope="module")
def built():
    r = subprocess.run(["bash", str(ROOT / "scripts" / "build-plugin.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r.stdout


def _exports(lib: Path) -> set[str]:
    r = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in r.stdout.splitlines() if line.strip()}


@needs_tools
@pytest.mark.slow
def test_three_formats_from_one_source(built):
    lv2 = OUT / "Synesthete.lv2"
    vst3 = OUT / "Synesthete.vst3" / "Contents" / "x86_64-linux" / "Synesthete.so"
    clap = OUT / "Synesthete.clap"
    for path in (lv2 / "Synesthete.so", lv2 / "manifest.ttl", lv2 / "Synesthete.ttl", vst3, clap):
        assert path.exists(), path
    assert "lv2_descriptor" in _exports(lv2 / "Synesthete.so")
    assert "GetPluginFactory" in _exports(vst3)
    assert "clap_entry" in _exports(clap)
    for lib in (lv2 / "Synesthete.so", vst3, clap):           # nothing of ours leaks into the host's namespace
        assert not any("synesthete" in s.lower() for s in _exports(lib))


@needs_tools
@pytest.mark.slow
def test_the_lv2_description_is_a_midi_generator_with_its_parameters_and_picture(built):
    ttl = (OUT / "Synesthete.lv2" / "Synesthete.ttl").read_text()
    assert "lv2:MIDIPlugin" in ttl
    assert "midi:MidiEvent" in ttl and "http://lv2plug.in/ns/ext/time#Position" in ttl
    for symbol in ("valence", "arousal", "intensity", "variety", "spread", "humanize", "bars", "seed", "key", "loop",
                   "play_on_transport", "status", "bar", "picture_valence", "picture_arousal"):
        assert f'lv2:symbol "{symbol}"' in ttl, symbol
    assert "patch:writable <urn:synesthete:plugin#picture>" in ttl and "atom:Path" in ttl
    assert "hardRTCapable" in ttl                                # the audio callback is real-time safe
    if shutil.which("lv2info"):                               # lilv reads it as hosts do
        env = {**os.environ, "LV2_PATH": str(OUT)}
        r = subprocess.run(["lv2info", "urn:synesthete:plugin"], env=env, capture_output=True, text=True)
        assert r.returncode == 0 and "Synesthete" in r.stdout, r.stderr[-1000:]


@needs_tools
def test_the_audio_threads_half(tmp_path):
    exe = tmp_path / "player_test"
    subprocess.run(["g++", "-std=c++17", "-O2", "-Wall", "-Werror", "-I", str(ROOT / "plugin"),
                    str(ROOT / "plugin" / "tests" / "player_test.cpp"), "-o", str(exe)], check=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]
    assert r.stdout.strip().endswith("ok (0 failures)")
