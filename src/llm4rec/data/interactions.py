"""Interactions: columnar (user, item, timestamp, rating) arrays over dense integer ids."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from llm4rec.data.catalog import Catalog

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Interactions:
    """Interaction log over the id universe ``[0, n_users) x [0, n_items)``.

    Rows are sorted by (user, timestamp, original order). ``catalog`` is the item
    side (text fields) shared by every split of one dataset; ``user_info`` is an
    optional table of user side information indexed by dense user id.
    """

    user: np.ndarray
    item: np.ndarray
    timestamp: np.ndarray
    rating: np.ndarray
    n_users: int
    n_items: int
    catalog: Catalog | None = field(default=None, repr=False)
    user_info: object | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.user)
        for name in ("item", "timestamp", "rating"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Interactions.{name} has {len(getattr(self, name))} rows, user has {n}")

    @classmethod
    def build(cls, user, item, timestamp=None, rating=None, *, n_users: int | None = None,
              n_items: int | None = None, catalog: Catalog | None = None,
              user_info: object | None = None) -> Interactions:
        """Build from array-likes, casting dtypes and sorting by (user, timestamp) stably."""
        user = np.asarray(user, dtype=np.int32)
        item = np.asarray(item, dtype=np.int32)
        n = len(user)
        timestamp = np.zeros(n, np.int64) if timestamp is None else seconds(np.asarray(timestamp))
        rating = np.ones(n, np.float32) if rating is None else np.asarray(rating, dtype=np.float32)
        if not np.isfinite(rating).all():
            row = int(np.argmax(~np.isfinite(rating)))
            raise ValueError(f"rating at row {row} is {rating[row]}: ratings must be finite numbers")
        order = np.lexsort((timestamp, user))
        if n_users is None:
            n_users = int(user.max()) + 1 if n else 0
        if n_items is None:
            n_items = int(item.max()) + 1 if n else 0
        return cls(user[order], item[order], timestamp[order], rating[order], int(n_users), int(n_items),
                   catalog, user_info)

    def __len__(self) -> int:
        return len(self.user)

    def subset(self, mask_or_index: np.ndarray) -> Interactions:
        """Rows selected by a boolean mask or an index array (order kept)."""
        return Interactions(self.user[mask_or_index], self.item[mask_or_index], self.timestamp[mask_or_index],
                            self.rating[mask_or_index], self.n_users, self.n_items, self.catalog,
                            self.user_info)

    def concat(self, other: Interactions) -> Interactions:
        """Union of two logs over the same id universe, re-sorted by (user, timestamp)."""
        if (self.n_users, self.n_items) != (other.n_users, other.n_items):
            raise ValueError("cannot concatenate interactions over different id universes")
        return Interactions.build(np.concatenate([self.user, other.user]),
                                  np.concatenate([self.item, other.item]),
                                  np.concatenate([self.timestamp, other.timestamp]),
                                  np.concatenate([self.rating, other.rating]),
                                  n_users=self.n_users, n_items=self.n_items, catalog=self.catalog,
                                  user_info=self.user_info)

    def to_csr(self, values: str | None = None) -> sp.csr_matrix:
        """User x item CSR matrix of ones (``values="rating"``: ratings); duplicates are summed."""
        data = self.rating if values == "rating" else np.ones(len(self), np.float32)
        shape = (self.n_users, self.n_items)
        m = sp.csr_matrix((data, (self.user, self.item)), shape=shape, dtype=np.float32)
        m.sum_duplicates()
        return m

    @property
    def users(self) -> np.ndarray:
        """Distinct users present, ascending."""
        return np.unique(self.user)

    def user_offsets(self) -> np.ndarray:
        """CSR-style offsets: rows of user ``u`` are ``[offsets[u], offsets[u+1])`` (rows are user-sorted)."""
        counts = np.bincount(self.user, minlength=self.n_users)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def sequences(self) -> list[np.ndarray]:
        """Per-user item sequences in time order (index = dense user id)."""
        off = self.user_offsets()
        return [self.item[off[u]:off[u + 1]] for u in range(self.n_users)]

    def item_counts(self) -> np.ndarray:
        """Interactions per item (popularity), length ``n_items``."""
        return np.bincount(self.item, minlength=self.n_items).astype(np.int64)


INT64_SECONDS = 2.0 ** 63


def seconds(values: np.ndarray, where: Callable[[int], str] = lambda row: f"row {row}") -> np.ndarray:
    """Timestamps as int64 seconds. Integers pass; floats must be finite and inside the int64 range
    (else ``ValueError`` naming ``where(row)``); fractional seconds are floored with a WARNING that
    counts them (events inside one second then keep their input order)."""
    if values.dtype.kind in "iu":
        if values.dtype == np.uint64 and len(values) and values.max() >= INT64_SECONDS:
            row = int(np.argmax(values >= INT64_SECONDS))
            raise ValueError(f"{where(row)}: timestamp {values[row]} is not a finite number of seconds inside "
                             "the int64 range")
        return values.astype(np.int64)
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values) | (np.abs(values) >= INT64_SECONDS)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(f"{where(row)}: timestamp {float(values[row])!r} is not a finite number of seconds inside "
                         "the int64 range")
    frac = values != np.floor(values)
    if frac.any():
        row = int(np.argmax(frac))
        log.warning("%s: %d timestamp(s) have fractional seconds (first: %r); floored to whole seconds, "
                    "events within one second keep their input order", where(row), int(frac.sum()), float(values[row]))
    return np.floor(values).astype(np.int64)
