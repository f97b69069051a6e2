"""Take docs/screenshot.png of the real window under Xvfb.

    python scripts/screenshot.py [--out docs/screenshot.png] [--image examples/coffee.jpg]
    python scripts/screenshot.py --preview --out docs/screenshot_preview.png   # during Preview
    python scripts/screenshot.py --arc="-0.7,-0.7;0.2,-0.1;0.7,0.7" --bars 8 --out docs/screenshot_arc.png

Needs xvfb-run (apt-get install -y $(cat scripts/apt-packages.txt)); without a display the
script re-runs itself under it. It opens the picture, moves the target a little toward calm
(as a user shaping the mood would), generates two variations, selects the best and grabs
the window. Settings go to a throwaway directory so a developer's own choices never leak in.
With ``--preview`` it presses Preview and grabs the window with the playhead mid-piece; the
audio goes to a sink that only keeps time (this machine has no sound card).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1280, 820)


class TimeKeepingSink:
    """An audio output that plays nowhere but keeps real time, so the playhead moves."""

    def play(self, frames, sample_rate):
        self.n, self.rate, self.t0 = len(frames), sample_rate, time.monotonic()

    def position(self):
        return min(self.n, int((time.monotonic() - self.t0) * self.rate))

    def active(self):
        return self.position() < self.n

    def stop(self):
        self.n = 0


def under_xvfb() -> int:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        sys.exit("xvfb-run not found: apt-get install -y $(cat scripts/apt-packages.txt)")
    env = {**os.environ, "SYNESTHETE_SCREENSHOT_CHILD": "1", "QT_QPA_PLATFORM": "xcb"}
    cmd = [xvfb, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, __file__, *sys.argv[1:]]
    return subprocess.call(cmd, env=env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    ap.add_argument("--image", default=str(ROOT / "examples" / "coffee.jpg"))
    ap.add_argument("--target", nargs=2, type=float, metavar=("V", "A"), default=(0.45, -0.35),
                    help="the target VA to drag to (default: a calm point)")
    ap.add_argument("--preview", action="store_true", help="grab the window during Preview, playhead mid-piece")
    ap.add_argument("--bars", type=int, default=4)
    ap.add_argument("--arc", metavar="V,A;V,A;...", help="draw this emotion arc on the plane before generating")
    args = ap.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("SYNESTHETE_SCREENSHOT_CHILD"):
        return under_xvfb()
    sys.path.insert(0, str(ROOT))

    from PyQt6.QtCore import QEventLoop, QSettings
    from PyQt6.QtWidgets import QApplication

    from desktop.app import APPLICATION, ORGANIZATION, make_settings
    from desktop.main_window import MainWindow
    from desktop.theme import apply_dark_theme
    from engine.events import VA

    config = tempfile.mkdtemp(prefix="synesthete-shot-")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, config)
    app = QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    apply_dark_theme(app)
    w = MainWindow(make_settings(), audio_sink=TimeKeepingSink() if args.preview else None)
    w.resize(*SIZE)
    w.show()

    def pump(until, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                sys.exit(f"timed out waiting for {what}")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    pump(lambda: w._runtime_ok, 30, "the model")
    w.open_path(args.image)
    pump(lambda: w.emotion.image_va is not None, 30, "the picture")
    w.emotion.set_user_target(VA(*args.target))  # what a drag on the plane does
    if args.arc:  # what Draw arc and a drag on the plane do
        from engine.settings import parse_arc

        arc = parse_arc(args.arc)
        w.emotion.arc_button.setChecked(True)
        w.emotion.plane.set_arc(arc)
        w.emotion._arc_drawn(arc)
    w.generation.bars.setValue(args.bars)
    w.generation.n_variations.setValue(2)
    w.generation.seed.setValue(42)
    w.generate()
    pump(lambda: not w.generating(), 60, "generation")
    w.results.list.setCurrentRow(0)  # the best fit
    w.statusBar().clearMessage()
    if args.preview:
        w.preview()
        pump(lambda: (w.results.roll.playhead() or 0) > 6.0, 30, "the preview's playhead")
    for _ in range(20):  # let layouts settle and the last paints land
        app.processEvents()
        time.sleep(0.02)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not w.grab().save(str(out), "PNG"):
        sys.exit(f"could not write {out}")
    print(f"wrote {out} ({w.width()}x{w.height()}, platform {app.platformName()})")
    w.close()
    shutil.rmtree(config, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
