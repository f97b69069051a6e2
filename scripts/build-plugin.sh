#!/usr/bin/env bash
# Build the Synesthete plugin (LV2, VST3, CLAP) from plugin/ with DPF; optionally install it.
#
#   bash scripts/build-plugin.sh              # build into build/plugin/bin/
#   bash scripts/build-plugin.sh --install    # and copy to ~/.lv2, ~/.vst3, ~/.clap; tell the plugin
#                                             # where `synesthete` is (synesthete serve --register)
#   bash scripts/build-plugin.sh --clean      # remove build/plugin first
#
# Linux (Debian/Ubuntu): as root it installs what it needs with apt (dpf-source: DPF 1.6, ISC
# licence; g++, make), as scripts/test.sh does. Elsewhere give a DPF checkout:
#   git clone --recursive https://github.com/DISTRHO/DPF build/dpf && DPF_PATH=build/dpf bash scripts/build-plugin.sh
# macOS (Xcode command line tools) and Windows (MSYS2/MinGW: make WINDOWS=true) use the same
# Makefile; neither is built or tested in this project yet (docs/PLUGIN.md).
set -euo pipefail
cd "$(dirname "$0")/.."

install=0
for arg in "$@"; do
    case "$arg" in
        --install) install=1 ;;
        --clean) rm -rf build/plugin ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown option $arg" >&2; exit 2 ;;
    esac
done

if [ -z "${DPF_PATH:-}" ]; then
    DPF_PATH=/usr/share/dpf
    if [ ! -f "$DPF_PATH/Makefile.plugins.mk" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        missing=$(for p in dpf-source g++ make; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
        if [ -n "$missing" ]; then
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            # shellcheck disable=SC2086
            apt-get install -y -qq --no-install-recommends $missing >/dev/null
        fi
    fi
fi
if [ ! -f "$DPF_PATH/Makefile.plugins.mk" ]; then
    echo "DPF not found at $DPF_PATH: apt install dpf-source, or set DPF_PATH to a DPF checkout" >&2
    exit 1
fi
DPF_PATH=$(cd "$DPF_PATH" && pwd)

out=$PWD/build/plugin
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
make -C plugin -j"$jobs" DPF_PATH="$DPF_PATH" DPF_TARGET_DIR="$out/bin" DPF_BUILD_DIR="$out/obj" all

# The LV2 bundle describes itself in Turtle, generated from the built plugin by DPF's tool.
case "$(uname -s)" in
    Darwin) ext=dylib ;;
    MINGW*|MSYS*|CYGWIN*) ext=dll ;;
    *) ext=so ;;
esac
gen="$out/lv2_ttl_generator"
if [ ! -x "$gen" ] || [ "$DPF_PATH/utils/lv2-ttl-generator/lv2_ttl_generator.c" -nt "$gen" ]; then
    ${CC:-cc} -O2 "$DPF_PATH/utils/lv2-ttl-generator/lv2_ttl_generator.c" -o "$gen" -ldl
fi
(cd "$out/bin/Synesthete.lv2" && "$gen" "./Synesthete.$ext" >/dev/null)

echo "built:"
echo "  $out/bin/Synesthete.lv2"
echo "  $out/bin/Synesthete.vst3"
echo "  $out/bin/Synesthete.clap"

if [ "$install" = 1 ]; then
    case "$(uname -s)" in
        Darwin) lv2=~/Library/Audio/Plug-Ins/LV2; vst3=~/Library/Audio/Plug-Ins/VST3; clap=~/Library/Audio/Plug-Ins/CLAP ;;
        *) lv2=~/.lv2; vst3=~/.vst3; clap=~/.clap ;;
    esac
    mkdir -p "$lv2" "$vst3" "$clap"
    rm -rf "$lv2/Synesthete.lv2" "$vst3/Synesthete.vst3" "$clap/Synesthete.clap"
    cp -R "$out/bin/Synesthete.lv2" "$lv2/"
    cp -R "$out/bin/Synesthete.vst3" "$vst3/"
    cp -R "$out/bin/Synesthete.clap" "$clap/"
    echo "installed: $lv2/Synesthete.lv2 $vst3/Synesthete.vst3 $clap/Synesthete.clap"
    # The plugin starts the engine itself; tell it which synesthete (this checkout's .venv if any).
    if [ -x .venv/bin/synesthete ]; then
        .venv/bin/synesthete serve --register
    elif command -v synesthete >/dev/null 2>&1; then
        synesthete serve --register
    else
        echo "note: no synesthete found; install it (pip install .) and run: synesthete serve --register" >&2
    fi
fi
