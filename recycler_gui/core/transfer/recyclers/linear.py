"""Linear maps between embedding spaces: the paper's v2v-lin, and ridge regression tuned on held-out words."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ...events import CancelToken, EventSink
from .base import Recycler

RIDGE_GRID = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
"""Candidate ridges, as fractions of the mean eigenvalue of the centred source Gram matrix."""


class V2VLinear(Recycler):
    """v2v-lin (paper): ``W = lstsq(source, target)``, no bias; recycled = ``prompt @ W``."""

    name = "v2v-lin"
    summary = "least-squares linear map fitted on word vectors (paper)"
    colour = "#1f77b4"

    def _fit(self, source: torch.Tensor, target: torch.Tensor, events: EventSink, cancel: CancelToken) -> None:
        weight = torch.linalg.lstsq(source, target, driver="gelsd").solution
        self.state["weight"] = weight
        self.loss_history = [self._loss(source @ weight, target)]

    def _apply(self, rows: torch.Tensor, cancel: CancelToken) -> torch.Tensor:
        return rows @ self.state["weight"]


def ridge_solve(source: torch.Tensor, target: torch.Tensor, ridge: float) -> torch.Tensor:
    """``(XᵀX + ridge·I)⁻¹ XᵀY`` for centred ``source`` X and ``target`` Y."""
    gram = source.T @ source
    return torch.linalg.solve(gram + ridge * torch.eye(gram.shape[0], dtype=gram.dtype), source.T @ target)


class RidgeLinear(Recycler):
    """Ours: centred ridge regression whose ridge is picked on held-out word pairs, rows rescaled to the target.

    Tuned prompts sit far outside the vocabulary region, where an unregularised map extrapolates wildly; a ridge
    chosen for generalisation to unseen words shrinks the directions the words do not pin down, centring keeps the
    map from spending capacity on the mean offset, and rescaling lands rows at the length the target expects.
    """

    name = "ridge"
    summary = "centred ridge map, ridge picked on held-out words, rows at the target's norm (ours)"
    colour = "#d62728"
    defaults: ClassVar[dict[str, Any]] = {"norm": "target", "holdout": 0.1}

    def _fit(self, source: torch.Tensor, target: torch.Tensor, events: EventSink, cancel: CancelToken) -> None:
        source_mean, target_mean = source.mean(dim=0), target.mean(dim=0)
        x, y = source - source_mean, target - target_mean
        scale = float(torch.linalg.matrix_norm(x) ** 2 / x.shape[1])
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        cut = max(1, int(len(x) * float(self.params["holdout"])))
        held, kept = order[:cut], order[cut:]
        errors = []
        for fraction in RIDGE_GRID:
            cancel.check()
            weight = ridge_solve(x[kept], y[kept], fraction * scale)
            errors.append(self._loss(x[held] @ weight, y[held]))
        best = RIDGE_GRID[min(range(len(RIDGE_GRID)), key=errors.__getitem__)]
        weight = ridge_solve(x, y, best * scale)
        self.state.update(
            weight=weight, source_mean=source_mean, target_mean=target_mean, ridge=torch.tensor([best * scale])
        )
        self.loss_history = [self._loss(x @ weight, y)]

    def _apply(self, rows: torch.Tensor, cancel: CancelToken) -> torch.Tensor:
        return (rows - self.state["source_mean"]) @ self.state["weight"] + self.state["target_mean"]
