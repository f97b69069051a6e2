#!/usr/bin/env bash
# The README's first command, as a new user runs it, on every Python this machine has within
# requires-python (3.11-3.14): a fresh venv, `pip install .` (no extras, no constraints: the
# newest releases within pyproject.toml's ranges, as a user gets them today), then
# `synesthete generate` on the example photo. Prints the seconds each Python took. Then the wheel
# check (scripts/check_wheels.py) for the Pythons and platforms this machine cannot run.
#   bash scripts/check_install.sh                 # both
#   bash scripts/check_install.sh --no-wheels     # the installs only
#   bash scripts/check_install.sh --wheels-only   # the wheel check only
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
case $mode in all|--no-wheels|--wheels-only) ;; *) echo "usage: $0 [--no-wheels|--wheels-only]" >&2; exit 2 ;; esac

# every venv lives in one scratch folder that goes on any exit: a full venv is ~750 MB, and
# leftovers from earlier runs once filled the disk under a later CI
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# an interpreter of exactly version $1: on PATH, or a pyenv version not selected (its shim
# refuses to run then), or the system's
find_python() {
    local v=$1 c
    for c in "python$v" "/usr/bin/python$v" "/usr/local/bin/python$v" \
             "${PYENV_ROOT:-${HOME:-/root}/.pyenv}"/versions/"$v".*/bin/"python$v"; do
        if "$c" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] != '$v')" >/dev/null 2>&1; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

summary=()
tried=0
pythons="3.11 3.12 3.13 3.14"
[ "$mode" = --wheels-only ] && pythons=""
for v in $pythons; do
    if ! py=$(find_python "$v"); then
        summary+=("Python $v: not on this machine (scripts/check_wheels.py covers it)")
        continue
    fi
    tried=$((tried + 1))
    venv=$scratch/venv$v
    out=$scratch/coffee-$v.mid
    echo "== Python $v ($py): fresh venv, pip install ., synesthete generate"
    start=$(date +%s.%N)
    # the README's first command, the venv and the output in the scratch folder
    "$py" -m venv "$venv"
    "$venv/bin/pip" install -q --no-cache-dir .
    "$venv/bin/synesthete" generate examples/coffee.jpg -o "$out"
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
    if "$venv/bin/python" -c "import torch" 2>/dev/null; then
        echo "FAIL: the base install pulled in torch (Python $v)" >&2
        exit 1
    fi
    "$venv/bin/synesthete" music-va "$out" --json
    if "$venv/bin/python" -c "import rtmidi" 2>/dev/null; then
        live="live MIDI ready (python-rtmidi wheel)"
    else
        # no python-rtmidi wheel for this Python: the live commands must say how to get it
        set +e
        msg=$("$venv/bin/synesthete" ports 2>&1 >/dev/null)
        set -e
        if ! grep -q "pip install python-rtmidi" <<<"$msg"; then
            echo "FAIL: without python-rtmidi, 'synesthete ports' does not say how to get it: $msg" >&2
            exit 1
        fi
        live="live MIDI needs python-rtmidi built from source; 'synesthete ports' says: ${msg#error: }"
    fi
    pkgs=$("$venv/bin/python" - <<'EOF'
from importlib.metadata import PackageNotFoundError, version
found = []
for name in ("numpy", "pillow", "onnxruntime-gpu", "onnxruntime", "PyQt6", "mido", "python-rtmidi"):
    try:
        found.append(f"{name} {version(name)}")
    except PackageNotFoundError:
        pass
print(", ".join(found))
EOF
)
    size=$(du -sm "$venv" | cut -f1)
    summary+=("Python $v: README's first command OK in ${secs}s, venv ${size} MB ($pkgs); $live")
    rm -rf "$venv"  # free its ~750 MB before the next
done

if [ "$mode" != --wheels-only ]; then
    echo "== install check"
    printf '%s\n' "${summary[@]}"
    if [ "$tried" = 0 ]; then
        echo "FAIL: no Python within requires-python on this machine" >&2
        exit 1
    fi
fi

if [ "$mode" != --no-wheels ]; then
    echo "== wheel check: every runtime dependency a binary wheel, where this machine cannot try"
    # in a venv of its own with a current pip (the machine's pip may be too old to judge
    # requires-python for another Python); it installs nothing else
    python3 -m venv "$scratch/tools"
    "$scratch/tools/bin/pip" install -q --no-cache-dir --upgrade pip
    start=$(date +%s.%N)
    "$scratch/tools/bin/python" scripts/check_wheels.py -v
    echo "wheel check: $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')s"
fi
