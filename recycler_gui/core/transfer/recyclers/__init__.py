"""Recyclers: the paper's three (v2v-lin, v2v-nn, lin-comb) and our own (ridge, procrustes, relative, kernel)."""

from __future__ import annotations

from .base import NORM_MODES, Recycler, RecyclerParameterError
from .kernel import KernelMix
from .lincomb import LinearCombination
from .linear import RidgeLinear, V2VLinear
from .mlp import V2VNetwork
from .procrustes import Procrustes
from .relative import RelativeSpace

RECYCLERS: dict[str, type[Recycler]] = {
    cls.name: cls
    for cls in (V2VLinear, V2VNetwork, LinearCombination, RidgeLinear, Procrustes, RelativeSpace, KernelMix)
}
"""Every recycler by name, the paper's first."""

RECOMMENDED = "procrustes"
"""The default of `recycle` and the method the window marks: the data-free recycler that does best over both directions
of our real-model benchmark (docs/BENCHMARKS.md, "Recycling quality"; the reasons in docs/RECYCLERS.md, "The
default")."""


def recycler_class(name: str) -> type[Recycler]:
    """The recycler class called ``name``, or a clear error listing the known ones."""
    try:
        return RECYCLERS[name]
    except KeyError:
        raise RecyclerParameterError(
            f"unknown recycling method {name!r}", f"choose from {', '.join(RECYCLERS)} (or all)"
        ) from None


__all__ = [
    "NORM_MODES", "RECOMMENDED", "RECYCLERS", "Recycler", "RecyclerParameterError", "recycler_class",
]
