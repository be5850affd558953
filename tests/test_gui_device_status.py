"""The status bar's device label: the device runs use, and during a run the memory in use, refreshed."""

from __future__ import annotations

import torch
from PySide6.QtCore import QThreadPool

from recycler_gui.gui.device_status import DeviceStatus


def test_the_device_shows_at_once_and_the_memory_during_a_run(qtbot) -> None:
    status = DeviceStatus(QThreadPool())
    qtbot.addWidget(status)
    if not torch.cuda.is_available():
        qtbot.waitUntil(lambda: status.text() == f"CPU, {torch.get_num_threads()} threads")
    described = status.text()
    assert "RAM" not in described

    status.set_running(True)
    assert status.text().startswith(f"{described} · RAM ") and status.timer.isActive()
    status.set_running(False)
    assert status.text() == described and not status.timer.isActive()


def test_a_device_this_machine_lacks_is_named(qtbot) -> None:
    status = DeviceStatus(QThreadPool())
    qtbot.addWidget(status)
    if not torch.cuda.is_available():
        status.set_device("cuda")
        qtbot.waitUntil(lambda: status.text() == "cuda: the device 'cuda' is not available on this machine")
