"""Id mapping and ordering for ``from_dataframe``: integer id columns never become per-row strings.

The natural order of ids (numeric-looking ids by value, then the others as strings) fixes the dense
ids, so an integer column and its string form give the same dataset. Integer columns are coded with
a presence table over their value range (or a sort when the range is sparse), rows are put in
(user, time, input order) with one stable sort of a packed key, and duplicate (user, item, time)
rows are searched only among rows that share a (user, time) pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def natural_order(values) -> np.ndarray:
    """Stable order that sorts numeric-looking ids numerically, others lexicographically after them."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu" and (len(arr) == 0 or arr.min() >= 0):  # the same order, without strings
        return np.argsort(arr, kind="stable").astype(np.int64)
    keys = [(0, int(s), "") if s.isdigit() else (1, 0, s) for s in map(str, values)]
    return np.asarray(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)


def is_integer_ids(col: pd.Series) -> bool:
    """Integer ids that fit int64 (numpy or nullable dtypes; ``uint64`` goes the string way)."""
    return pd.api.types.is_integer_dtype(col) and str(col.dtype).lower() != "uint64"


def dense_codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, ids)``: each row's dense id (int64) and the distinct ids as ``str`` in natural order."""
    if not is_integer_ids(col):
        codes, uniques = pd.factorize(col, sort=False)
        return _reorder(codes, np.asarray(uniques).astype(str))
    values = col.to_numpy(dtype=np.int64)
    lo, hi = int(values.min()), int(values.max())
    if hi - lo < max(4 * len(values), 1 << 16):  # dense enough for a presence table: no sort, no hash
        present = np.zeros(hi - lo + 1, bool)
        present[values - lo] = True
        lookup = np.cumsum(present, dtype=np.int64) - 1
        codes, uniques = lookup[values - lo], np.flatnonzero(present) + lo
    else:
        uniques, codes = np.unique(values, return_inverse=True)
    if lo >= 0:  # ascending values are already the natural order
        return codes, uniques.astype(str)
    return _reorder(codes, uniques.astype(str))


def _reorder(codes: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = natural_order(ids)
    remap = np.empty(len(order), np.int64)
    remap[order] = np.arange(len(order))
    return remap[codes], ids[order]


def user_time_order(user: np.ndarray, timestamp: np.ndarray) -> np.ndarray:
    """Row order by (user, timestamp), ties in input order: one stable argsort of a packed int64 key
    when it fits, else ``np.lexsort``."""
    if not len(user):
        return np.zeros(0, np.int64)
    lo, span = int(timestamp.min()), int(timestamp.max()) - int(timestamp.min()) + 1
    bits = int(user.max()).bit_length()
    if span.bit_length() + bits <= 62:
        key = (user.astype(np.int64) << span.bit_length()) | (timestamp - lo)
        return np.argsort(key, kind="stable")
    return np.lexsort((timestamp, user))


def sorted_duplicates(user: np.ndarray, item: np.ndarray, timestamp: np.ndarray, keep: str) -> np.ndarray:
    """Positions of repeated (user, item, timestamp) rows in arrays sorted by (user, timestamp, input order).

    ``keep="first"`` flags every repeat after the first of its group, ``"last"`` every one before
    the last. Only rows sharing a (user, timestamp) pair with a neighbour can repeat, so only those
    are compared.
    """
    tie = (user[1:] == user[:-1]) & (timestamp[1:] == timestamp[:-1])
    if not tie.any():
        return np.zeros(0, np.int64)
    pos = np.flatnonzero(np.concatenate([[False], tie]) | np.concatenate([tie, [False]]))
    sub = pd.DataFrame({"u": user[pos], "i": item[pos], "t": timestamp[pos]})
    return pos[sub.duplicated(keep=keep).to_numpy()]
