"""Item catalog: external ids, text fields, and the one function that renders an item as text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Fields rendered first, in this order, when present; other text columns follow.
PREFERRED_FIELDS = ("title", "year", "genres")


@dataclass(eq=False)
class Catalog:
    """Items of a dataset, indexed by dense item id.

    ``table`` has one row per dense item id (row ``i`` describes item ``i``) and
    text columns such as ``title``, ``year``, ``genres``, ``description``.
    ``ids`` are the external item ids.
    """

    ids: np.ndarray
    table: pd.DataFrame
    text_fields: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.table):
            raise ValueError(f"catalog has {len(self.ids)} ids but {len(self.table)} rows")
        self.table = self.table.reset_index(drop=True)
        if not self.text_fields:
            cols = [c for c in PREFERRED_FIELDS if c in self.table.columns]
            cols += [c for c in self.table.columns if c not in cols]
            self.text_fields = tuple(cols)
        self._index: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def title(self, item: int) -> str:
        """Display title of one item (falls back to its external id)."""
        if "title" in self.table.columns:
            value = self.table.at[int(item), "title"]
            if isinstance(value, str) and value:
                return value
        return str(self.ids[int(item)])

    def text(self, items: Iterable[int] | None = None, fields: Sequence[str] | None = None) -> list[str]:
        """Render items as text; ``items=None`` renders the whole catalog. See :func:`render_item`."""
        idx = np.arange(len(self)) if items is None else np.asarray(list(items), dtype=np.int64)
        cols = list(fields or self.text_fields)
        rows = self.table.iloc[idx][cols].to_dict("records")
        return [render_item(row, fallback=str(self.ids[i])) for row, i in zip(rows, idx, strict=True)]

    def lookup(self, external_id: str) -> int:
        """Dense id of an external item id (``KeyError`` when unknown)."""
        if self._index is None:
            self._index = {str(x): i for i, x in enumerate(self.ids)}
        return self._index[str(external_id)]


def render_item(fields: dict[str, object], fallback: str = "") -> str:
    """The single place that decides how an item reads for a language model.

    ``Title (Year); genres: A, B; description: ...`` -- the title carries the
    year in parentheses when the year is known; list-valued fields are joined
    with commas; empty or missing values are skipped.
    """
    title = _clean(fields.get("title"))
    year = _clean(fields.get("year"))
    head = title or fallback
    if year and f"({year})" not in head:
        head = f"{head} ({year})"
    parts = [head]
    for name, value in fields.items():
        if name in ("title", "year"):
            continue
        text = _clean(value)
        if text:
            parts.append(f"{name.replace('_', ' ')}: {text}")
    return "; ".join(parts)


def _clean(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(_clean(v) for v in value if _clean(v))
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else str(value)
    return str(value).strip()
