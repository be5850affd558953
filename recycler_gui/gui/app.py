"""The ``prompt-recycler-gui`` entry point: the application object, its icon, and a global error hook."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import QApplication, QWidget

from .. import __version__
from .errors import APP_TITLE, show_error


def install_exception_hook(parent: QWidget) -> None:
    """Show any uncaught exception as a dialog (and log its traceback) instead of letting the app die."""

    def hook(kind: type[BaseException], error: BaseException, traceback: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        show_error(parent, error.with_traceback(traceback))

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    """Open the window; ``--version`` prints the version instead."""
    parser = argparse.ArgumentParser(prog="prompt-recycler-gui", description=f"Open the {APP_TITLE} window.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="open with the demo filled in: a shipped SmolLM2 prompt recycled to Gemma; press Run")
    args, qt_args = parser.parse_known_args(argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName(APP_TITLE)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("prompt-recycler")

    from .main_window import MainWindow
    from .resources import app_icon

    app.setWindowIcon(app_icon())
    window = MainWindow()
    install_exception_hook(window)
    window.show()
    if args.demo:
        window.load_demo()
    return app.exec()
