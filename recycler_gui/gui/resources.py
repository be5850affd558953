"""The application icon as a ``QIcon``, from the shipped resources."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

from ..core.resources import resource_path


def icon_path() -> Path | None:
    """The application icon (SVG), or None when this installation lacks it."""
    return resource_path("icons", "prompt-recycler.svg")


def app_icon() -> QIcon:
    """The application icon, or an empty ``QIcon`` when its file is missing; never raises."""
    try:
        path = icon_path()
    except OSError:
        return QIcon()
    return QIcon(str(path)) if path is not None else QIcon()
