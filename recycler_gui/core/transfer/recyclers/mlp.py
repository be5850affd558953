"""v2v-nn (paper): a small MLP from source to target word vectors."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ...events import CancelToken, EventSink, Point
from .base import Recycler


class V2VNetwork(Recycler):
    """``Linear(E_s, 4·E_t) → ReLU → Linear(4·E_t, E_t)``; Adam, batch 50, 25 epochs, mean 0.5·squared-error loss.

    Adam is the fused kernel: one pass over the 3M weights per step, not several."""

    name = "v2v-nn"
    summary = "two-layer MLP fitted on word vectors (paper)"
    colour = "#ff7f0e"
    main_parameter = "epochs"
    defaults: ClassVar[dict[str, Any]] = {"norm": "keep", "epochs": 25, "batch_size": 50, "learning_rate": 3e-4}

    def _network(self, source_dim: int, target_dim: int) -> nn.Sequential:
        return nn.Sequential(nn.Linear(source_dim, 4 * target_dim), nn.ReLU(), nn.Linear(4 * target_dim, target_dim))

    def _fit(self, source: torch.Tensor, target: torch.Tensor, events: EventSink, cancel: CancelToken) -> None:
        generator = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = self._network(source.shape[1], target.shape[1])
        x, y = source.float(), target.float()
        optimizer = torch.optim.Adam(network.parameters(), lr=float(self.params["learning_rate"]), fused=True)
        batch = int(self.params["batch_size"])
        for epoch in range(int(self.params["epochs"]) + 1):
            if epoch:  # epoch 0 records the loss before training
                cancel.check()
                for index in torch.randperm(len(x), generator=generator).split(batch):
                    optimizer.zero_grad()
                    loss = 0.5 * (network(x[index]) - y[index]).pow(2).sum(dim=1).mean()
                    loss.backward()
                    optimizer.step()
            with torch.no_grad():
                self.loss_history.append(self._loss(network(x).double(), target))
            events(Point(self.loss_series, epoch, self.loss_history[-1]))
        self.state.update({name: value.detach().double() for name, value in network.state_dict().items()})

    def _apply(self, rows: torch.Tensor, cancel: CancelToken) -> torch.Tensor:
        target_dim = self.state["2.weight"].shape[0]
        network = self._network(self.state["0.weight"].shape[1], target_dim).double()
        network.load_state_dict({k: v for k, v in self.state.items() if k[0].isdigit()})
        with torch.no_grad():
            return network(rows)
