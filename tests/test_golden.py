"""The redesign contract: a fixed picture, seed and settings give byte-identical ``.mid`` files.

The golden files were first written by ``generate`` before the engine's request/result redesign
(issue 12); a refactoring must keep them coming out byte for byte. They change only on purpose, in
two cases, each regenerated with ``python tests/test_golden.py`` and named in the commit:

* a new shipped model, or a refitted part of it (calibration, VA head, controls). The stamp
  ``golden/MODEL`` names the model and those parts, so the test says "the shipped model changed"
  until the files are regenerated;
* a deliberate change of what the default request plays or writes: the sampling (e.g. the octave
  spread), dynamics, the key rule, the file's metadata. The stamp does not change then; the
  byte comparison fails, and the commit that meant the change regenerates the files.
"""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLE = REPO / "examples" / "coffee.jpg"

# name → generate's flags (besides the picture and -o)
CASES = {
    "default_4bars_seed3": ["--bars", "4", "--seed", "3"],
    "sad_minor_seed11": ["--bars", "3", "--seed", "11", "--valence", "-0.7", "--arousal", "-0.5", "--tempo", "80"],
    "key_d_hot": ["--bars", "2", "--seed", "5", "--key", "D", "--temperature", "1.3", "--top-p", "0.8"],
}


def generate(out: Path, flags: list[str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "engine.cli", "generate", str(EXAMPLE), "-o", str(out), *flags]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)


def shipped_model_id() -> str:
    side = json.loads((REPO / "engine" / "models" / "synesthete.json").read_text())
    # the picture's VA (the calibration and the VA head) and the controls the decoder is asked decide the music
    fitted = [side.get("calibration"), side.get("va_head"), *([side["controls"]] if side.get("controls") else [])]
    calibration = hashlib.sha256(json.dumps(fitted, sort_keys=True).encode()).hexdigest()[:8]
    return "-".join([side["training"]["data_hash"], side["files"]["decoder_step.onnx"]["sha256"][:12],
                     side["files"]["image_encoder.onnx"]["sha256"][:12], calibration])


@pytest.mark.parametrize("name", sorted(CASES))
def test_generate_writes_the_golden_file_byte_for_byte(name, tmp_path):
    golden = GOLDEN / f"{name}.mid"
    stamp = json.loads((GOLDEN / "MODEL").read_text())
    assert stamp == shipped_model_id(), "the shipped model changed: regenerate tests/golden (python tests/test_golden.py)"
    out = tmp_path / "out.mid"
    r = generate(out, CASES[name])
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == golden.read_bytes()


if __name__ == "__main__":  # regenerate the golden files (a new model, or a deliberate change of the default music)
    GOLDEN.mkdir(exist_ok=True)
    for n, f in CASES.items():
        r = generate(GOLDEN / f"{n}.mid", f)
        assert r.returncode == 0, r.stderr
    (GOLDEN / "MODEL").write_text(json.dumps(shipped_model_id()))
    print(f"wrote {len(CASES)} golden files to {GOLDEN}")
