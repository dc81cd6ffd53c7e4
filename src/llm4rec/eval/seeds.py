"""Statistics across seeds: the variance a per-user bootstrap cannot see.

A bootstrap over users measures how much a mean would move with other users of
the *same* split and candidates. Results that rest on a random split (cold-start
items or users) or on random candidates also move with the seed that drew them,
often by more. These helpers summarise one number per seed:

- :func:`seed_spread`: mean, sample standard deviation, min and max over seeds;
- :func:`compare_across_seeds`: model A minus model B seed by seed (the same
  seeds), how many seeds agree on the sign, and a two-sided paired t-test over
  the per-seed differences (``n - 1`` degrees of freedom: with 3 seeds only a
  large, consistent difference is significant).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SeedSpread:
    """One metric of one model over seeds: ``std`` is the sample standard deviation (NaN for one seed)."""

    mean: float
    std: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.std:.4f}" if self.n > 1 else f"{self.mean:.4f}"


@dataclass(frozen=True)
class SeedComparison:
    """``a - b`` per seed: mean and standard deviation of the differences, seeds where ``a > b``, t-test p."""

    diff: float
    std: float
    wins: int
    n: int
    p_value: float


def _values(values: Sequence[float]) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[~np.isnan(v)]


def seed_spread(values: Sequence[float]) -> SeedSpread:
    """Mean and spread of one value per seed (NaNs dropped)."""
    v = _values(values)
    if len(v) == 0:
        nan = float("nan")
        return SeedSpread(nan, nan, nan, nan, 0)
    std = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    return SeedSpread(float(v.mean()), std, float(v.min()), float(v.max()), len(v))


def compare_across_seeds(a: Sequence[float], b: Sequence[float]) -> SeedComparison:
    """Paired comparison over seeds of two models' per-seed values (same seeds, same order)."""
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"per-seed values must pair up: {x.shape} vs {y.shape}")
    d = x - y
    d = d[~np.isnan(d)]
    n = len(d)
    if n == 0:
        nan = float("nan")
        return SeedComparison(nan, nan, 0, 0, nan)
    std = float(d.std(ddof=1)) if n > 1 else float("nan")
    if n < 2:
        p = float("nan")
    elif std == 0:
        p = 1.0 if d[0] == 0 else 0.0
    else:
        from scipy.stats import t

        stat = d.mean() / (std / np.sqrt(n))
        p = float(2 * t.sf(abs(stat), df=n - 1))
    return SeedComparison(float(d.mean()), std, int(np.sum(d > 0)), n, p)
