"""Prompt tuning on a frozen model: only the prompt rows have gradients.

Used to train source prompts, to re-tune on the target from scratch (the upper bound recycling is measured against),
and to re-tune from a recycled or taught prompt (the head start). The loss is the negative log-likelihood of the gold
label's tokens after the input, the rank-classification counterpart of the usual text-to-text loss. Adam at a large
learning rate (0.3) suits prompt tuning from scratch: the rows must travel far from their initial word vectors. A
warm start needs steps sized to it, or Adam erases it in a few steps: a given start prompt is tuned with a learning
rate relative to its own scale (``WARM_START_LR``, ``TuningSettings.for_start``). The loop is ``loop.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from ..data.tasks import Task
from ..evaluation.baselines import class_label_prompt, random_prompt, text_prompt
from ..evaluation.scoring import Scorer, classification_metrics
from ..events import Cancelled, CancelToken, EventSink, ignore_events
from ..fields import at_least, setting
from ..prompts.formats import PromptMeta, SoftPrompt
from .loop import StepSettings, TrainingSettingsError, train_rows

INITS = ("class-label", "random", "text:WORDS")
WARM_START_LR = 0.1
"""A warm start's learning rate, as a share of the start rows' typical size. Chosen on bench/head_start.py (demo pair,
both directions, recycled and taught starts; docs/BENCHMARKS.md "Head start"): mean dev accuracy over the first 50
steps 76.7 % at relative 0.1, 76.3 % at relative 0.03, 68.3 % at the scratch rate (absolute 0.3), which erases both
starts on Gemma within 10 steps."""


@dataclass(frozen=True)
class TuningSettings(StepSettings):
    """How to tune. ``init`` is class-label, random or ``text:some words``; ignored when a start prompt is given.
    ``max_norm`` keeps every row no longer than that many times the model's mean vocabulary row norm ("recyclable"
    prompts). Each field's default and help are what ``tune --help`` shows (``core.fields``)."""

    prompt_length: int = setting(20, "virtual tokens")
    eval_size: int = setting(200, "dev examples per evaluation")
    init: str = setting("class-label", f"the start prompt: {', '.join(INITS)}")
    warm_start: bool = setting(
        True, f"tune a given start prompt with a learning rate of {WARM_START_LR} of its typical size (the warm-start "
              "rule) instead of the learning rate"
    )
    max_norm: float | None = setting(
        None, "recyclable prompt: keep every row within this many times the model's mean vocabulary row norm (e.g. "
              "1.5); costs some source accuracy, keeps the prompt where recyclers work"
    )

    def check(self) -> None:
        """Types and ranges, before any work."""
        super().check()
        for name in ("prompt_length", "eval_size"):
            at_least(self, name, 1)
        if self.max_norm is not None and self.max_norm <= 0:
            raise TrainingSettingsError(
                f"the norm cap {self.max_norm} is not positive", "use e.g. 1.5 (x the vocabulary norm)"
            )
        if self.init.startswith("text:") and not self.init.removeprefix("text:").strip():
            raise TrainingSettingsError("the text init names no words", "give them after text:, e.g. text:great movie")
        if self.init not in ("class-label", "random") and not self.init.startswith("text:"):
            raise TrainingSettingsError(f"unknown prompt init {self.init!r}", f"use one of {', '.join(INITS)}")

    def for_start(self) -> TuningSettings:
        """The settings to tune a given start prompt with: the warm-start rule, unless ``warm_start`` is off."""
        if not self.warm_start:
            return self
        return replace(self, learning_rate=WARM_START_LR, relative_lr=True)


@dataclass
class TuningResult:
    """The best prompt by dev accuracy, and the curve that led there."""

    prompt: SoftPrompt
    best_step: int
    best_accuracy: float
    curve: list[tuple[int, float]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    stopped_early: bool = False

    def steps_to_reach(self, accuracy: float) -> int | None:
        """The first evaluated step whose dev accuracy reached ``accuracy``, or None."""
        return first_step_reaching(self.curve, accuracy)


def first_step_reaching(curve: list[tuple[int, float]], accuracy: float) -> int | None:
    """The first (step, value) point of ``curve`` whose value reached ``accuracy``: its step, or None."""
    return next((step for step, value in curve if value >= accuracy), None)


def initial_prompt(table: torch.Tensor, tokenizer: Any, task: Task, settings: TuningSettings) -> SoftPrompt:
    """The prompt tuning starts from when none is given."""
    if settings.init == "class-label":
        return class_label_prompt(table, tokenizer, task.label_words, settings.prompt_length, settings.seed)
    if settings.init == "random":
        return random_prompt(table, settings.prompt_length, settings.seed)
    return text_prompt(table, tokenizer, settings.init.removeprefix("text:"), settings.prompt_length, settings.seed)


def dev_accuracy(scorer: Scorer, task: Task, rows: torch.Tensor | None, eval_size: int, cancel: CancelToken) -> float:
    """Accuracy on the first ``eval_size`` dev examples."""
    texts, gold = task.texts_and_labels("dev", eval_size)
    return classification_metrics(scorer.score(texts, rows, cancel=cancel), gold).accuracy


def tune(
    scorer: Scorer,
    task: Task,
    start: SoftPrompt,
    settings: TuningSettings,
    *,
    vocabulary_norm: float | None = None,
    start_accuracy: float | None = None,
    series: str = "tuning",
    events: EventSink = ignore_events,
    cancel: CancelToken | None = None,
) -> TuningResult:
    """Tune ``start`` on ``task.train``; evaluate on ``task.dev`` every ``eval_every`` steps; keep the best.

    With ``settings.max_norm``, rows are projected back into a ball of ``max_norm * vocabulary_norm`` (the mean norm of
    the model's embedding rows) after every step, which keeps the prompt where maps fitted on words hold.
    ``start_accuracy``: the start's dev accuracy when the caller has it already (same ``eval_size``), so step 0 is not
    scored again.
    """
    settings.check()
    if settings.max_norm is not None and not vocabulary_norm:
        raise TrainingSettingsError("a norm cap needs the model's mean vocabulary norm", "pass vocabulary_norm")
    if not task.train or not task.dev:
        raise TrainingSettingsError(
            f"the task {task.name} has no training or no dev examples", "give a task with both splits"
        )
    cap = None if settings.max_norm is None else settings.max_norm * float(vocabulary_norm)
    encoded: dict[int, list[int]] = {}

    def batch_loss(rows: torch.Tensor, indices: list[int]) -> torch.Tensor:
        for i in indices:
            if i not in encoded:
                encoded[i] = scorer.input_ids(task.render(task.train[i].text))
        gold = torch.tensor([task.train[i].label for i in indices], device=scorer.device)
        scores = scorer.label_scores([encoded[i] for i in indices], rows)
        return -scores.float().gather(1, gold.unsqueeze(1)).mean()

    def evaluate(rows: torch.Tensor, step: int) -> tuple[float, tuple[float, ...]]:
        known = step == 0 and start_accuracy is not None
        accuracy = start_accuracy if known else dev_accuracy(scorer, task, rows, settings.eval_size, cancel)
        return accuracy, (accuracy,)

    loop = train_rows(
        start.encoder, batch_loss, evaluate, len(task.train), settings, device=scorer.device, cap=cap, series=series,
        events=events, cancel=cancel,
    )
    if loop.cancelled:
        raise Cancelled("cancelled", "finished results were kept")
    meta = PromptMeta(init=start.meta.init, task=task.name, source_model=start.meta.source_model)
    return TuningResult(
        SoftPrompt(loop.rows, meta=meta), loop.best_step, loop.best_value, curve=loop.curve, losses=loop.losses,
        stopped_early=loop.stopped_early,
    )
