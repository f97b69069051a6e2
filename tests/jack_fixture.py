"""A private JACK server for the tests: ``jackd --no-realtime -d dummy`` (no sound card).

Session-scoped: started once, under a unique server name so a user's own JACK server is
never touched, and killed at the end. Tests that use it skip only when jackd is not
installed (CI installs jackd2, so there they run).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

RATE, PERIOD = 48000, 128
# Single onsets on a shared 2-CPU VM can be late by 10-30 ms (the OS, JACK); a note on the wrong
# 16th (125 ms at 120 BPM), beat or bar is further off. Single onsets use this; medians tighter bounds.
GRID_MS = 40.0


def _accepts_clients() -> bool:
    import rtmidi
    try:
        probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "fixture-probe")
    except Exception:
        return False
    probe.delete()
    return True


def start_jackd(name: str) -> subprocess.Popen:
    """Start a dummy-backend jackd called ``name`` and return once it accepts clients."""
    jackd = shutil.which("jackd")
    if jackd is None:
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1",
           "JACK_NO_START_SERVER": "1"}
    log = tempfile.TemporaryFile()  # a file, not a pipe: nobody reads it while jackd runs
    proc = subprocess.Popen([jackd, "--no-realtime", "-d", "dummy", "-r", str(RATE), "-p", str(PERIOD)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    proc.log = log
    from engine.live.ports import _jack_quiet  # keep the probe's "cannot connect" lines quiet
    import rtmidi
    saved = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name  # libjack reads it at each client open
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace").strip().splitlines()[-1:]
                pytest.fail(f"jackd exited with {proc.returncode}: {err}")
            with _jack_quiet(rtmidi.API_UNIX_JACK):
                ok = _accepts_clients()
            if ok:
                return proc
            if time.monotonic() > deadline:
                stop_jackd(proc)
                pytest.fail("jackd did not accept clients within 10 s")
            time.sleep(0.1)
    finally:
        if saved is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = saved


def stop_jackd(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.log.close()


@pytest.fixture(scope="session")
def jack_server():
    """Yield ``{"name", "rate", "period", "pid"}`` of a running dummy JACK server."""
    name = f"synesthete-test-{uuid.uuid4().hex[:8]}"
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION",
                                            "JACK_NO_START_SERVER")}
    proc = start_jackd(name)
    # Set in os.environ so libjack in this process and every subprocess picks the same server.
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1")
    try:
        yield {"name": name, "rate": RATE, "period": PERIOD, "pid": proc.pid}
    finally:
        stop_jackd(proc)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
