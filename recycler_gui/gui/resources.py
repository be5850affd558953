"""Files the window needs besides code (the application icon), found in an installed package or a source checkout."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

ICON = Path("resources") / "icons" / "prompt-recycler.svg"


def icon_path() -> Path | None:
    """The application icon: ``recycler_gui/resources/...`` if packaging copied it there, else the checkout's."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / ICON, package.parent / ICON):
        if candidate.is_file():
            return candidate
    return None


def app_icon() -> QIcon:
    """The application icon, or an empty ``QIcon`` when its file is missing; never raises."""
    try:
        path = icon_path()
    except OSError:
        return QIcon()
    return QIcon(str(path)) if path is not None else QIcon()
