"""The status row above the results: what the run does now, one bar for the whole run, and the time it has left.

The bar follows ``core.progress.RunProgress``: the run's plan, stage by stage, weighted by cost. It only grows;
after a cancel or a failure it keeps the share the run reached and says so (never 100 % for a run that did not
finish, never 0 % for one that did work).
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QWidget

from ..core.events import NextPrompt, Plan, Progress, Stage, describe_progress, duration
from ..core.progress import RunProgress

STEPS = 1000
"""The bar's resolution (0.1 %)."""


class ElidedLabel(QLabel):
    """A one-line label that cuts its text with an ellipsis instead of growing (the full text is its tooltip)."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.width())
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)


class RunStatus(QWidget):
    """Stage text · overall progress bar · time left. The window calls ``start``, ``on_event`` with every event, and
    ``finish`` / ``cancelling`` / ``fail``; ``say`` shows a message while no run goes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage = ElidedLabel("Ready.")
        self.bar = QProgressBar()
        self.bar.setRange(0, STEPS)
        self.bar.setValue(0)
        self.bar.setFormat("")  # no run yet: an empty bar, not "0%"
        self.bar.setMinimumWidth(160)
        self.bar.setMaximumWidth(420)
        self.bar.setToolTip("The whole run: every stage weighted by its expected cost")
        self.eta = QLabel()
        self.eta.setMinimumWidth(self.eta.fontMetrics().horizontalAdvance("about 100 min left "))
        self.eta.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.tracker = RunProgress()
        self.stage_name = ""
        self.prompt_text = ""
        """In a batch of prompts: which prompt the stage belongs to."""
        self.stage_started = time.monotonic()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.stage, 1)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.eta)

    def say(self, text: str) -> None:
        self.stage.setText(text)

    def idle(self, text: str) -> None:
        """No run of this window is shown (a stored run is): an empty bar and ``text``."""
        self.bar.setRange(0, STEPS)
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.eta.setText("")
        self.stage.setText(text)

    def start(self) -> None:
        """A run begins: a busy bar until its plan arrives."""
        self.tracker = RunProgress()
        self.stage_name = self.prompt_text = ""
        self.bar.setRange(0, 0)
        self.bar.setFormat("%p%")
        self.eta.setText("")
        self.stage.setText("Starting…")

    def on_event(self, event: Any) -> None:
        if isinstance(event, NextPrompt):
            self.prompt_text = f"Prompt {event.index} of {event.count} ({event.label}) · "
            return
        if not isinstance(event, Plan | Stage | Progress):
            return
        self.tracker.update(event)
        if isinstance(event, Plan):
            self.bar.setRange(0, STEPS)
        if isinstance(event, Stage):
            self.stage_name = event.name[:1].upper() + event.name[1:]
            self.stage_started = time.monotonic()
        self.stage.setText(self._stage_text())
        if self.tracker.plan is not None:
            self.bar.setValue(round(self.tracker.fraction * STEPS))
        left = self.tracker.seconds_left()
        self.eta.setText("" if left is None else f"about {duration(left)} left")

    def cancelling(self) -> None:
        self.stage.setText("Cancelling after the current batch…")

    def finish(self, cancelled: bool, seconds: float | None) -> None:
        """The run ended with a report: finished (100 %) or cancelled (the share it reached)."""
        self.bar.setRange(0, STEPS)
        if cancelled:
            self._stopped("Cancelled")
            self.stage.setText("Cancelled: finished rows kept.")
        else:
            self.tracker.finish()
            self.bar.setValue(STEPS)
            self.bar.setFormat("%p%")
            self.stage.setText("Finished.")
        self.eta.setText("" if seconds is None else f"took {duration(seconds)}")

    def cancelled_early(self) -> None:
        """Cancelled before the run began (during a download, say): nothing was compared."""
        self.bar.setRange(0, STEPS)
        self._stopped("Cancelled")
        self.stage.setText("Cancelled.")
        self.eta.setText("")

    def fail(self) -> None:
        """The run failed: the bar keeps the share it reached."""
        self.bar.setRange(0, STEPS)
        self._stopped("Failed")
        self.stage.setText("Failed.")
        self.eta.setText("")

    def _stopped(self, how: str) -> None:
        value = round(self.tracker.fraction * STEPS)
        self.bar.setValue(value)
        self.bar.setFormat(f"{how} at {value / STEPS:.0%}")

    def _stage_text(self) -> str:
        """The stage, and its own count, rate and time left (``describe_progress``, as the CLI's bar says it)."""
        stage, done, total = self.tracker.stage, self.tracker.stage_done, self.tracker.stage_total
        if stage is None or not (done or total):
            return self.prompt_text + self.stage_name
        elapsed = time.monotonic() - self.stage_started
        return f"{self.prompt_text}{self.stage_name} · {describe_progress(stage, done, elapsed, total)}"
