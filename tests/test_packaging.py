"""Desktop integration: the shipped launcher and metainfo validate, and per-user install/uninstall round-trips."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from recycler_gui.core.resources import resource_path
from recycler_gui.desktop_entry import APP_ID, ICON_SIZES
from recycler_gui.gui.app import main as gui_main

DESKTOP = resource_path("desktop", f"{APP_ID}.desktop")
METAINFO = resource_path("desktop", f"{APP_ID}.metainfo.xml")


def _validator(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        pytest.skip(f"{name} is not installed (bash packaging/bootstrap.sh --test installs it)")
    return tool


def test_the_shipped_launcher_and_metainfo_pass_their_validators() -> None:
    assert DESKTOP is not None and METAINFO is not None
    done = subprocess.run([_validator("desktop-file-validate"), str(DESKTOP)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout
    done = subprocess.run([_validator("appstreamcli"), "validate", "--no-net", str(METAINFO)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_install_and_uninstall_the_desktop_entry(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert gui_main(["--install-desktop-entry"]) == 0
    launcher = tmp_path / "applications" / f"{APP_ID}.desktop"
    text = launcher.read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert Path(exec_line.removeprefix("Exec=").strip('"').split(' -m ')[0]).is_file()
    assert (tmp_path / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    for size in ICON_SIZES:
        assert (tmp_path / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert "application menu" in capsys.readouterr().out
    if shutil.which("desktop-file-validate"):
        assert subprocess.run(["desktop-file-validate", str(launcher)], capture_output=True).returncode == 0

    assert gui_main(["--uninstall-desktop-entry"]) == 0
    assert not launcher.exists() and not list(tmp_path.rglob(f"{APP_ID}*"))
    assert "removed 11 files" in capsys.readouterr().out


def test_an_unwritable_data_folder_is_one_clear_error(tmp_path: Path, monkeypatch, capsys) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocked))
    assert gui_main(["--install-desktop-entry"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write") and "XDG_DATA_HOME" in err
