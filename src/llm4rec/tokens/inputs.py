"""What a generator is shown per item and per user, and the same facts as plain catalog text.

Items: the catalog fields (title, year, genres), rendered by the catalog's one rendering.
Users: a *training-period prefix* of their history only. KAR's leakage rule: the LLM sees the first
``min((n + 1) // 2, 30)`` interactions of a user, and those never reach the test part. Here ``n`` is
the number of the user's *training* interactions, so the prefix lies inside the training part of
any split by construction (leave-one-out, temporal, cold-start) and the valid / test targets are
never shown to the LLM; :func:`profile_rows` is the single place that applies the rule.

Every input also carries its ``catalog_text``: the same facts written from the catalog fields
alone. It is the "catalog text only" control (a gain of the generated text over it is the LLM's
knowledge, not formatting) and the QC fallback (:mod:`llm4rec.tokens.qc`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from llm4rec.data.catalog import Catalog
from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.prompts.library import clean_text

#: KAR's cap on the history prefix shown to the LLM
MAX_PROFILE_ITEMS = 30


def profile_rows(train: Interactions, max_items: int = MAX_PROFILE_ITEMS) -> list[np.ndarray]:
    """Row indices of ``train`` (time order) each user's profile may read: the first
    ``min((n + 1) // 2, max_items)`` of the user's ``n`` training interactions (KAR's rule)."""
    off = train.user_offsets()
    n = np.diff(off)
    take = np.minimum((n + 1) // 2, max_items)
    return [np.arange(off[u], off[u] + take[u]) for u in range(train.n_users)]


@dataclass
class Inputs:
    """One row per entity (item or user) to write about: ids, prompt slots and the catalog-only text."""

    kind: str
    keys: list[str]  # external ids
    index: np.ndarray  # dense ids
    slots: list[dict[str, str]]
    catalog_text: list[str]
    year: list[int | None] = field(default_factory=list)  # catalog facts QC checks (items only)
    genres: list[str] = field(default_factory=list)  # "|"-joined catalog genres (items only)

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, n: int) -> Inputs:
        """The first ``n`` rows (a small run, an estimate)."""
        return Inputs(self.kind, self.keys[:n], self.index[:n], self.slots[:n], self.catalog_text[:n],
                      self.year[:n], self.genres[:n])


def _genre_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [g.strip() for g in value.replace("|", ",").split(",") if g.strip()]
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(g).strip() for g in value if str(g).strip()]
    return []


def _year(value: object) -> int | None:
    try:
        year = int(str(value))
    except (TypeError, ValueError):
        return None
    return year if 1000 <= year <= 3000 else None


def item_catalog_texts(catalog: Catalog, fields: Sequence[str] | None = None,
                       items: Sequence[int] | np.ndarray | None = None) -> list[str]:
    """Items as catalog-only text (``Title (Year); genres: A, B``), inert inside prompts."""
    cols = [f for f in (fields or ("title", "year", "genres")) if f in catalog.table.columns]
    idx = np.arange(len(catalog)) if items is None else np.asarray(items, dtype=np.int64)
    return [clean_text(t) for t in catalog.text(idx.tolist(), fields=cols or None)]


def item_inputs(catalog: Catalog, fields: Sequence[str] = ("title", "year", "genres"),
                items: Sequence[int] | np.ndarray | None = None) -> Inputs:
    """Prompt slots ``item`` / ``title`` / ``year`` / ``genres`` and the catalog text of each item."""
    idx = np.arange(len(catalog)) if items is None else np.asarray(items, dtype=np.int64)
    table = catalog.table
    heads = item_catalog_texts(catalog, [f for f in ("title", "year") if f in fields], idx)
    slots, years, genres = [], [], []
    for i, head in zip(idx.tolist(), heads, strict=True):
        year = _year(table.at[i, "year"]) if "year" in table.columns else None
        gl = _genre_list(table.at[i, "genres"]) if "genres" in table.columns else []
        slots.append({"item": head, "title": clean_text(catalog.title(i)), "year": "" if year is None else str(year),
                      "genres": clean_text(", ".join(gl)) if "genres" in fields else ""})
        years.append(year)
        genres.append("|".join(gl))
    return Inputs("item", [str(catalog.ids[i]) for i in idx], idx, slots, item_catalog_texts(catalog, fields, idx),
                  years, genres)


def user_inputs(train: Interactions, user_ids: Sequence[str] | np.ndarray | None = None,
                fields: Sequence[str] = ("title", "year", "genres"), max_items: int = MAX_PROFILE_ITEMS,
                users: Sequence[int] | np.ndarray | None = None) -> Inputs:
    """Prompt slots ``history`` / ``n`` of each user with a training history (KAR's prefix only) and the
    catalog-only text of the same prefix (the items' catalog texts, with ratings when they are explicit)."""
    catalog = train.catalog
    if catalog is None:
        raise ConfigError("user profiles need an item catalog: the interactions carry none")
    rows = profile_rows(train, max_items)
    explicit = bool(len(train)) and bool(np.any(train.rating != train.rating[0]))
    want = np.arange(train.n_users) if users is None else np.asarray(users, dtype=np.int64)
    want = np.array([u for u in want.tolist() if len(rows[u])], dtype=np.int64)
    heads = item_catalog_texts(catalog, [f for f in ("title", "year") if f in fields])
    full = item_catalog_texts(catalog, fields)
    slots, texts = [], []
    for u in want.tolist():
        r = rows[u]
        items, ratings = train.item[r], train.rating[r]
        rate = [f" (rated {float(x):g})" if explicit else "" for x in ratings]
        lines = [f"{k + 1}. {heads[i]}{s}" for k, (i, s) in enumerate(zip(items.tolist(), rate, strict=True))]
        slots.append({"history": "\n".join(lines), "n": str(len(r))})
        texts.append(" | ".join(f"{full[i]}{s}" for i, s in zip(items.tolist(), rate, strict=True)))
    keys = [str(user_ids[u]) if user_ids is not None else str(u) for u in want.tolist()]
    return Inputs("user", keys, want, slots, texts)
