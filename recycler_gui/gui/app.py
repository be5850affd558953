"""The Prompt Recycler window and the ``prompt-recycler-gui`` entry point.

Model work never runs on the UI thread: inspecting a checkpoint (which may convert a GGUF file) runs in a worker on a
``QThreadPool`` and reports back through signals.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QSettings, QThreadPool, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..core.errors import RecyclerError
from ..core.storage import data_dir

APP_TITLE = "Prompt Recycler"
PAPER = (
    "Lester, Yurtsever, Shakeri, Constant (2022): Reducing Retraining by Recycling Parameter-Efficient Prompts. "
    "arXiv:2208.05577"
)


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    """Run one function off the UI thread and deliver its result or its exception as a signal."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__()
        self.work = work
        self.signals = _Signals()

    def run(self) -> None:
        try:
            result = self.work()
        except Exception as error:
            self.signals.failed.emit(error)
        else:
            self.signals.done.emit(result)


class MainWindow(QMainWindow):
    """The main window. For now it inspects prompts and checkpoints; recycling lands with the GUI issue."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(APP_TITLE)
        self.settings = QSettings("prompt-recycler", "prompt-recycler")
        self.pool = QThreadPool(self)
        self.status = QLabel("Open a prompt file or a model to see what it holds.")
        self.details = QPlainTextEdit(readOnly=True)
        self.details.setObjectName("details")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.status)
        layout.addWidget(self.details)
        self.setCentralWidget(central)
        self._build_menus()
        self.resize(720, 480)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_prompt_action = self._action("Inspect &prompt file…", QKeySequence.StandardKey.Open, self.pick_prompt)
        self.open_model_action = self._action("Inspect &model folder…", "Ctrl+Shift+O", self.pick_model_folder)
        self.open_gguf_action = self._action("Inspect &GGUF model…", "Ctrl+G", self.pick_gguf)
        for action in (self.open_prompt_action, self.open_model_action, self.open_gguf_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", QKeySequence.StandardKey.Quit, self.close))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&About Prompt Recycler", None, self.show_about))

    def _action(self, text: str, shortcut: Any, slot: Callable[[], Any]) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        return action

    def _last_dir(self) -> str:
        return str(self.settings.value("paths/last_dir", str(Path.home())))

    def pick_prompt(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Inspect a prompt file", self._last_dir())
        if path:
            self.inspect(path)

    def pick_model_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Inspect a model or adapter folder", self._last_dir())
        if path:
            self.inspect(path)

    def pick_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Inspect a GGUF model", self._last_dir(), "GGUF (*.gguf)")
        if path:
            self.inspect(path)

    def inspect(self, path: str) -> None:
        """Describe ``path`` in a worker thread and show the result."""
        from ..core.describe import describe_path

        self.settings.setValue("paths/last_dir", str(Path(path).parent))
        self.status.setText(f"Reading {path} …")
        task = _Task(lambda: describe_path(path))
        task.signals.done.connect(self._show_description)
        task.signals.failed.connect(self._show_failure)
        self.pool.start(task)

    @Slot(object)
    def _show_description(self, info: dict[str, Any]) -> None:
        from ..core.describe import format_description

        self.status.setText(f"{info['kind'].capitalize()}: {info.get('path')}")
        self.details.setPlainText(format_description(info))

    @Slot(object)
    def _show_failure(self, error: Exception) -> None:
        self.status.setText("Could not read that.")
        show_error(self, error)

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_TITLE}",
            f"<b>{APP_TITLE}</b> {__version__}<p>Carries a trained soft prompt from one language model to another "
            f"without re-training it.</p><p>Based on {PAPER}.</p>",
        )

    def closeEvent(self, event: Any) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.pool.waitForDone()
        super().closeEvent(event)


def show_error(parent: QWidget | None, error: BaseException) -> None:
    """A dialog for an error: user errors name the fix; anything else is logged as a bug report."""
    if isinstance(error, RecyclerError):
        QMessageBox.warning(parent, APP_TITLE, str(error))
        return
    log = write_crash_log(error)
    QMessageBox.critical(
        parent,
        APP_TITLE,
        f"Something went wrong inside Prompt Recycler: {type(error).__name__}: {error}\n\n"
        f"The details were saved to {log}. Please report them.",
    )


def write_crash_log(error: BaseException) -> Path:
    """Append the traceback of ``error`` to the user log folder and return the log's path."""
    folder = data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "errors.log"
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"--- {datetime.now().isoformat(timespec='seconds')} {APP_TITLE} {__version__}\n{text}\n")
    return log


def _install_exception_hook(window: QMainWindow) -> None:
    def hook(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        show_error(window, error.with_traceback(tb))

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    """Open the window; ``--version`` prints the version instead."""
    parser = argparse.ArgumentParser(prog="prompt-recycler-gui", description=f"Open the {APP_TITLE} window.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("path", nargs="?", help="a prompt file or model to inspect on start")
    args, qt_args = parser.parse_known_args(argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName(APP_TITLE)
    app.setApplicationVersion(__version__)
    window = MainWindow()
    _install_exception_hook(window)
    window.show()
    if args.path:
        window.inspect(args.path)
    return app.exec()
