"""Confidence intervals and paired significance tests over per-user metric values.

- :func:`bootstrap_ci`: percentile bootstrap of the mean over users.
- :func:`paired_test`: two models on the same users. The confidence interval of
  the mean difference is the paired percentile bootstrap; the p-value (two-sided)
  comes, by default, from a paired sign-flip permutation test (randomisation
  test of "no difference": under H0 each user's difference is equally likely
  with either sign). The permutation p-value is exact up to Monte Carlo error and
  valid for small samples, where bootstrap p-values are anti-conservative.
  ``method="wilcoxon"`` (scipy's signed-rank test) and ``method="bootstrap"``
  (bootstrap p-value, also :func:`paired_bootstrap`) are alternatives.

NaN values (e.g. a user whose AUC is undefined) are dropped: in pairs, a pair
is dropped when either side is NaN. Resampling works on index matrices drawn
in chunks, so memory stays bounded for any number of users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

_CHUNK_ELEMENTS = 1 << 22  # resampled values held in memory at once


@dataclass(frozen=True)
class PairedResult:
    """Mean difference ``a - b`` with its CI and a two-sided p-value; ``n`` pairs used."""

    diff: float
    low: float
    high: float
    p_value: float
    n: int
    method: str


def _resampled_means(values: np.ndarray, n_boot: int, rng: np.random.Generator,
                     draw: Callable[[np.random.Generator, int, int], np.ndarray] | None = None) -> np.ndarray:
    """``n_boot`` means of ``values`` resampled with replacement (or by ``draw``), chunked."""
    n = len(values)
    rows = max(1, _CHUNK_ELEMENTS // max(1, n))
    out = np.empty(n_boot, np.float64)
    for start in range(0, n_boot, rows):
        m = min(rows, n_boot - start)
        if draw is None:
            out[start:start + m] = values[rng.integers(0, n, size=(m, n))].mean(axis=1)
        else:
            out[start:start + m] = draw(rng, m, n) @ values / n
    return out


def _clean(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[~np.isnan(v)]


def _interval(means: np.ndarray, alpha: float) -> tuple[float, float]:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` and its percentile-bootstrap ``1 - alpha`` interval.

    NaNs are dropped; with no values all three are NaN, with ``n_boot=0`` the
    interval is ``(mean, mean)``.
    """
    v = _clean(values)
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if n_boot <= 0:
        return mean, mean, mean
    low, high = _interval(_resampled_means(v, n_boot, np.random.default_rng(seed)), alpha)
    return mean, low, high


def _pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same users: {a.shape} vs {b.shape}")
    d = a - b
    return d[~np.isnan(d)]


def _sign_flips(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    return rng.integers(0, 2, size=(m, n), dtype=np.int8) * 2.0 - 1.0


def paired_test(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0,
                method: Literal["permutation", "bootstrap", "wilcoxon"] = "permutation",
                n_perm: int | None = None) -> PairedResult:
    """Compare two models' per-user values (same users, same order); see the module docstring.

    ``diff`` is ``mean(a - b)``, ``low``/``high`` its paired-bootstrap interval,
    ``p_value`` two-sided from ``method`` (``n_perm`` sign flips, default ``n_boot``;
    the permutation p-value is ``(1 + #{|flipped mean| >= |observed|}) / (1 + n_perm)``,
    except that all-zero differences give exactly 1).
    """
    d = _pairs(a, b)
    n = len(d)
    if n == 0:
        return PairedResult(float("nan"), float("nan"), float("nan"), float("nan"), 0, method)
    diff = float(d.mean())
    rng = np.random.default_rng(seed)
    if n_boot > 0:
        boot = _resampled_means(d, n_boot, rng)
        low, high = _interval(boot, alpha)
    else:
        boot, low, high = np.array([diff]), diff, diff
    if not np.any(d):
        p = 1.0
    elif method == "permutation":
        n_perm = n_boot if n_perm is None else n_perm
        flipped = _resampled_means(d, max(1, n_perm), np.random.default_rng([seed, 1]), draw=_sign_flips)
        tol = 1e-12 * max(1.0, abs(diff))
        p = float((1 + np.sum(np.abs(flipped) >= abs(diff) - tol)) / (1 + len(flipped)))
    elif method == "bootstrap":
        # shift the bootstrap distribution to H0 (mean 0) and count as-extreme means
        p = float((1 + np.sum(np.abs(boot - diff) >= abs(diff))) / (1 + len(boot)))
    elif method == "wilcoxon":
        from scipy.stats import wilcoxon

        p = float(wilcoxon(d, zero_method="zsplit").pvalue)
    else:
        raise ValueError(f"unknown method {method!r}; use 'permutation', 'bootstrap' or 'wilcoxon'")
    return PairedResult(diff, low, high, min(1.0, p), n, method)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, alpha: float = 0.05,
                     seed: int = 0) -> PairedResult:
    """:func:`paired_test` with the bootstrap p-value (CI and p from the same resamples)."""
    return paired_test(a, b, n_boot=n_boot, alpha=alpha, seed=seed, method="bootstrap")
