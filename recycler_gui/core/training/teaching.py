"""Teaching: the source model, with the source prompt, teaches a prompt for the target on unlabelled texts.

No labelled example is read. The teacher's answer on a text is its distribution over the task's label words (a
softmax of the same rank-classification scores the evaluation uses, on the source model with the source prompt); the
student is a prompt on the target, started from a recycled prompt, trained to minimise KL(teacher || student) over
the label words. Texts held out from training pick the best prompt by agreement with the teacher (ties: the lower
held-out KL). Labelled dev accuracy may be watched as a curve; it never picks. The loop is ``loop.py``'s, shared with
tuning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from ..data.tasks import Task
from ..evaluation.scoring import Scorer
from ..events import CancelToken, EventSink, Point, ignore_events, teach_series
from ..fields import at_least, setting
from ..prompts.formats import PromptMeta, SoftPrompt
from .loop import LoopResult, StepSettings, TrainingSettingsError, train_rows

MIN_TEXTS = 4
"""The fewest texts to teach on: a quarter of them (at least one) is held out to pick the best prompt."""


@dataclass(frozen=True)
class TeachingSettings(StepSettings):
    """How to teach. ``held_out`` texts pick the best prompt. ``temperature`` softens (> 1) or sharpens (< 1) the
    teacher's distribution; 0 trains on the teacher's answer alone (hard targets). ``balance`` divides the teacher's
    answers by their mean over the texts (then renormalises), so that its answers average to an even split of the
    labels: a teacher that calls most texts one label passes on that lean, not its skill, and texts written with the
    label hint cover every label in turn. ``reweight`` keeps the teacher's answers and weighs each text instead, so
    that every label carries the same share of the loss and of the held-out agreement that picks the prompt (texts
    that lean one way teach that way only as much as the other labels' texts)."""

    steps: int = setting(60, "teaching steps")
    learning_rate: float = setting(0.03, "Adam learning rate")
    eval_every: int = setting(10, "agreement evaluation interval in steps")
    held_out: int = setting(64, "texts held out to pick the best prompt by agreement with the teacher")
    temperature: float = setting(1.0, "the teacher's temperature: > 1 softer, < 1 sharper, 0 its answer alone")
    balance: bool = setting(False, "divide the teacher's answers by their mean over the texts (an even label split)")
    reweight: bool = setting(False, "weigh texts so that each label the teacher gives carries the same share of the "
                                     "loss and of the agreement that picks the prompt")

    def check(self) -> None:
        """Types and ranges, before any work."""
        super().check()
        at_least(self, "held_out", 1, "texts")
        if self.temperature < 0:
            raise TrainingSettingsError(f"the teacher's temperature {self.temperature} is negative", "use 1 (or 0)")


@dataclass
class TeachingResult:
    """The best student prompt by held-out agreement with the teacher; ``training`` holds the agreement curve (its
    ``best_value`` is the best agreement), the losses and whether a cancel ended it; ``watched`` the watched curve."""

    prompt: SoftPrompt
    training: LoopResult
    watched: list[tuple[int, float]] = field(default_factory=list)


def label_distribution(scores: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Probabilities over the label words from label scores [texts, labels]; temperature 0 gives one-hot answers."""
    scores = scores.float()
    if temperature == 0:
        return torch.nn.functional.one_hot(scores.argmax(dim=1), scores.shape[1]).float()
    return (scores / temperature).softmax(dim=1)


def teacher_distribution(
    scorer: Scorer, task: Task, texts: Sequence[str], rows: torch.Tensor | None, temperature: float = 1.0, *,
    events: EventSink = ignore_events, cancel: CancelToken | None = None,
) -> torch.Tensor:
    """The teacher's label distribution [texts, labels] on unlabelled ``texts`` rendered in the task's template."""
    scores = scorer.score([task.render(text) for text in texts], rows, events=events, cancel=cancel)
    return label_distribution(scores, temperature)


def _over_label_means(teacher: torch.Tensor) -> torch.Tensor:
    """The teacher's distributions [texts, labels], each label's probabilities divided by their mean over the texts."""
    return teacher / teacher.mean(dim=0, keepdim=True).clamp_min(1e-12)


def balanced(teacher: torch.Tensor) -> torch.Tensor:
    """The teacher's distributions divided by their mean over the texts, renormalised per text."""
    weighted = _over_label_means(teacher)
    return weighted / weighted.sum(dim=1, keepdim=True)


def label_weights(teacher: torch.Tensor) -> torch.Tensor:
    """Per-text weights (mean 1) under which each label carries the same share of the teacher's answers: a text
    weighs the sum over labels of its probability over that label's mean probability."""
    weights = _over_label_means(teacher).sum(dim=1)
    return weights / weights.mean()


def distillation_loss(
    student_scores: torch.Tensor, teacher: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean KL(teacher || student) over the label words, per text weighted by ``weights`` if given; zero when the
    student's distribution equals the teacher's."""
    student = student_scores.float().log_softmax(dim=1)
    divergence = (torch.xlogy(teacher, teacher) - teacher * student).sum(dim=1)
    return divergence.mean() if weights is None else (divergence * weights).sum() / weights.sum()


def agreement(student_scores: torch.Tensor, teacher: torch.Tensor, weights: torch.Tensor | None = None) -> float:
    """Share of texts (weighted by ``weights`` if given) on which the student's best label is the teacher's."""
    same = (student_scores.argmax(dim=1) == teacher.argmax(dim=1)).float()
    return float(same.mean() if weights is None else (same * weights).sum() / weights.sum())


def teach(
    scorer: Scorer,
    task: Task,
    texts: Sequence[str],
    teacher: torch.Tensor,
    start: SoftPrompt,
    settings: TeachingSettings,
    *,
    series: str = teach_series("a given prompt"),
    watch: Callable[[torch.Tensor], float] | None = None,
    events: EventSink = ignore_events,
    cancel: CancelToken | None = None,
) -> TeachingResult:
    """Train ``start`` on the target (``scorer``) to answer like the teacher on ``texts``; keep the best prompt.

    ``teacher`` holds the teacher's label distribution for each text. The last ``settings.held_out`` texts (at most a
    quarter of them) are held out to pick the best prompt. ``watch(rows)`` (for example labelled dev accuracy) is
    called at every evaluation and recorded as a curve of its own; it does not pick. On a cancel the result has
    ``cancelled`` set and the best prompt so far.
    """
    settings.check()
    if len(texts) != len(teacher):
        raise TrainingSettingsError(f"{len(texts)} texts but {len(teacher)} teacher answers", "score every text")
    if len(texts) < MIN_TEXTS:
        raise TrainingSettingsError(
            f"{len(texts)} texts are too few to teach on and hold some out to pick the best prompt",
            "write or give more texts (a few hundred)",
        )
    held_out = min(settings.held_out, len(texts) // 4)
    cancel = cancel or CancelToken()
    encoded = [scorer.input_ids(task.render(text)) for text in texts]
    train_count = len(texts) - held_out
    answers = balanced(teacher) if settings.balance else teacher
    targets = label_distribution(answers.log(), settings.temperature) if settings.temperature != 1 else answers
    targets = targets.to(scorer.device)
    held_texts = [task.render(text) for text in texts[train_count:]]
    held_teacher = answers[train_count:]
    weights = held_weights = None
    if settings.reweight:
        weights = label_weights(answers[:train_count]).to(scorer.device)
        held_weights = label_weights(held_teacher)
    watched: list[tuple[int, float]] = []

    def batch_loss(rows: torch.Tensor, indices: list[int]) -> torch.Tensor:
        return distillation_loss(scorer.label_scores([encoded[i] for i in indices], rows), targets[indices],
                                 None if weights is None else weights[indices])

    def evaluate(rows: torch.Tensor, step: int) -> tuple[float, tuple[float, ...]]:
        student = scorer.score(held_texts, rows, cancel=cancel)
        value = agreement(student, held_teacher, held_weights)
        if watch is not None:
            watched.append((step, watch(rows)))
            events(Point(f"{series} · watched", step, watched[-1][1]))
        return value, (value, -float(distillation_loss(student, held_teacher, held_weights)))

    loop = train_rows(
        start.encoder, batch_loss, evaluate, train_count, settings, device=scorer.device, series=series,
        events=events, cancel=cancel,
    )
    meta = PromptMeta(init=f"taught, from {start.meta.init or 'a given prompt'}", task=task.name,
                      source_model=start.meta.source_model)
    return TeachingResult(SoftPrompt(loop.rows, meta=meta), loop, watched)
