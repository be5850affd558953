"""The device and memory in view: a small self-contained label for the window's status bar.

It shows the device runs use (CPU threads, or the GPU's name and memory) and, during a run, this process's resident
memory and the GPU memory it holds, refreshed every few seconds. The window places it and tells it the chosen device
(``set_device``) and whether a run is on (``set_running``); it needs nothing else.
"""

from __future__ import annotations

from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from ..core.errors import RecyclerError
from ..core.models.devices import describe_device, memory_in_use
from .worker import run_in_background

REFRESH_MS = 3000


class DeviceStatus(QLabel):
    """``CPU, 2 threads`` when idle; ``CPU, 2 threads · RAM 1.7 GiB`` (and the GPU's share) during a run."""

    def __init__(self, pool: QThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.device_name = "auto"
        self.device_text = "…"
        self.running = False
        self.timer = QTimer(self, interval=REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.setToolTip("The device runs use and, during a run, the memory this program holds (RAM, and GPU memory "
                        "once the GPU is in use). Refreshed every few seconds.")
        self.set_device("auto")

    def set_device(self, name: str) -> None:
        """Describe ``name`` (``auto``, ``cpu``, ``cuda:0``, ...); off the UI thread, as CUDA starts on first look."""
        self.device_name = name

        def done(text: str) -> None:
            if name == self.device_name:
                self.device_text = text
                self.refresh()

        def failed(error: Exception) -> None:
            done(f"{name}: {error.problem if isinstance(error, RecyclerError) else error}")

        run_in_background(self.pool, lambda: describe_device(name), done, failed, self)

    def set_running(self, running: bool) -> None:
        """Show the memory in use while a run is on, refreshed every few seconds."""
        self.running = running
        if running:
            self.timer.start()
        else:
            self.timer.stop()
        self.refresh()

    def refresh(self) -> None:
        self.setText(f"{self.device_text} · {memory_in_use()}" if self.running else self.device_text)
