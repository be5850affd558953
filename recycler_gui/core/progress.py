"""How far a whole run has got and how long it has left, from its ``Plan`` and its ``Stage`` and ``Progress`` events.

The fraction only grows. A stage whose name starts with a later planned stage's name begins that stage (the stages
before it count as done); any other stage is a step within the current one. Within a planned stage its own
``Progress`` counts; the time left is the remaining cost at the rate measured so far in this run. A cancelled or
failed run keeps the fraction it reached.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .events import Event, Plan, Progress, Stage

MIN_SECONDS_FOR_ETA = 3.0
MIN_FRACTION_FOR_ETA = 0.01


class RunProgress:
    """Feed it every event of a run (``update``); read ``fraction``, ``seconds_left()`` and ``stage``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.plan: Plan | None = None
        self.index = -1
        """The current planned stage (-1: none begun yet)."""
        self.matched: list[str] = []
        """The names of the stages that began planned stages, in order."""
        self.stage: Stage | None = None
        self.stage_done = 0
        self.stage_total: int | None = None
        self.stage_owned = False
        """Whether the current ``Stage`` began a planned stage (its progress is the planned stage's)."""
        self.fraction = 0.0
        self.started: float | None = None
        self.finished = False

    def update(self, event: Event) -> None:
        if isinstance(event, Plan):
            self.plan, self.index, self.matched = event, -1, []
            self.started = self.clock()
        elif isinstance(event, Stage):
            self.stage, self.stage_done, self.stage_total = event, 0, event.total
            self._begin(event.name)
        elif isinstance(event, Progress) and self.stage is not None:
            self.stage_done = event.done
            self.stage_total = event.total or self.stage_total
        else:
            return
        self._advance()

    def finish(self) -> None:
        """The run finished: everything is done."""
        self.finished = True
        self.fraction = 1.0

    def seconds_left(self) -> float | None:
        """The time left at this run's measured rate; None until there is enough to measure."""
        if self.finished:
            return 0.0
        if self.started is None or self.fraction < MIN_FRACTION_FOR_ETA:
            return None
        elapsed = self.clock() - self.started
        if elapsed < MIN_SECONDS_FOR_ETA:
            return None
        return elapsed / self.fraction * (1 - self.fraction)

    def _begin(self, name: str) -> None:
        if self.plan is None:
            return
        for index in range(self.index + 1, len(self.plan.stages)):
            if name.startswith(self.plan.stages[index].name):
                self.index = index
                self.matched.append(name)
                self.stage_owned = True
                return
        self.stage_owned = False  # a step within the current planned stage: its counts are not the stage's

    def _advance(self) -> None:
        if self.plan is None or self.index < 0 or not self.plan.total:
            return
        stages = self.plan.stages
        done = sum(stage.cost for stage in stages[: self.index])
        if self.stage_owned and self.stage_total:
            done += stages[self.index].cost * min(self.stage_done / self.stage_total, 1.0)
        self.fraction = max(self.fraction, min(done / self.plan.total, 1.0))
