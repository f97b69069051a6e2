#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian/Ubuntu machine and run them.
#   - Debian packages (JACK for real MIDI ports, Xvfb/xcb libraries for Qt) when run as root
#   - a virtual environment .venv with the pinned Python packages ([train,dev,link] extras): the
#     versions in constraints.txt (the ranges are in pyproject.toml), on python3 = 3.11 here
#   - pytest over tests/
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=$(for p in $(cat scripts/apt-packages.txt); do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
    if [ -n "$missing" ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q --no-cache-dir -c constraints.txt -e ".[train,dev,link]"
bash scripts/install-weights.sh
export QT_QPA_PLATFORM=offscreen
exec python -m pytest -q -p no:cacheprovider "$@"
