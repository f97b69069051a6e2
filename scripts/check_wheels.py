#!/usr/bin/env python3
"""Does `pip install .` need a compiler anywhere we claim it works? For each target this machine
cannot run (another Python, macOS, Windows), resolve the project's runtime dependencies, their
own dependencies included, as pip would there, allowing binary wheels only, and name what has
none.

    python3 scripts/check_wheels.py                      # the default targets (.ci/run)
    python3 scripts/check_wheels.py --target 3.13:macos-arm64 --extras link,dev
    python3 scripts/check_wheels.py -c constraints.txt   # the locked versions instead of the newest

It is `pip download --only-binary :all: --python-version V --platform P` without keeping the
downloads: `pip install --dry-run --report` reads each wheel's metadata (from the index where it
serves it apart, PEP 658), so a target takes seconds. pip evaluates environment markers (`sys_platform == 'win32'`) on the machine
it runs on, not the target's: pip runs here with its marker environment set to the target's, and
every resolved package's dependencies are checked against the target's markers once more. Exit 0
when every target resolves to wheels alone; 1 otherwise, each failure named.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from importlib.metadata import version
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name
    from packaging.version import Version
except ImportError:  # a bare interpreter: pip carries its own copy
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]
    from pip._vendor.packaging.version import Version  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
# pip 23.2 judges a release's requires-python by the Python it runs on, not --python-version
# (run on 3.11 it picks numpy 2.4 for 3.14, where 3.14's pip takes numpy 2.5); 24.2 does not
MIN_PIP = "24.2"

# platform name -> (pip --platform tags, marker environment), each the oldest system we claim:
# Linux x86_64 with glibc 2.34 (RHEL 9; Ubuntu 22.04 has 2.35, Debian 12 2.36: PyQt6's wheels are
# manylinux_2_34), Linux aarch64 with glibc 2.39 (Ubuntu 24.04, Debian 13: PyQt6's are 2_39),
# macOS 14 on Apple silicon (onnxruntime's newest macOS wheels are macosx_14_0_arm64), an Intel Mac
# on macOS 13, Windows 10/11 x86_64.
PLATFORMS = {
    "linux-x86_64": (
        [f"manylinux_2_{m}_x86_64" for m in range(34, 4, -1)]
        + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"],
        {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
    ),
    "macos-arm64": (
        [f"macosx_14_0_{a}" for a in ("arm64", "universal2")]
        + [f"macosx_{v}_0_{a}" for v in (13, 12, 11) for a in ("arm64", "universal2")]
        + [f"macosx_10_{v}_universal2" for v in range(16, 8, -1)],
        {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
    ),
    "linux-aarch64": (
        [f"manylinux_2_{m}_aarch64" for m in range(39, 16, -1)] + ["manylinux2014_aarch64", "linux_aarch64"],
        {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix"},
    ),
    "macos-x86_64": (  # an Intel Mac on macOS 13 or later
        [f"macosx_{v}_0_{a}" for v in (13, 12, 11) for a in ("x86_64", "universal2", "intel")]
        + [f"macosx_10_{v}_{a}" for v in range(16, 8, -1) for a in ("x86_64", "universal2", "intel")],
        {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64", "os_name": "posix"},
    ),
    "windows-x86_64": (
        ["win_amd64"],
        {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
    ),
}
# what this machine cannot run: the Python it lacks on Linux, every Python on the other two
DEFAULT_TARGETS = ["3.14:linux-x86_64"] + [
    f"3.{m}:{p}" for p in ("macos-arm64", "windows-x86_64") for m in (11, 12, 13, 14)]


def marker_env(py: str, platform: str) -> dict[str, str]:
    env = dict(PLATFORMS[platform][1])
    env.update(python_version=py, python_full_version=f"{py}.0", implementation_name="cpython",
               platform_python_implementation="CPython", implementation_version=f"{py}.0",
               platform_release="", platform_version="")
    return env


def applies(req: Requirement, env: dict[str, str], extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**env, "extra": e}) for e in (extras or {""}) | {""})


def plain(req: Requirement) -> str:
    """The requirement without its marker (already evaluated for the target)."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"


def project_requirements(extras: list[str]) -> tuple[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return project.get("requires-python", ""), reqs


# pip, with every environment marker evaluated for the target instead of this machine: pip's
# copy of packaging looks the environment up in markers.default_environment() at each evaluation.
RUN_PIP_AS_TARGET = """
import json, sys
from pip._vendor.packaging import markers
target = json.loads(sys.argv.pop(1))
if not callable(getattr(markers, "default_environment", None)):
    sys.exit("check_wheels: this pip's packaging has no default_environment() to set the target's markers")
markers.default_environment = lambda: dict(target)
from pip._internal.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def resolve(py: str, platform: str, reqs: list[str], constraints: list[str]) -> tuple[dict | None, str]:
    """pip's resolution for the target, wheels only, nothing downloaded but metadata."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-c", RUN_PIP_AS_TARGET, json.dumps(marker_env(py, platform)), "install", "--dry-run", "--ignore-installed", "--quiet",
               "--no-input", "--target", str(Path(tmp) / "t"), "--only-binary", ":all:",
               "--implementation", "cp", "--python-version", py, "--report", str(report)]
        for tag in PLATFORMS[platform][0]:
            cmd += ["--platform", tag]
        for c in constraints:
            cmd += ["-c", c]
        run = subprocess.run(cmd + reqs, capture_output=True, text=True,
                             env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        errors = "\n".join(line for line in run.stderr.splitlines()
                           if line.startswith("ERROR") or "requires a different Python" in line)
        if run.returncode != 0:
            return None, errors or run.stderr.strip()[-2000:]
        return json.loads(report.read_text()), ""


def check(py: str, platform: str, extras: list[str], constraints: list[str]) -> tuple[bool, str]:
    requires_python, project = project_requirements(extras)
    if requires_python and not SpecifierSet(requires_python).contains(f"{py}.0"):
        return False, f"outside requires-python {requires_python}"
    env = marker_env(py, platform)
    wanted = [plain(r) for r in project if applies(r, env, set())]
    for _ in range(5):
        report, errors = resolve(py, platform, wanted, constraints)
        if report is None:
            missing = re.findall(r"No matching distribution found for (\S+)", errors)
            return False, ("no wheel: " + ", ".join(missing)) if missing else errors
        items = report["install"]
        have = {canonicalize_name(i["metadata"]["name"]) for i in items}
        # what the target needs and pip left out: none, unless its markers were not the target's
        extra_needs = []
        for item in items:
            asked = {e for r in map(Requirement, wanted) for e in r.extras
                     if canonicalize_name(r.name) == canonicalize_name(item["metadata"]["name"])}
            for spec in item["metadata"].get("requires_dist") or []:
                dep = Requirement(spec)
                if applies(dep, env, asked) and canonicalize_name(dep.name) not in have:
                    extra_needs.append(plain(dep))
        if not extra_needs:
            wheels = sorted(i["download_info"]["url"].rsplit("/", 1)[-1] for i in items)
            sdists = [w for w in wheels if not w.endswith(".whl")]
            if sdists:
                return False, "not a wheel: " + ", ".join(sdists)
            return True, f"{len(wheels)} wheels: " + ", ".join(
                f"{i['metadata']['name']} {i['metadata']['version']}" for i in items)
        wanted += sorted(set(extra_needs))
    return False, "markers did not settle after 5 rounds: " + ", ".join(wanted)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", action="append",
                    help=f"PY:PLATFORM, PLATFORM one of {', '.join(PLATFORMS)} (default: {' '.join(DEFAULT_TARGETS)})")
    ap.add_argument("--extras", default="", help="comma-separated extras to include (train, link, dev)")
    ap.add_argument("-c", "--constraint", action="append", default=[], help="a constraints file, as pip's -c")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the wheels of every target")
    args = ap.parse_args(argv)
    if Version(version("pip")) < Version(MIN_PIP):
        ap.error(f"needs pip >= {MIN_PIP} (this is {version('pip')}): {sys.executable} -m pip install -U pip, "
                 "or run it in a venv with a newer pip (scripts/check_install.sh makes one)")
    extras = [e for e in args.extras.split(",") if e]
    failed = 0
    for target in args.target or DEFAULT_TARGETS:
        py, _, platform = target.partition(":")
        if platform not in PLATFORMS or not re.fullmatch(r"3\.\d+", py):
            ap.error(f"bad target {target!r}: PY:PLATFORM, e.g. 3.14:windows-x86_64")
        ok, detail = check(py, platform, extras, args.constraint)
        failed += not ok
        summary = detail if (args.verbose or not ok) else detail.split(":", 1)[0]
        print(f"{'ok  ' if ok else 'FAIL'} Python {py} {platform}{' [' + ','.join(extras) + ']' if extras else ''}: {summary}",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
