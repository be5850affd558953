"""The window with a model given by Hub id: summary from its config, then the run downloads it with progress."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hub_server import LocalHub
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox
from tiny_models import write_toy_task

from recycler_gui.core.models import hub
from recycler_gui.core.prompts.formats import SoftPrompt, write_prompt
from recycler_gui.gui.inputs import DOWNLOAD_LABEL
from recycler_gui.gui.main_window import MainWindow

MODEL = "tiny-org/tiny-llama"


@pytest.fixture
def window(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    for kind in ("warning", "critical"):
        monkeypatch.setattr(QMessageBox, kind, lambda parent, title, text, *a: pytest.fail(f"a dialog: {text}"))
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    return window


def _texts(label) -> list[str]:
    """Every text ``label`` shows from now on."""
    shown: list[str] = []
    original = label.setText
    label.setText = lambda text: (shown.append(text), original(text))
    return shown


def _fill(
    window: MainWindow, local_hub: LocalHub, hosted: Path, target: Path, tmp_path: Path, chunk_delay: float
) -> None:
    """Host ``hosted`` as MODEL on a link that waits ``chunk_delay`` s per 16 KiB; fill every input but the source."""
    local_hub.add(MODEL, hosted)
    local_hub.chunk_delay = chunk_delay
    inputs = window.inputs
    inputs.target.picker.set_path(str(target))
    prompt = write_prompt(SoftPrompt(torch.randn(4, 48)), tmp_path / "prompt.safetensors", "safetensors")
    inputs.prompt.picker.set_path(str(prompt))
    inputs.task.kind.setCurrentIndex(1)
    inputs.task.file.set_path(str(write_toy_task(tmp_path)))
    inputs.task.text_column.setText("review")
    inputs.task.label_column.setText("stars")
    inputs.task.label_words.setText("neg=negative,pos=positive")
    for name, check in inputs.method_checks.items():
        check.setChecked(name == "ridge")
    inputs.retune_steps.setValue(0)
    inputs.eval_size.setValue(6)
    inputs.offset.setValue(0)
    inputs.num_words.setValue(0)
    inputs.device.setCurrentText("cpu")


def test_a_typed_hub_id_is_summarised_from_its_config_and_the_run_downloads_it_with_progress(
    window: MainWindow, qtbot, local_hub: LocalHub, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path
) -> None:
    _fill(window, local_hub, tiny_llama, tiny_gemma, tmp_path, chunk_delay=0.01)
    source = window.inputs.source
    window.inputs.download.setChecked(False)
    source.picker.edit.setText(MODEL)
    source.picker.edit.editingFinished.emit()
    qtbot.waitUntil(lambda: "downloads are off" in source.summary.text())
    assert DOWNLOAD_LABEL in source.summary.text() and local_hub.requests == []

    window.inputs.download.setChecked(True)
    qtbot.waitUntil(lambda: source.info is not None)
    rest = ("generation_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors")
    weights = sum((tiny_llama / name).stat().st_size for name in rest)
    assert source.summary.text().startswith("decoder-only · LlamaForCausalLM · hidden 48")
    assert source.summary.text().endswith(f"weights not downloaded yet: a run fetches {weights / 1e6:.1f} MB first")
    assert local_hub.downloaded(MODEL) == ["config.json"]

    progress, device = _texts(window.status.stage), _texts(window.device_status)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.running, timeout=120_000)
    assert window.report.status == "finished" and window.report.job["download"] is True
    assert [row.name for row in window.report.rows][:2] == ["no-prompt", "random"]
    assert any(f" of {weights / 1e3:.1f} kB, " in text and "kB/s" in text for text in progress), progress
    assert any(" · RAM " in text for text in device)
    assert " · RAM " not in window.device_status.text()  # memory shows during runs only


def test_cancel_during_the_download_keeps_the_window_calm(
    window: MainWindow, qtbot, local_hub: LocalHub, tiny_llama: Path, tiny_gemma: Path, tmp_path: Path
) -> None:
    _fill(window, local_hub, tiny_llama, tiny_gemma, tmp_path, chunk_delay=0.05)
    window.inputs.download.setChecked(True)
    window.inputs.source.picker.set_path(MODEL)
    progress = _texts(window.status.stage)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any("kB/s" in text for text in progress), timeout=60_000)
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.running, timeout=60_000)
    assert window.status.stage.text() == "Cancelled."
    assert hub.cached_model(MODEL) is None
