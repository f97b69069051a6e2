"""``synesthete-app [IMAGE]``: the desktop window, optionally opened on a picture."""
from __future__ import annotations

import argparse
import signal
import sys

ORGANIZATION = "Synesthete"
APPLICATION = "Synesthete"


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="synesthete-app",
                                 description="Drop a picture, see its emotion, shape it, hear it in your DAW.")
    ap.add_argument("image", nargs="?", help="a picture to open at start")
    # Qt's own options (-platform, -style …) pass through untouched.
    args, _qt = ap.parse_known_args(argv)
    return args


def make_settings():
    from PyQt6.QtCore import QSettings

    # INI everywhere: one readable file, and tests can redirect it with QSettings.setPath.
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv[1:])

    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .theme import apply_dark_theme

    app = QApplication.instance() or QApplication(argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Synesthete")
    app.setDesktopFileName("synesthete")
    apply_dark_theme(app)
    window = MainWindow(make_settings())
    app.aboutToQuit.connect(window.shutdown)
    # Ctrl+C in the launching terminal closes the window the normal way (note-offs included);
    # the timer lets Python's handler run while Qt's event loop is in C.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    ticker = QTimer()
    ticker.start(200)
    ticker.timeout.connect(lambda: None)
    window.show()
    if args.image:
        window.open_path(args.image)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
