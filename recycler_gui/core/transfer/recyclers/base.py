"""The interface every recycler shares: parameters, ``fit``, apply, ``save`` and ``load``."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ...errors import CorruptFileError, RecyclerError
from ...events import FIT_LOSS_SERIES, CancelToken, EventSink, Point, ignore_events
from ...storage import write_atomic

NORM_MODES = ("keep", "target", "relative")
"""How recycled rows get their length: as mapped; the target vocabulary's mean norm; or the source row's norm
relative to the source vocabulary, carried into the target's."""


class RecyclerParameterError(RecyclerError):
    """An unknown recycler or a bad recycler parameter."""


class Recycler(ABC):
    """Maps prompt rows from a source embedding space to a target one, fitted on aligned word vectors only."""

    name: ClassVar[str]
    summary: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {"norm": "keep"}
    apply_params: ClassVar[frozenset[str]] = frozenset({"norm"})
    """Parameters read only when applying the fitted state, so one fit serves every value of them."""
    main_parameter: ClassVar[str] = "norm"
    """The parameter the window offers beside the method; the others keep their defaults (or come from a job file)."""
    colour: ClassVar[str | None] = None
    """The method's colour in every plot; None gives a stable colour made from its name."""

    def __init__(self, seed: int = 0, **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise RecyclerParameterError(
                f"{self.name} has no parameter {', '.join(sorted(unknown))}",
                f"its parameters are {', '.join(self.defaults)}",
            )
        for name, value in params.items():
            wanted = type(self.defaults[name])
            if isinstance(value, bool) or not isinstance(value, int | float if wanted is float else wanted):
                raise RecyclerParameterError(
                    f"{self.name}'s parameter {name} is {value!r}, not {'a text' if wanted is str else 'a number'}",
                    f"give it like its default, {json.dumps(self.defaults[name])}",
                )
        self.seed = seed
        self.params = {**self.defaults, **params}
        if self.params["norm"] not in NORM_MODES:
            raise RecyclerParameterError(
                f"unknown norm mode {self.params['norm']!r}", f"use one of {', '.join(NORM_MODES)}"
            )
        self.state: dict[str, torch.Tensor] = {}
        self.loss_history: list[float] = []

    @property
    def fit_params(self) -> dict[str, Any]:
        """The parameters the fitted state depends on (every parameter but the ``apply_params``)."""
        return {name: value for name, value in self.params.items() if name not in self.apply_params}

    def take_fit(self, fitted: Recycler) -> None:
        """Use the fitted state of ``fitted`` (same method and fit parameters), keeping this one's apply parameters."""
        if (fitted.name, fitted.seed, fitted.fit_params) != (self.name, self.seed, self.fit_params):
            raise RecyclerParameterError(
                f"the fitted {fitted.name} was made with other settings ({fitted.fit_params}, seed {fitted.seed})",
                "fit it again (`recycle --no-cache`, or delete the cached fit)",
            )
        self.state, self.loss_history = fitted.state, fitted.loss_history

    @property
    def fit_loss(self) -> float | None:
        """Final fit loss (mean of 0.5 * squared error on the fitting words), or None when nothing is fitted."""
        return self.loss_history[-1] if self.loss_history else None

    def fit(
        self,
        source: torch.Tensor,
        target: torch.Tensor,
        events: EventSink = ignore_events,
        cancel: CancelToken | None = None,
    ) -> Recycler:
        """Fit on aligned word vectors: ``source`` [words, E_s] and ``target`` [words, E_t]."""
        source, target = source.double(), target.double()
        self.state = {
            "source_mean_norm": source.norm(dim=1).mean().reshape(1),
            "target_mean_norm": target.norm(dim=1).mean().reshape(1),
        }
        self._fit(source, target, events, cancel or CancelToken())
        if len(self.loss_history) == 1:  # closed-form fits; iterative ones report each epoch themselves
            self.report_loss(events)
        return self

    def report_loss(self, events: EventSink) -> None:
        """Send the fit-loss curve as ``Point`` events (x: epoch, from 0 for iterative fits; 1 for closed forms)."""
        start = 1 if len(self.loss_history) == 1 else 0
        for x, loss in enumerate(self.loss_history, start=start):
            events(Point(self.loss_series, x, loss))

    @property
    def loss_series(self) -> str:
        """The name of this recycler's fit-loss curve in ``Point`` events."""
        return f"{FIT_LOSS_SERIES}{self.name}"

    def __call__(self, prompt: torch.Tensor, cancel: CancelToken | None = None) -> torch.Tensor:
        """Recycle prompt rows [P, E_s] into [P, E_t] (float32)."""
        if not self.state:
            raise RecyclerParameterError(f"{self.name} is not fitted", "fit it or load a fitted one first")
        rows = prompt.double()
        mapped = self._apply(rows, cancel or CancelToken())
        norm = self.params["norm"]
        if norm != "keep":
            target_norm = self.state["target_mean_norm"]
            if norm == "relative":
                target_norm = target_norm * rows.norm(dim=1, keepdim=True) / self.state["source_mean_norm"]
            mapped = mapped / mapped.norm(dim=1, keepdim=True).clamp_min(1e-12) * target_norm
        return mapped.float()

    @abstractmethod
    def _fit(self, source: torch.Tensor, target: torch.Tensor, events: EventSink, cancel: CancelToken) -> None:
        """Fill ``self.state`` (float64 tensors) and ``self.loss_history``."""

    @abstractmethod
    def _apply(self, rows: torch.Tensor, cancel: CancelToken) -> torch.Tensor:
        """Map float64 rows with the fitted state."""

    @staticmethod
    def _loss(predicted: torch.Tensor, target: torch.Tensor) -> float:
        return float(0.5 * (predicted - target).pow(2).sum(dim=1).mean())

    def save(self, path: Path) -> None:
        """Write the fitted state and parameters to one safetensors file, atomically."""
        header = {
            "method": self.name,
            "seed": str(self.seed),
            "params": json.dumps(self.params),
            "loss_history": json.dumps(self.loss_history),
        }
        tensors = {name: tensor.contiguous() for name, tensor in self.state.items()}
        write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=header))

    @classmethod
    def load(cls, path: Path) -> Recycler:
        """Read a recycler of this class written by ``save`` (``RidgeLinear.load(path)``)."""
        try:
            with safe_open(str(path), framework="pt") as handle:
                header = handle.metadata() or {}
                state = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
            if header["method"] != cls.name:
                raise ValueError(f"it holds a fitted {header['method']}, not {cls.name}")
            recycler = cls(seed=int(header["seed"]), **json.loads(header["params"]))
            recycler.loss_history = json.loads(header["loss_history"])
        except (OSError, ValueError, KeyError, SafetensorError) as error:
            raise CorruptFileError(
                f"the fitted recycler {path} cannot be read ({error})", "delete it; it is refitted on the next run"
            ) from error
        recycler.state = state
        return recycler
