"""lin-comb (paper): the prompt as a least-squares mix of source word vectors, the same mix of target word vectors."""

from __future__ import annotations

import torch

from ...events import CancelToken, EventSink
from .base import Recycler


class LinearCombination(Recycler):
    """``x = lstsq(S_supportᵀ, promptᵀ)`` (minimum norm); recycled = ``xᵀ @ T_support``. Nothing is fitted.

    With more support words than dimensions this equals v2v-lin exactly (x = S(SᵀS)⁻¹pᵀ), as the paper's formulation
    implies; it differs when the support is smaller than the embedding width.
    """

    name = "lin-comb"
    summary = "prompt as a mix of source words, same mix of target words (paper)"
    colour = "#9467bd"

    def _fit(self, source: torch.Tensor, target: torch.Tensor, events: EventSink, cancel: CancelToken) -> None:
        self.state.update(source_support=source, target_support=target)

    def _apply(self, rows: torch.Tensor, cancel: CancelToken) -> torch.Tensor:
        mix = torch.linalg.lstsq(self.state["source_support"].T, rows.T, driver="gelsd").solution
        return mix.T @ self.state["target_support"]
