"""How long work reports progress and learns it should stop.

Engine functions take an ``events`` callable and a ``CancelToken``. The CLI turns events into terminal output; the GUI
worker turns them into Qt signals. Cancellation is checked between batches, epochs and methods, so a cancelled run
stops quickly and keeps what it finished.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from .errors import RecyclerError
from .report import Row

BYTES = "bytes"
"""The unit of a stage that moves data (a download): its ``Progress`` counts bytes."""


@dataclass(frozen=True)
class Stage:
    """A new stage of work begins; ``total`` steps when known, counted in ``unit`` (``BYTES`` for downloads)."""

    name: str
    total: int | None = None
    unit: str = "steps"


@dataclass(frozen=True)
class Progress:
    """``done`` steps of the current stage are finished; ``total`` when it became known only during the stage."""

    done: int
    total: int | None = None


FIT_LOSS_SERIES = "fit loss: "
"""Prefix of a recycler's fit-loss curve (x: epoch, y: loss), e.g. ``fit loss: v2v-nn``."""
RETUNE_SERIES = "re-tune: "
"""Prefix of a re-tuning curve (x: step, y: dev accuracy), e.g. ``re-tune: from scratch``."""
_RETUNE_FROM = "from "
START_SERIES = "dev at start: "
"""Prefix of a recycled prompt's dev accuracy before re-tuning (x: step 0), e.g. ``dev at start: ridge``: the value
the re-tuning pick compares, and where a re-tuning curve from that prompt begins."""


TEACH_SERIES = "teach: "
"""Prefix of a teaching curve (x: step, y: agreement with the teacher on held-out texts), e.g. ``teach: from
procrustes``; drawn with the re-tuning curves."""


def teach_series(start: str) -> str:
    """The agreement curve of a prompt taught from ``start`` (the recycled prompt it began as)."""
    return f"{TEACH_SERIES}{_RETUNE_FROM}{start}"


def retune_series(start: str) -> str:
    """The curve of a prompt re-tuned from ``start`` (scratch or a method's name)."""
    return f"{RETUNE_SERIES}{_RETUNE_FROM}{start}"


def retune_start(series: str) -> str:
    """The start of a re-tuning curve, back from its series name."""
    return series.removeprefix(RETUNE_SERIES).removeprefix(_RETUNE_FROM)


@dataclass(frozen=True)
class Point:
    """One point of a curve, e.g. ``Point(FIT_LOSS_SERIES + "v2v-nn", epoch, loss)``."""

    series: str
    x: float
    y: float


@dataclass(frozen=True)
class Result:
    """One finished row of the report (a method's, a baseline's, ...): the receiver's own copy."""

    row: Row


@dataclass(frozen=True)
class Log:
    """A line for the log."""

    text: str


@dataclass(frozen=True)
class PlannedStage:
    """A stage a run expects: the start of its ``Stage`` name, and its expected cost in units of one example scored."""

    name: str
    cost: float


@dataclass(frozen=True)
class Plan:
    """The stages a run expects, in order, with their costs: what an overall progress bar and ETA are made of.

    A ``Stage`` whose name starts with the next planned stage's name begins that stage; other stages (downloads, a
    recycler's fit) are steps within the current one.
    """

    stages: tuple[PlannedStage, ...]

    @property
    def total(self) -> float:
        return sum(stage.cost for stage in self.stages)


@dataclass(frozen=True)
class NextPrompt:
    """A batch of prompts begins its ``index``-th (from 1) of ``count`` comparisons, on the prompt called ``label``."""

    index: int
    count: int
    label: str


Event = Stage | Progress | Point | Result | Log | Plan | NextPrompt
EventSink = Callable[[Event], None]


def ignore_events(event: Event) -> None:
    """An event sink that drops everything."""


class Cancelled(RecyclerError):
    """The user cancelled the run; what finished before is kept."""


class CancelToken:
    """A thread-safe flag the UI sets and the engine checks between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise ``Cancelled`` if cancellation was asked for."""
        if self._event.is_set():
            raise Cancelled("cancelled", "finished results were kept")


def describe_progress(stage: Stage, done: int, elapsed: float, total: int | None = None) -> str:
    """``done`` of the stage's total, the rate for downloads, and the time left, e.g. ``12.3 of 538.0 MB, 4.1 MB/s,
    2 min left`` or ``40 of 200, 12 s left``: what the CLI's bar and the window's progress bar both say."""
    total = total or stage.total
    if stage.unit == BYTES:
        scale, name = (1e6, "MB") if (total or done) >= 1e6 else (1e3, "kB")
        parts = [f"{done / scale:.1f} of {total / scale:.1f} {name}" if total else f"{done / scale:.1f} {name}"]
        if elapsed > 0 and done:
            parts.append(f"{done / elapsed / scale:.1f} {name}/s")
    else:
        parts = [f"{done} of {total}" if total else str(done)]
    if total and done and elapsed > 0:
        parts.append(f"{duration(elapsed / done * max(total - done, 0))} left")
    return ", ".join(parts)


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``1 h 5 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds // 3600:.0f} h {seconds % 3600 / 60:.0f} min"
