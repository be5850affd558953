"""Per-user desktop integration on Linux: the launcher, the icons and the AppStream metainfo under ~/.local/share.

``prompt-recycler-gui --install-desktop-entry`` puts Prompt Recycler in the application menu; ``--uninstall-desktop-
entry`` takes it out again. Only files this module wrote are removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .core.errors import RecyclerError, WriteError
from .core.resources import resource_path
from .core.storage import write_bytes_atomic

APP_ID = "io.github.promptrecycler.PromptRecycler"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


class DesktopEntryError(RecyclerError):
    """The desktop entry could not be installed or removed."""


def data_home() -> Path:
    """``$XDG_DATA_HOME`` or ``~/.local/share``."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _targets() -> dict[str, Path]:
    home = data_home()
    files = {
        "desktop": home / "applications" / f"{APP_ID}.desktop",
        "metainfo": home / "metainfo" / f"{APP_ID}.metainfo.xml",
        "svg": home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg",
    }
    for size in ICON_SIZES:
        files[f"png{size}"] = home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    return files


def gui_script() -> Path | None:
    """The installed ``prompt-recycler-gui`` script, beside this interpreter or on PATH."""
    for candidate in (Path(sys.executable).with_name("prompt-recycler-gui"), shutil.which("prompt-recycler-gui")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _quote(path: str) -> str:
    return f'"{path}"' if any(c in path for c in ' \t"\'\\$`') else path


def desktop_file_text(template: str) -> str:
    """The shipped .desktop file with Exec (and TryExec) pointing at this installation."""
    script = gui_script()
    command = _quote(str(script)) if script else f"{_quote(sys.executable)} -m recycler_gui"
    lines = []
    for line in template.splitlines(keepends=True):
        if line.startswith("Exec="):
            line = f"Exec={command}\n"
        elif line.startswith("TryExec="):
            if script is None:
                continue
            line = f"TryExec={script}\n"
        lines.append(line)
    return "".join(lines)


def install() -> list[Path]:
    """Write the launcher, icons and metainfo for this user; return the files written."""
    desktop = resource_path("desktop", f"{APP_ID}.desktop")
    metainfo = resource_path("desktop", f"{APP_ID}.metainfo.xml")
    svg = resource_path("icons", "prompt-recycler.svg")
    if desktop is None or metainfo is None or svg is None:
        raise DesktopEntryError("this installation lacks the desktop files in resources/",
                                "reinstall Prompt Recycler from its wheel or a full source checkout")
    entry = desktop_file_text(desktop.read_text(encoding="utf-8"))
    sources: dict[str, Path | str] = {"desktop": entry, "metainfo": metainfo, "svg": svg}
    for size in ICON_SIZES:
        png = resource_path("icons", "hicolor", f"{size}x{size}", "apps", f"{APP_ID}.png")
        if png is not None:
            sources[f"png{size}"] = png
    written = []
    try:
        for key, source in sources.items():
            target = _targets()[key]
            data = source.encode() if isinstance(source, str) else source.read_bytes()
            write_bytes_atomic(target, data)
            written.append(target)
    except WriteError as error:  # its problem names the path; the fix here is about the data folder
        raise DesktopEntryError(error.problem, "make ~/.local/share writable (or set XDG_DATA_HOME) and try again") \
            from error
    _refresh_caches()
    return written


def uninstall() -> list[Path]:
    """Remove what ``install`` wrote; return the files removed."""
    removed = []
    for target in _targets().values():
        if target.is_file():
            target.unlink()
            removed.append(target)
    _refresh_caches()
    return removed


def _refresh_caches() -> None:
    """Tell the desktop about the change where the usual tools exist; their absence is fine."""
    home = data_home()
    for command in (["update-desktop-database", "-q", str(home / "applications")],
                    ["gtk-update-icon-cache", "-q", "-t", str(home / "icons" / "hicolor")]):
        if shutil.which(command[0]) and Path(command[-1]).is_dir():
            subprocess.run(command, check=False, capture_output=True)
