"""Is a row better than the best baseline, or only by luck? An exact paired test on the same examples.

Both rows were scored on the same test examples, so only the examples where exactly one of them is right say anything:
``b`` (the row right, the baseline wrong) and ``c`` (the reverse). Without a real difference each discordant example
is a fair coin, so the exact McNemar test's two-sided p-value is ``2 * P(X <= min(b, c))`` for ``X ~ Binomial(b + c,
1/2)`` (capped at 1). A row beats the baseline significantly when it is more accurate and p < ``ALPHA``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

ALPHA = 0.05
"""The test's level: 95% confidence."""


@dataclass(frozen=True)
class PairedTest:
    """Discordant counts and the two-sided exact McNemar p-value of row vs baseline."""

    row_only: int
    baseline_only: int
    p_value: float

    @property
    def row_better(self) -> bool:
        return self.row_only > self.baseline_only

    def significant(self, alpha: float = ALPHA) -> bool:
        """The row is right more often and the difference is significant at ``alpha``."""
        return self.row_better and self.p_value < alpha


def mcnemar_exact(row_only: int, baseline_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts."""
    n = row_only + baseline_only
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(row_only, baseline_only) + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_test(row: Sequence[int], baseline: Sequence[int], gold: Sequence[int]) -> PairedTest:
    """Compare two rows' predicted label ids on the same examples (``gold`` in the same order)."""
    if not len(row) == len(baseline) == len(gold):
        raise ValueError(f"paired predictions differ in length: {len(row)}, {len(baseline)}, {len(gold)}")
    row_only = sum(r == g != b for r, b, g in zip(row, baseline, gold, strict=True))
    baseline_only = sum(b == g != r for r, b, g in zip(row, baseline, gold, strict=True))
    return PairedTest(row_only, baseline_only, mcnemar_exact(row_only, baseline_only))
