"""Measure how late the UI event loop runs a timer while work goes on in the background."""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QObject, QTimer


class LoopLagMeter(QObject):
    """A timer that should fire every ``interval_ms``; how much later it fires is the UI's delay."""

    def __init__(self, interval_ms: int = 50, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval = interval_ms / 1000
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.delays_ms: list[float] = []
        self._last = 0.0

    def start(self) -> None:
        self.delays_ms.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> dict[str, float] | None:
        """Stop measuring; median, 99th percentile and worst delay in milliseconds (None when nothing was measured)."""
        self.timer.stop()
        if not self.delays_ms:
            return None
        return {
            "median_ms": round(percentile(self.delays_ms, 50), 1),
            "p99_ms": round(percentile(self.delays_ms, 99), 1),
            "worst_ms": round(max(self.delays_ms), 1),
            "samples": len(self.delays_ms),
        }

    def _tick(self) -> None:
        now = time.perf_counter()
        self.delays_ms.append(max(0.0, (now - self._last - self.interval) * 1000))
        self._last = now


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank ``share``-th percentile: the smallest value at least ``share`` percent of values do not
    exceed."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share / 100 * len(ordered)), 1) - 1]
