"""Prompt tuning on a frozen model: only the prompt rows have gradients.

Used to train source prompts, to re-tune on the target from scratch (the upper bound recycling is measured against),
and to re-tune from a recycled prompt (the head start). The loss is the negative log-likelihood of the gold label's
tokens after the input, the rank-classification counterpart of the usual text-to-text loss. Adam at a large
learning rate (0.3) suits prompt tuning: the rows must travel far from their initial word vectors.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import torch

from ..data.tasks import Task
from ..errors import RecyclerError
from ..evaluation.baselines import class_label_prompt, random_prompt, text_prompt
from ..evaluation.scoring import Scorer, classification_metrics
from ..events import CancelToken, EventSink, Log, Point, Progress, Stage, ignore_events
from ..fields import at_least, check_types, setting
from ..prompts.formats import PromptMeta, SoftPrompt

INITS = ("class-label", "random", "text:WORDS")


class TuningError(RecyclerError):
    """Bad tuning settings."""


@dataclass(frozen=True)
class TuningSettings:
    """How to tune. ``init`` is class-label, random or ``text:some words``; ignored when a start prompt is given.
    ``max_norm`` keeps every row no longer than that many times the model's mean vocabulary row norm ("recyclable"
    prompts). Each field's default and help are what ``tune --help`` shows (``core.fields``)."""

    steps: int = setting(100, "training steps")
    prompt_length: int = setting(20, "virtual tokens")
    learning_rate: float = setting(0.3, "Adam learning rate")
    batch_size: int = setting(16, "training examples per step")
    eval_every: int = setting(25, "dev evaluation interval in steps")
    eval_size: int = setting(200, "dev examples per evaluation")
    patience: int | None = setting(None, "stop after this many evaluations without dev gain")
    init: str = setting("class-label", f"the start prompt: {', '.join(INITS)}")
    seed: int = setting(0, "seed for the start prompt and the batch order")
    bf16: bool = setting(True, "bfloat16 autocast while training, where the device has it")
    max_norm: float | None = setting(
        None, "recyclable prompt: keep every row within this many times the model's mean vocabulary row norm (e.g. "
              "1.5); costs some source accuracy, keeps the prompt where recyclers work"
    )

    def check(self) -> None:
        """Types and ranges, before any work."""
        check_types(self)
        at_least(self, "steps", 0)
        for name in ("prompt_length", "batch_size", "eval_every", "eval_size"):
            at_least(self, name, 1)
        if self.patience is not None:
            at_least(self, "patience", 1, "evaluations without dev gain")
        if self.learning_rate <= 0:
            raise TuningError(f"learning rate {self.learning_rate} is not positive", "use e.g. 0.3 for Adam")
        if self.max_norm is not None and self.max_norm <= 0:
            raise TuningError(f"the norm cap {self.max_norm} is not positive", "use e.g. 1.5 (x the vocabulary norm)")
        if self.init not in ("class-label", "random") and not self.init.startswith("text:"):
            raise TuningError(f"unknown prompt init {self.init!r}", f"use one of {', '.join(INITS)}")


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
        return next((step for step, value in self.curve if value >= accuracy), None)


def initial_prompt(table: torch.Tensor, tokenizer: Any, task: Task, settings: TuningSettings) -> SoftPrompt:
    """The prompt tuning starts from when none is given."""
    if settings.init == "class-label":
        return class_label_prompt(table, tokenizer, task.label_words, settings.prompt_length, settings.seed)
    if settings.init == "random":
        return random_prompt(table, settings.prompt_length, settings.seed)
    return text_prompt(table, tokenizer, settings.init.removeprefix("text:"), settings.prompt_length, settings.seed)


def _autocast(device: torch.device, enabled: bool) -> Any:
    if enabled and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if enabled and device.type == "cpu" and _cpu_has_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)


def _cpu_has_bf16() -> bool:
    try:
        return bool(torch._C._cpu._is_avx512_bf16_supported())
    except AttributeError:
        return False


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
    series: str = "tuning",
    events: EventSink = ignore_events,
    cancel: CancelToken | None = None,
) -> TuningResult:
    """Tune ``start`` on ``task.train``; evaluate on ``task.dev`` every ``eval_every`` steps; keep the best.

    With ``settings.max_norm``, rows are projected back into a ball of ``max_norm * vocabulary_norm`` (the mean norm of
    the model's embedding rows) after every step, which keeps the prompt where maps fitted on words hold.
    """
    settings.check()
    if settings.max_norm is not None and not vocabulary_norm:
        raise TuningError("a norm cap needs the model's mean vocabulary norm", "pass vocabulary_norm")
    cap = None if settings.max_norm is None else settings.max_norm * float(vocabulary_norm)
    cancel = cancel or CancelToken()
    if not task.train or not task.dev:
        raise TuningError(f"the task {task.name} has no training or no dev examples", "give a task with both splits")
    torch.manual_seed(settings.seed)
    rows = start.encoder.clone().to(scorer.device, torch.float32).requires_grad_(True)
    _cap_rows(rows, cap)
    optimizer = torch.optim.Adam([rows], lr=settings.learning_rate)
    order = _batches(len(task.train), settings.batch_size, settings.seed)
    encoded: dict[int, list[int]] = {}

    def evaluate(step: int) -> float:
        accuracy = dev_accuracy(scorer, task, rows.detach(), settings.eval_size, cancel)
        events(Point(series, step, accuracy))
        return accuracy

    events(Stage(f"{series}: {settings.steps} steps", settings.steps))
    best_accuracy = evaluate(0)
    result = TuningResult(start, 0, best_accuracy, curve=[(0, best_accuracy)])
    best_rows = rows.detach().clone()
    since_best = 0
    for step in range(1, settings.steps + 1):
        cancel.check()
        indices = next(order)
        for i in indices:
            if i not in encoded:
                encoded[i] = scorer.input_ids(task.render(task.train[i].text))
        ids = [encoded[i] for i in indices]
        gold = torch.tensor([task.train[i].label for i in indices], device=scorer.device)
        optimizer.zero_grad()
        with _autocast(scorer.device, settings.bf16):
            scores = scorer.label_scores(ids, rows)
        loss = -scores.float().gather(1, gold.unsqueeze(1)).mean()
        loss.backward()
        optimizer.step()
        _cap_rows(rows, cap)
        result.losses.append(float(loss.detach()))
        events(Progress(step))
        if step % settings.eval_every == 0 or step == settings.steps:
            accuracy = evaluate(step)
            result.curve.append((step, accuracy))
            if accuracy > best_accuracy:
                best_accuracy, best_rows, since_best = accuracy, rows.detach().clone(), 0
                result.best_step = step
            else:
                since_best += 1
            if settings.patience is not None and since_best >= settings.patience:
                result.stopped_early = True
                events(Log(f"{series}: stopped early at step {step}, no dev gain in {since_best} evaluations"))
                break
    result.best_accuracy = best_accuracy
    result.prompt = SoftPrompt(
        best_rows.cpu(), meta=PromptMeta(init=start.meta.init, task=task.name, source_model=start.meta.source_model)
    )
    return result


def _cap_rows(rows: torch.Tensor, cap: float | None) -> None:
    """Shorten (in place) every row longer than ``cap``; a no-op without a cap."""
    if cap is not None:
        with torch.no_grad():
            rows.mul_((cap / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)).clamp(max=1.0))


def _batches(size: int, batch_size: int, seed: int):
    """Endless seeded batches of example indices, reshuffled every epoch."""
    shuffler = random.Random(seed)
    whole_batches = size - size % batch_size or size  # drop the ragged tail unless it is all there is
    while True:
        order = list(range(size))
        shuffler.shuffle(order)
        for start in range(0, whole_batches, batch_size):
            yield order[start : start + batch_size]
