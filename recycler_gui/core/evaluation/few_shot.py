"""Few-shot mode: with k labelled target examples, pick among candidate prompts and calibrate the label bias.

This is not data-free recycling: it reads target-task labels, so its numbers are always reported apart from the
data-free ones. The k examples come from the train split, balanced over labels, and never from dev or test.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from ..data.tasks import Example, Task
from ..errors import RecyclerError
from ..events import CancelToken
from .scoring import Scorer

MAX_SHOTS = 32


class FewShotError(RecyclerError):
    """Bad few-shot settings."""


@dataclass(frozen=True)
class FewShotPick:
    """The candidate with the best accuracy on the k examples, with every candidate's k-shot accuracy."""

    name: str
    rows: torch.Tensor | None
    accuracy: float
    accuracies: dict[str, float]
    scores: torch.Tensor
    """The pick's label scores on the k examples (for ``label_bias``)."""


def few_shot_examples(task: Task, k: int, seed: int = 0) -> list[Example]:
    """``k`` train examples, as even over the labels as ``k`` allows, drawn with ``seed``."""
    if not 1 <= k <= MAX_SHOTS:
        raise FewShotError(f"{k} shots is outside 1..{MAX_SHOTS}", f"use at most {MAX_SHOTS} labelled examples")
    shuffler = random.Random(seed)
    by_label: dict[int, list[Example]] = {}
    for example in task.train:
        by_label.setdefault(example.label, []).append(example)
    pools = [shuffler.sample(pool, len(pool)) for _, pool in sorted(by_label.items())]
    picked: list[Example] = []
    while len(picked) < k and any(pools):
        for pool in pools:
            if pool and len(picked) < k:
                picked.append(pool.pop())
    return picked


def pick_by_few_shot(
    scorer: Scorer, task: Task, candidates: dict[str, torch.Tensor | None], examples: list[Example],
    cancel: CancelToken | None = None,
) -> FewShotPick:
    """Score every candidate prompt on ``examples``; the most accurate wins (the first one on ties)."""
    texts, gold = task.rendered(examples)
    accuracies, scores = {}, {}
    for name, rows in candidates.items():
        scores[name] = scorer.score(texts, rows, cancel=cancel)
        accuracies[name] = float((scores[name].argmax(1) == gold).float().mean())
    best = max(accuracies, key=lambda name: accuracies[name])
    return FewShotPick(best, candidates[best], accuracies[best], accuracies, scores[best])


def label_bias(scores: torch.Tensor) -> torch.Tensor:
    """Per-label bias to subtract from label scores: each label's mean score over label-balanced examples.

    A model that prefers one label word whatever the input (Gemma-3-270M says " positive" 90% of the time without a
    prompt) gets that preference taken out; fitted on the k examples, applied to every later prediction.
    """
    return scores.mean(dim=0) - scores.mean()
