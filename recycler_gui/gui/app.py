"""The ``prompt-recycler-gui`` entry point: the application object, its icon, and a global error hook."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtWidgets import QApplication, QWidget

from .. import __version__
from ..core.errors import RecyclerError
from ..desktop_entry import APP_ID
from .errors import APP_TITLE, show_error


def install_exception_hook(parent: QWidget) -> None:
    """Show any uncaught exception as a dialog (and log its traceback) instead of letting the app die."""

    def hook(kind: type[BaseException], error: BaseException, traceback: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        show_error(parent, error.with_traceback(traceback))

    sys.excepthook = hook


def _desktop_entry(install: bool) -> int:
    from ..desktop_entry import install as install_entry
    from ..desktop_entry import uninstall

    try:
        files = install_entry() if install else uninstall()
    except RecyclerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    verb = "installed" if install else "removed"
    print(f"{verb} {len(files)} files" + "".join(f"\n  {path}" for path in files))
    if install:
        print("Prompt Recycler is now in the application menu (log out and in if it does not show yet).")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Open the window; ``--version`` prints the version instead."""
    parser = argparse.ArgumentParser(prog="prompt-recycler-gui", description=f"Open the {APP_TITLE} window.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="open with the demo filled in: a shipped SmolLM2 prompt recycled to Gemma; press Run")
    entry = parser.add_mutually_exclusive_group()
    entry.add_argument("--install-desktop-entry", action="store_true",
                       help="add Prompt Recycler to this user's application menu (Linux) and exit")
    entry.add_argument("--uninstall-desktop-entry", action="store_true",
                       help="remove it from the application menu again and exit")
    args, qt_args = parser.parse_known_args(argv)
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        return _desktop_entry(args.install_desktop_entry)
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName(APP_TITLE)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)

    from .main_window import MainWindow
    from .resources import app_icon

    app.setWindowIcon(app_icon())
    # Python collects garbage in whichever thread allocates: a background task could delete a widget held in a
    # reference cycle, and Qt crashes. pyqtgraph's collector turns that off and collects on a timer of this thread.
    collector = GarbageCollector(interval=1.0)
    window = MainWindow()
    install_exception_hook(window)
    window.show()
    if args.demo:
        window.load_demo()
    code = app.exec()
    collector.timer.stop()
    return code
