"""Errors in the window: user errors as dialogs naming the fix; bugs as a dialog plus a traceback in the user log."""

from __future__ import annotations

import tempfile
import traceback
from datetime import datetime
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from .. import __version__
from ..core.errors import RecyclerError, is_out_of_memory
from ..core.storage import data_dir

APP_TITLE = "Prompt Recycler"


def sentence(text: str) -> str:
    """``text`` starting with a capital, unless it starts with a name that is not a plain word (``empty.csv``)."""
    return text[:1].upper() + text[1:] if text.split(" ", 1)[0].isalpha() else text


def show_error(parent: QWidget | None, error: BaseException) -> None:
    """A dialog for an error: user errors name the fix; anything else is logged as a bug report."""
    if isinstance(error, RecyclerError):
        QMessageBox.warning(parent, APP_TITLE, sentence(str(error)))
        return
    if is_out_of_memory(error):
        QMessageBox.warning(
            parent, APP_TITLE,
            "Out of memory. Lower the batch size or the evaluation size, choose bfloat16 weights, or run on the CPU.",
        )
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
    try:
        folder = data_dir() / "logs"
    except RecyclerError:  # the data folder is unusable (a file): the log goes where it can
        folder = Path(tempfile.gettempdir()) / "prompt-recycler-logs"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "errors.log"
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"--- {datetime.now().isoformat(timespec='seconds')} {APP_TITLE} {__version__}\n{text}\n")
    return log
