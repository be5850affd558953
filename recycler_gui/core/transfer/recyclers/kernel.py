"""Sparse, non-negative lin-comb: each prompt row as a softmax mix of its nearest source words (ours)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ...events import CancelToken, EventSink
from .base import Recycler


class KernelMix(Recycler):
    """Ours: weights ``softmax(cos(row, word) / temperature)`` over the ``top_k`` source words nearest to each row;
    the recycled row is the same mix of those words' target vectors.

    Unlike lin-comb's unconstrained least squares, the mix is convex, so the recycled row always lies inside the
    target vocabulary's region, however far outside its own the source row was. What is carried over is *which words*
    the row points towards, not its coordinates.
    """

    name = "kernel"
    summary = "convex mix of the nearest words, same mix of target words (ours)"
    colour = "#8c564b"
    main_parameter = "top_k"
    defaults: ClassVar[dict[str, Any]] = {"norm": "keep", "top_k": 32, "temperature": 0.05}
    apply_params: ClassVar[frozenset[str]] = frozenset({"norm", "top_k", "temperature"})

    def _fit(self, source: torch.Tensor, target: torch.Tensor, events: EventSink, cancel: CancelToken) -> None:
        self.state.update(source_directions=F.normalize(source, dim=1), target_words=target)
        self.loss_history = [self._loss(self._apply(source[:2048], cancel), target[:2048])]

    def _apply(self, rows: torch.Tensor, cancel: CancelToken) -> torch.Tensor:
        similarity = F.normalize(rows, dim=1) @ self.state["source_directions"].T
        top = similarity.topk(min(int(self.params["top_k"]), similarity.shape[1]), dim=1)
        weights = (top.values / float(self.params["temperature"])).softmax(dim=1)
        return (weights.unsqueeze(2) * self.state["target_words"][top.indices]).sum(dim=1)
