"""Candidate sampling: negatives per (user, target) row, and the ``user * n_items + item`` keys it works on.

Every sampled protocol draws through :func:`sample_negatives`, so candidates depend
only on the split, the seed and the sampler, never on the model.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError


def pair_keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """One int64 key per (user, item) pair: ``user * n_items + item``."""
    return np.asarray(users, dtype=np.int64) * n_items + np.asarray(items, dtype=np.int64)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (numpy 2's hash-based unique is much slower on large int arrays)."""
    a = np.sort(a)
    return a[np.r_[True, a[1:] != a[:-1]]] if len(a) else a


def unique_pair_keys(inters: Iterable[Interactions], n_items: int) -> np.ndarray:
    """Sorted distinct pair keys of the interaction logs."""
    return _sorted_unique(np.concatenate([pair_keys(x.user, x.item, n_items) for x in inters]))


def contains(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Elementwise ``queries in sorted_keys`` via binary search (any shape)."""
    if len(sorted_keys) == 0:
        return np.zeros(np.shape(queries), bool)
    pos = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return sorted_keys[pos] == queries


def sample_negatives(row_users: np.ndarray, n: int, exclude_keys: np.ndarray, n_items: int,
                     weights: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct negatives per row: items the row's user has no key for in ``exclude_keys``.

    ``exclude_keys`` are sorted, distinct ``user * n_items + item`` keys.

    Draws i.i.d. item ids (uniform, or proportional to ``weights``), keeps each
    row's first ``n`` distinct admissible ones (= sequential sampling without
    replacement), and redraws only for rows still short; rows whose admissible
    mass is tiny fall back to an exact per-row draw. Vectorised over rows.
    Raises :class:`ConfigError` when a user has fewer than ``n`` admissible items.
    """
    row_users = np.asarray(row_users, dtype=np.int64)
    out = np.empty((len(row_users), n), np.int64)
    if n == 0 or len(row_users) == 0:
        return out
    ex_user, ex_item = exclude_keys // n_items, exclude_keys % n_items
    n_users = int(max(row_users.max(), ex_user.max(initial=-1))) + 1
    if weights is None:
        p = np.full(n_items, 1.0 / n_items)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (n_items,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError("sampling weights must be non-negative, one per item, with a positive sum")
        p = w / w.sum()
    positive = p > 0
    n_ok = positive.sum() - np.bincount(ex_user, weights=positive[ex_item], minlength=n_users)
    short = n_ok[row_users] < n
    if short.any():
        u = int(row_users[short][0])
        raise ConfigError(f"user {u} has only {int(n_ok[u])} items to sample negatives from, fewer than "
                          f"n_negatives={n}; lower n_negatives")
    mass = np.maximum(1.0 - np.bincount(ex_user, weights=p[ex_item], minlength=n_users)[row_users], 1e-12)
    cdf = np.cumsum(p)

    def draw(shape: tuple[int, int]) -> np.ndarray:
        if weights is None:
            return rng.integers(0, n_items, size=shape, dtype=np.int64)
        return np.minimum(np.searchsorted(cdf, rng.random(shape) * cdf[-1], side="right"), n_items - 1)

    def fill(rows: np.ndarray, buf: np.ndarray) -> np.ndarray:
        """Write rows that have ``n`` admissible distinct draws; return the mask of rows still short."""
        ok = ~contains(exclude_keys, row_users[rows, None] * n_items + buf)
        order = np.argsort(buf, axis=1, kind="stable")
        srt = np.take_along_axis(buf, order, axis=1)
        dup_sorted = np.zeros(buf.shape, bool)
        dup_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]  # stable sort: the first occurrence is not a duplicate
        dup = np.empty_like(dup_sorted)
        np.put_along_axis(dup, order, dup_sorted, axis=1)
        keep = ok & ~dup
        done = keep.sum(axis=1) >= n
        kd = keep[done]
        out[rows[done]] = buf[done][kd & (np.cumsum(kd, axis=1) <= n)].reshape(-1, n)
        return ~done

    def width(rows: np.ndarray) -> int:  # draws that usually yield n admissible distinct items
        return min(max_width, int(np.ceil(1.3 * n / np.median(mass[rows]))) + 16)

    max_width = 4 * n_items + 64
    hopeless = 1.3 * n / mass + 16 > max_width  # admissible mass too small for rejection sampling
    rest = [np.flatnonzero(hopeless)]
    candidates = np.flatnonzero(~hopeless)
    chunk = max(1, 4_000_000 // width(candidates)) if len(candidates) else 1
    for start in range(0, len(candidates), chunk):
        rows = candidates[start:start + chunk]
        buf = np.empty((len(rows), 0), np.int64)
        while len(rows) and buf.shape[1] < max_width and buf.size < 20_000_000:
            buf = np.concatenate([buf, draw((len(rows), max(width(rows), buf.shape[1])))], axis=1)
            pending = fill(rows, buf)
            rows, buf = rows[pending], buf[pending]
        rest.append(rows)
    for r in np.concatenate(rest):  # rare: exact draw per row
        u = row_users[r]
        lo, hi = np.searchsorted(exclude_keys, [u * n_items, (u + 1) * n_items])
        allowed = positive.copy()
        allowed[exclude_keys[lo:hi] - u * n_items] = False
        ids = np.flatnonzero(allowed)
        out[r] = rng.choice(ids, size=n, replace=False, p=None if weights is None else p[ids] / p[ids].sum())
    return out
