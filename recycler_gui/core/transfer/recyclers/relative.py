"""Relative-space transfer in the style of PTfer (Wu, Wu, Mou, ICLR 2024) (ours)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ...events import CancelToken, EventSink
from .base import Recycler


class RelativeSpace(Recycler):
    """Ours: describe each prompt row by its cosine similarities to shared anchor words, then find target rows whose
    similarities to the same words match (Adam on a cosine loss), and give them the row's relative length.

    No map between spaces is assumed at all, so nothing extrapolates: the recycled row is defined by where it sits
    among words the two models share, which is the only information both spaces agree on.
    """

    name = "relative"
    summary = "match cosine similarities to shared anchor words (PTfer-style, ours)"
    colour = "#bcbd22"
    main_parameter = "steps"
    defaults: ClassVar[dict[str, Any]] = {"norm": "relative", "top_k": 512, "steps": 300, "learning_rate": 0.05}
    apply_params: ClassVar[frozenset[str]] = frozenset({"norm", "top_k", "steps", "learning_rate"})

    def _fit(self, source: torch.Tensor, target: torch.Tensor, events: EventSink, cancel: CancelToken) -> None:
        self.state.update(source_anchors=F.normalize(source, dim=1), target_anchors=F.normalize(target, dim=1))

    def _apply(self, rows: torch.Tensor, cancel: CancelToken) -> torch.Tensor:
        source_anchors, target_anchors = self.state["source_anchors"].float(), self.state["target_anchors"].float()
        wanted = F.normalize(rows.float(), dim=1) @ source_anchors.T
        top = wanted.topk(min(int(self.params["top_k"]), wanted.shape[1]), dim=1).indices
        wanted_top = wanted.gather(1, top)
        start = (wanted_top.softmax(dim=1).unsqueeze(2) * target_anchors[top]).sum(dim=1)
        recycled = start.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([recycled], lr=float(self.params["learning_rate"]))
        for step in range(int(self.params["steps"])):
            if step % 50 == 0:
                cancel.check()
            optimizer.zero_grad()
            got = (F.normalize(recycled, dim=1) @ target_anchors.T).gather(1, top)
            loss = (1 - F.cosine_similarity(got, wanted_top, dim=1)).mean()
            loss.backward()
            optimizer.step()
        return recycled.detach().double()
