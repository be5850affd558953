"""Background work for the window: the comparison pipeline in a QThread, small jobs on the thread pool.

Engine events cross to the UI thread as queued signals; widgets are touched only there. Cancel sets the engine's
cancel token, which it checks between batches, so a run stops within one batch and keeps its finished rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from ..core.events import CancelToken
from ..core.runs.batch import run_batch
from ..core.runs.pipeline import Job, run


class PipelineWorker(QObject):
    """Runs ``pipeline.run(job)`` when its thread starts, or ``batch.run_batch(job, prompts)`` for several prompts;
    reports through signals.

    ``finished`` carries the report (a ``BatchReport`` for a batch), also for a cancelled run (its status says so);
    ``failed`` an exception.
    """

    event = Signal(object)
    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, job: Job, prompts: list[str] | None = None) -> None:
        super().__init__()
        self.job, self.prompts = job, prompts
        self.token = CancelToken()

    @Slot()
    def run(self) -> None:
        try:
            if self.prompts:
                report = run_batch(self.job, self.prompts, events=self.event.emit, cancel=self.token)
            else:
                report = run(self.job, events=self.event.emit, cancel=self.token)
        except Exception as error:
            self.failed.emit(error)
        else:
            self.finished.emit(report)

    def cancel(self) -> None:
        """Ask the run to stop at its next check (safe from any thread)."""
        self.token.cancel()


class PipelineRun(QObject):
    """A worker and its thread, started together and cleaned up when the work ends."""

    ended = Signal()

    def __init__(self, job: Job, parent: QObject | None = None, prompts: list[str] | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.worker = PipelineWorker(job, prompts)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        for signal in (self.worker.finished, self.worker.failed):
            signal.connect(self.thread.quit)
        self.thread.finished.connect(self.ended)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self.worker.cancel()


class _TaskSignals(QObject):
    done = Signal(object)
    failed = Signal(object)


class BackgroundTask(QRunnable):
    """One function run on the thread pool; its result or exception arrives as a signal on the UI thread."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__()
        self.work = work
        self.signals = _TaskSignals()

    def run(self) -> None:
        try:
            result = self.work()
        except Exception as error:
            self._tell(self.signals.failed, error)
        else:
            self._tell(self.signals.done, result)

    @staticmethod
    def _tell(signal: Any, value: Any) -> None:
        """Emit, unless the window went away while the work ran (its signals' object is deleted then): nobody is left
        to tell, and a traceback on the terminal at exit would only alarm."""
        with contextlib.suppress(RuntimeError):  # "Signal source has been deleted"; queued delivery runs no slot here
            signal.emit(value)


_in_flight: set[BackgroundTask] = set()
"""Tasks whose signals may still fire: held here so Python does not delete their signal object early."""


def run_in_background(
    pool: QThreadPool,
    work: Callable[[], Any],
    done: Callable[[Any], None],
    failed: Callable[[Exception], None],
    context: QObject,
) -> BackgroundTask:
    """Start ``work`` on ``pool``; ``done`` or ``failed`` is called on the UI thread while ``context`` still lives."""
    task = BackgroundTask(work)
    task.setAutoDelete(False)
    _in_flight.add(task)

    def deliver(slot: Callable[[Any], None]) -> Callable[[Any], None]:
        def call(result: Any) -> None:
            _in_flight.discard(task)
            if shiboken6.isValid(context):
                slot(result)

        return call

    task.signals.done.connect(deliver(done))
    task.signals.failed.connect(deliver(failed))
    pool.start(task)
    return task
