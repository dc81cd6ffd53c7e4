"""Dataset: interactions over dense ids, the item catalog and optional user side information."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from llm4rec.data._ids import dense_codes, is_integer_ids, natural_order, sorted_duplicates, user_time_order
from llm4rec.data.catalog import Catalog
from llm4rec.data.exceptions import (
    DataError,
    DuplicateRowError,
    EmptyDataError,
    FormatError,
    MissingColumnError,
    TimestampError,
)
from llm4rec.data.interactions import Interactions, seconds

log = logging.getLogger(__name__)

DuplicatePolicy = Literal["error", "keep", "first", "last"]
CORE_COLUMNS = ("user", "item", "timestamp", "rating")


@dataclass(eq=False)
class Dataset:
    """A recommendation dataset: everything every split, protocol and model agrees on."""

    name: str
    interactions: Interactions
    user_ids: np.ndarray
    catalog: Catalog
    user_info: pd.DataFrame | None = None

    @property
    def n_users(self) -> int:
        return self.interactions.n_users

    @property
    def n_items(self) -> int:
        return self.interactions.n_items

    def __len__(self) -> int:
        return len(self.interactions)

    def summary(self) -> dict[str, object]:
        """Counts, time span and text fields (what ``llm4rec datasets info`` prints)."""
        ts = self.interactions.timestamp
        inter = self.interactions
        n_rated = int(np.count_nonzero(inter.item_counts()))
        span = (pd.to_datetime(int(ts.min()), unit="s").date().isoformat(),
                pd.to_datetime(int(ts.max()), unit="s").date().isoformat()) if len(ts) else ("", "")
        return {
            "name": self.name,
            "users": self.n_users,
            "items": n_rated,
            "catalog_items": self.n_items,
            "interactions": len(inter),
            "density": len(inter) / max(1, self.n_users * max(1, n_rated)),
            "time_span": f"{span[0]} .. {span[1]}",
            "item_text_fields": list(self.catalog.text_fields),
            "user_fields": [] if self.user_info is None else list(self.user_info.columns),
        }


def from_dataframe(
    df: pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    items: pd.DataFrame | None = None,
    item_id_column: str = "item",
    users: pd.DataFrame | None = None,
    user_id_column: str = "user",
    name: str = "custom",
    duplicates: DuplicatePolicy = "error",
    keep_unrated_items: bool = True,
    source: str | Path = "<dataframe>",
    first_line: int | None = None,
    items_source: str | Path | None = None,
    users_source: str | Path | None = None,
) -> Dataset:
    """Build a :class:`Dataset` from a DataFrame of interactions.

    ``columns`` maps the roles ``user``, ``item``, ``timestamp``, ``rating`` to
    column names of ``df`` (``user`` and ``item`` are required; a missing
    timestamp means "row order", a missing rating means implicit feedback 1.0).
    ``items`` is an optional item table whose other columns join the catalog as
    text fields; catalog items nobody rated are kept (``keep_unrated_items``) so
    cold items can be recommended. ``duplicates`` decides what happens to
    repeated (user, item, timestamp) rows -- (user, item) pairs when there is no
    timestamp: ``"error"`` (default) raises naming the first repeated row,
    ``"keep"`` keeps all, ``"first"``/``"last"`` keep one (and log how many were
    dropped). Timestamps may be numbers (seconds), datetimes or parseable date
    strings. Errors name ``source`` and the row: the 0-based row of ``df``, or the
    file line ``first_line + row`` when a loader passes the line of the first row;
    errors in the item / user tables name ``items_source`` / ``users_source`` (default ``source``).
    """
    if duplicates not in ("error", "keep", "first", "last"):
        raise ValueError(f"duplicates must be 'error', 'keep', 'first' or 'last', not {duplicates!r}")
    at = _Locator(source, first_line)
    mapped = bool(columns)
    columns = dict(columns or {c: c for c in CORE_COLUMNS if c in df.columns})
    unknown_roles = set(columns) - set(CORE_COLUMNS)
    if unknown_roles:
        raise DataError(f"{source}: unknown column roles {sorted(unknown_roles)}; use {list(CORE_COLUMNS)}")
    for role in ("user", "item"):
        if role not in columns:
            what = "the column mapping names no" if mapped else "no column mapping given and no column named"
            raise MissingColumnError(f"{source}: {what} {role!r} column; the file has {list(df.columns)} "
                                     "(map them, e.g. columns={'user': ..., 'item': ...})")
    missing = [f"{role}={col!r}" for role, col in columns.items() if col not in df.columns]
    if missing:
        raise MissingColumnError(f"{source}: missing columns {', '.join(missing)}; "
                                 f"the file has {list(df.columns)}")
    if len(df) == 0:
        raise EmptyDataError(f"{source}: no interactions (the table is empty)")

    frame = pd.DataFrame({role: df[col].reset_index(drop=True) for role, col in columns.items()})
    for role in ("user", "item"):
        bad = frame[role].isna().to_numpy()
        if not is_integer_ids(frame[role]):  # integer ids cannot be blank: no per-row strings for them
            bad = bad | (frame[role].astype(str).str.strip() == "").to_numpy()
        if bad.any():
            raise FormatError(f"{at(int(np.argmax(bad)))}: empty {role} id")

        def where(row: int, role: str = role) -> str:
            return f"{at(row)}: {role} id"

        _refuse_nul(frame[role], where)
    has_time = "timestamp" in frame
    frame["timestamp"] = _parse_timestamps(frame["timestamp"], at) if has_time \
        else np.arange(len(frame), dtype=np.int64)
    frame["rating"] = _parse_ratings(frame["rating"], at) if "rating" in frame else np.float32(1.0)
    # integer ids with timestamps: coded, sorted and de-duplicated as integers (10M rows in seconds)
    fast = has_time and is_integer_ids(frame["user"]) and is_integer_ids(frame["item"])
    if not fast:
        for role in ("user", "item"):
            if not pd.api.types.is_string_dtype(frame[role]) or frame[role].dtype == object:
                frame[role] = frame[role].astype(str)
        if duplicates != "keep":
            key = ["user", "item", "timestamp"] if has_time else ["user", "item"]
            dup = frame.duplicated(key, keep="first").to_numpy()
            if dup.any():
                _duplicate_found(frame, int(np.argmax(dup)), int(dup.sum()), key, duplicates, at, source)
                frame = frame.drop_duplicates(key, keep=duplicates)

    item_codes, rated = dense_codes(frame["item"])
    catalog, rated_index = _build_catalog(rated, items, item_id_column, keep_unrated_items,
                                                 items_source or source)
    user_codes, user_ids = dense_codes(frame["user"])
    user_info = _build_user_info(users, user_id_column, user_ids, users_source or source)
    item_index = rated_index.astype(np.int32)[item_codes]
    timestamp, rating = frame["timestamp"].to_numpy(), frame["rating"].to_numpy()
    if not fast:
        inter = Interactions.build(user_codes, item_index, timestamp, rating, n_users=len(user_ids),
                                   n_items=len(catalog), catalog=catalog, user_info=user_info)
        return Dataset(name, inter, user_ids, catalog, user_info)
    order = user_time_order(user_codes, timestamp)
    user, item, timestamp = user_codes[order].astype(np.int32), item_index[order], timestamp[order]
    if duplicates != "keep":
        dup = sorted_duplicates(user, item, timestamp, "first")
        if len(dup):
            _duplicate_found(frame, int(order[dup].min()), len(dup), ["user", "item", "timestamp"], duplicates,
                             at, source)
            drop = dup if duplicates == "first" else sorted_duplicates(user, item, timestamp, "last")
            keep = np.ones(len(order), bool)
            keep[drop] = False
            order, user, item, timestamp = order[keep], user[keep], item[keep], timestamp[keep]
    inter = Interactions(user, item, timestamp, rating[order], len(user_ids), len(catalog), catalog, user_info)
    return Dataset(name, inter, user_ids, catalog, user_info)


def _parse_ratings(col: pd.Series, at: _Locator) -> np.ndarray:
    """Ratings as finite float32 numbers; the first bad one is an error naming its row."""
    rating = pd.to_numeric(col, errors="coerce")
    if rating.isna().any():
        row = int(np.argmax(rating.isna().to_numpy()))
        raise FormatError(f"{at(row)}: rating {col.iloc[row]!r} is not a number")
    with np.errstate(over="ignore"):
        values = rating.to_numpy(dtype=np.float64).astype(np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        row = int(np.argmax(~finite))
        raise FormatError(f"{at(row)}: rating {col.iloc[row]!r} is not a finite float32 number")
    return values


def _duplicate_found(frame: pd.DataFrame, row: int, count: int, key: list[str], policy: str, at: _Locator,
                     source: object) -> None:
    """Raise for ``duplicates="error"`` naming the first repeated row; else log what will be dropped."""
    if policy == "error":
        what = ", ".join(f"{k}={frame[k].iloc[row]}" for k in key)
        raise DuplicateRowError(f"{at(row)}: duplicate interaction ({what}); pass duplicates='keep', "
                                "'first' or 'last' to accept repeats")
    log.info("%s: dropped %d duplicate interactions (duplicates=%r)", source, count, policy)


class _Locator:
    """Formats ``source: row N`` (0-based frame row) or ``source: line N`` (file line)."""

    def __init__(self, source: object, first_line: int | None) -> None:
        self.source, self.first_line = source, first_line

    def __call__(self, row: int) -> str:
        if self.first_line is None:
            return f"{self.source}: row {row}"
        return f"{self.source}: line {self.first_line + row}"


def _parse_timestamps(col: pd.Series, at: _Locator) -> np.ndarray:
    """Seconds since the epoch from numbers, datetimes or date strings."""
    if pd.api.types.is_datetime64_any_dtype(col):
        parsed = pd.to_datetime(col, utc=True)
    else:
        numeric = pd.to_numeric(col, errors="coerce")
        if numeric.notna().all():
            try:
                return seconds(numeric.to_numpy(), at)
            except ValueError as exc:
                raise TimestampError(str(exc)) from None
        # a column with some numbers is a numeric column: the first non-number is the error
        parsed = numeric if numeric.notna().any() else pd.to_datetime(col, errors="coerce", utc=True,
                                                                        format="mixed")
    if parsed.isna().any():
        row = int(np.argmax(parsed.isna().to_numpy()))
        raise TimestampError(f"{at(row)}: cannot parse timestamp {col.iloc[row]!r}")
    return (parsed.dt.as_unit("s").astype("int64")).to_numpy().astype(np.int64)


def _build_catalog(rated: np.ndarray, items: pd.DataFrame | None, id_col: str, keep_unrated: bool,
                   source: object) -> tuple[Catalog, np.ndarray]:
    """The catalog, and the catalog row of each distinct rated id in ``rated`` (strings)."""
    if items is not None:
        if id_col not in items.columns:
            raise MissingColumnError(f"{source}: item table has no id column {id_col!r}; "
                                     f"it has {list(items.columns)}")
        table = items.copy()
        table[id_col] = table[id_col].astype(str)
        _refuse_nul(table[id_col], lambda row: f"{source}: item table row {row}: item id")
        dup = table[id_col].duplicated()
        if dup.any():
            raise DuplicateRowError(f"{source}: item table row {int(np.argmax(dup.to_numpy()))}: "
                                    f"duplicate item id {table[id_col][dup].iloc[0]!r}")
        known = set(table[id_col])
        rated_set = set(rated)
        extra = [i for i in rated if i not in known]
        ids = list(table[id_col]) if keep_unrated else [i for i in table[id_col] if i in rated_set]
        ids += extra  # rated items absent from the item table still get a (text-less) row
    else:
        ids = list(rated)
    ids = np.asarray(ids, dtype=object)[natural_order(ids)]
    frame = pd.DataFrame({id_col: ids.astype(str)})
    if items is not None:
        frame = frame.merge(table, on=id_col, how="left")
    catalog = Catalog(ids.astype(str), frame.drop(columns=[id_col]))
    return catalog, pd.Index(ids.astype(str)).get_indexer(rated)


def _refuse_nul(ids: pd.Series, where: Callable[[int], str]) -> None:
    """Ids holding NUL characters are an error (numpy's string arrays drop trailing NULs, so
    ``"8\\x00"`` would silently become item ``"8"``)."""
    if ids.dtype.kind in "iu":
        return
    nul = ids.astype(str).str.contains("\x00", regex=False).to_numpy(dtype=bool)
    if nul.any():
        row = int(np.argmax(nul))
        raise FormatError(f"{where(row)} {ids.iloc[row]!r} contains a NUL character; clean the file")


def _build_user_info(users: pd.DataFrame | None, id_col: str, user_ids: np.ndarray,
                     source: object) -> pd.DataFrame | None:
    if users is None:
        return None
    if id_col not in users.columns:
        raise MissingColumnError(f"{source}: user table has no id column {id_col!r}; "
                                 f"it has {list(users.columns)}")
    table = users.copy()
    table[id_col] = table[id_col].astype(str)
    dup = table[id_col].duplicated()
    if dup.any():
        raise DuplicateRowError(f"{source}: user table row {int(np.argmax(dup.to_numpy()))}: "
                                f"duplicate user id {table[id_col][dup].iloc[0]!r}")
    return (pd.DataFrame({id_col: np.asarray(user_ids).astype(str)}).merge(table, on=id_col, how="left")
            .drop(columns=[id_col]))
