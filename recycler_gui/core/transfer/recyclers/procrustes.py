"""Orthogonal Procrustes between centred, scale-normalised embedding spaces (ours)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ...events import CancelToken, EventSink
from .base import Recycler


class Procrustes(Recycler):
    """Ours: centre and scale both spaces, then the best (semi-)orthogonal map ``W = U Vᵀ`` from the SVD of ``XᵀY``;
    rows land at the target vocabulary's mean length.

    An orthogonal map preserves angles, so it cannot blow up directions the words leave undetermined, as least squares
    does for prompt rows far outside the vocabulary region: each row's direction relative to the words is carried
    over. Its length is not: tuned rows are often many times the vocabulary's length (14x on SmolLM2), and a target
    model reads such rows badly, so by default they are set to the target vocabulary's mean norm (``norm="keep"``
    carries the scaled length over instead). The recommended recycler; docs/RECYCLERS.md says why.
    """

    name = "procrustes"
    summary = "orthogonal map between centred, scaled spaces, rows at the target's norm (ours)"
    colour = "#17becf"
    defaults: ClassVar[dict[str, Any]] = {"norm": "target"}

    def _fit(self, source: torch.Tensor, target: torch.Tensor, events: EventSink, cancel: CancelToken) -> None:
        source_mean, target_mean = source.mean(dim=0), target.mean(dim=0)
        x, y = source - source_mean, target - target_mean
        source_scale, target_scale = x.pow(2).sum(dim=1).mean().sqrt(), y.pow(2).sum(dim=1).mean().sqrt()
        u, _, vh = torch.linalg.svd((x / source_scale).T @ (y / target_scale), full_matrices=False)
        self.state.update(
            weight=u @ vh,
            source_mean=source_mean,
            target_mean=target_mean,
            scale=(target_scale / source_scale).reshape(1),
        )
        self.loss_history = [self._loss(self._apply(source, cancel), target)]

    def _apply(self, rows: torch.Tensor, cancel: CancelToken) -> torch.Tensor:
        centred = rows - self.state["source_mean"]
        return centred @ self.state["weight"] * self.state["scale"] + self.state["target_mean"]
