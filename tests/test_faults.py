"""Faults: killed training resumes to the same weights, a full disk or unwritable place loses nothing."""
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.events import NoteEvent
from engine.files.midi_io import MidiError, read_midi, write_midi
from model_fixture import TINY

REPO = Path(__file__).resolve().parent.parent


def _train_cmd(tiny_run, out, *extra):
    return [sys.executable, "-m", "engine.training.train", "--data", str(tiny_run.data), "--out", str(out), "--epochs", "2",
            "--estimator", str(tiny_run.estimator), *TINY, *extra]


def _env(tiny_run):
    return {**os.environ, "SYNESTHETE_CACHE": str(tiny_run.root / "cache"), "OMP_NUM_THREADS": "1"}


def _wait_for_checkpoint(proc, ckpt, timeout=120):
    t0 = time.time()
    while not ckpt.exists():
        if proc.poll() is not None or time.time() - t0 > timeout:
            pytest.fail(f"no checkpoint appeared (rc={proc.poll()})")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sigkill_mid_epoch_then_resume_reaches_the_uninterrupted_weights(tiny_run, tmp_path):
    torch = pytest.importorskip("torch")
    from engine.training.train import load_state

    ref = tmp_path / "ref"
    assert subprocess.run(_train_cmd(tiny_run, ref), env=_env(tiny_run), capture_output=True, timeout=300).returncode == 0
    run = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(tiny_run, run, "--ckpt-every", "1", "--step-delay", "1.0"), env=_env(tiny_run),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_checkpoint(proc, run / "ckpt.pt")
    time.sleep(0.5)  # inside the next step, between checkpoints
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert not (run / "DONE").exists()
    assert load_state(run / "ckpt.pt")["global_step"] < 6  # 2 epochs x 3 steps: it really was cut short
    r = subprocess.run([sys.executable, "-m", "engine.training.train", "--out", str(run), "--resume", "--data", str(tiny_run.data),
                        "--estimator", str(tiny_run.estimator), "--threads", "1"], env=_env(tiny_run), capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    a, b = load_state(ref / "ckpt.pt")["model"], load_state(run / "ckpt.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # bitwise


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigterm_during_training_checkpoints_and_exits_cleanly(tiny_run, tmp_path):
    from engine.training.train import load_state

    run = tmp_path / "term"
    proc = subprocess.Popen(_train_cmd(tiny_run, run, "--ckpt-every", "1", "--step-delay", "1.0"), env=_env(tiny_run),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(proc, run / "ckpt.pt")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err
    assert "stopped at epoch" in err
    assert load_state(run / "ckpt.pt")["global_step"] >= 1 and not (run / "DONE").exists()


def test_a_full_disk_while_writing_a_midi_keeps_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "take.mid"
    write_midi([NoteEvent(60, 90, 0.0, 1.0)], out, tempo=100)
    before = out.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        write_midi([NoteEvent(62, 90, 0.0, 2.0)], out, tempo=120)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["take.mid"]  # no temp file left


def test_a_full_disk_while_checkpointing_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from engine.training.train import atomic_save, load_state

    ck = tmp_path / "ckpt.pt"
    atomic_save({"x": torch.ones(3)}, ck)
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OSError):
        atomic_save({"x": torch.zeros(3)}, ck)
    assert torch.equal(load_state(ck)["x"], torch.ones(3))


def test_an_unwritable_destination_is_one_line_and_no_file():
    r = subprocess.run([sys.executable, "-m", "engine.cli", "generate", str(REPO / "examples" / "coffee.jpg"), "-o", "/proc/synesthete.mid"],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode in (1, 2) and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1
    assert not Path("/proc/synesthete.mid").exists()


def test_a_huge_midi_file_is_refused_before_reading(tmp_path):
    p = tmp_path / "huge.mid"
    with open(p, "wb") as fh:
        fh.write(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0")
        fh.truncate(17 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(MidiError, match="too large"):
        read_midi(p)
