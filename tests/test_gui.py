"""The window opens, inspects in the background, shows errors as dialogs, and closes cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtWidgets import QMessageBox

from recycler_gui.core.prompts import SoftPrompt, write_prompt
from recycler_gui.gui.app import MainWindow


@pytest.fixture
def window(qtbot) -> MainWindow:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    return window


def test_inspecting_a_prompt_shows_its_summary(window: MainWindow, qtbot, tmp_path: Path) -> None:
    path = write_prompt(SoftPrompt(torch.ones(7, 16)), tmp_path / "p.safetensors", "safetensors")
    window.inspect(str(path))
    qtbot.waitUntil(lambda: "num tokens: 7" in window.details.toPlainText(), timeout=10_000)
    assert "dim: 16" in window.details.toPlainText()


def test_a_bad_file_shows_a_dialog_not_a_crash(
    window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY broken")
    window.inspect(str(tmp_path / "bad.npy"))
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    assert "cannot be read" in shown[0]
    assert window.status.text() == "Could not read that."


def test_window_closes_cleanly(window: MainWindow) -> None:
    assert window.close()
