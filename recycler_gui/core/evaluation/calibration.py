"""Data-free calibrated accuracy: take out a model's label bias measured on content-free inputs.

Zhao et al. 2021, "Calibrate Before Use" (arXiv 2102.09690): render inputs that carry no content (``N/A``, an empty
text, ``[MASK]``) in the task's template, average the label probabilities the model gives them, and divide every
later prediction's label probabilities by that mean. No labelled data is read. A prompt whose accuracy gain is only a
shift of the label bias gains nothing here; a prompt that carries skill keeps its lead. Shown beside the plain
accuracy of every row, so a user can tell the two apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..data.tasks import Task
from ..events import CancelToken
from .scoring import Scorer

CONTENT_FREE = ("N/A", "", "[MASK]")
"""Texts that say nothing, rendered in the task's template to measure the label bias."""


def content_free_bias(
    scorer: Scorer, task: Task, rows: torch.Tensor | None, cancel: CancelToken | None = None,
    texts: Sequence[str] = CONTENT_FREE,
) -> torch.Tensor:
    """Log of the mean label probabilities over the content-free inputs, [labels]."""
    scores = scorer.score([task.render(text) for text in texts], rows, cancel=cancel)
    return bias_from_scores(scores)


def bias_from_scores(content_free_scores: torch.Tensor) -> torch.Tensor:
    """Log of the mean softmax over label scores of content-free inputs ([inputs, labels] -> [labels])."""
    return content_free_scores.float().softmax(dim=1).mean(dim=0).log()


def calibrate(scores: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Calibrated label log-probabilities: the label probabilities divided by the content-free mean (log space)."""
    return scores.float().log_softmax(dim=1) - bias


def calibrated_accuracy(scores: torch.Tensor, gold: torch.Tensor, bias: torch.Tensor) -> float:
    """Accuracy of the calibrated predictions."""
    return float((calibrate(scores, bias).argmax(dim=1) == gold).float().mean())
