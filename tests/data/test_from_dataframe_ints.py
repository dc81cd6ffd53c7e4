"""``from_dataframe`` factorises integer id columns directly: the same dataset as their string form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm4rec.data.dataset import from_dataframe
from llm4rec.data.exceptions import DuplicateRowError, FormatError


def _same(a, b) -> None:
    assert a.user_ids.tolist() == b.user_ids.tolist()
    assert a.catalog.ids.tolist() == b.catalog.ids.tolist()
    for field in ("user", "item", "timestamp", "rating"):
        np.testing.assert_array_equal(getattr(a.interactions, field), getattr(b.interactions, field))


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint16", "Int64"])
def test_integer_ids_equal_their_string_form(dtype):
    rng = np.random.default_rng(0)
    n = 500
    df = pd.DataFrame({"user": rng.integers(0, 40, n) * 7, "item": rng.integers(0, 90, n) * 11 + 3,
                       "timestamp": rng.integers(0, 10**6, n)}).drop_duplicates()
    ints = df.astype({"user": dtype, "item": dtype})
    _same(from_dataframe(ints), from_dataframe(df.astype({"user": str, "item": str})))


def test_negative_integer_ids_keep_the_natural_order():
    df = pd.DataFrame({"user": [5, -3, 10, -3], "item": [-1, 2, 30, 4], "timestamp": [1, 2, 3, 4]})
    ds = from_dataframe(df)
    _same(ds, from_dataframe(df.astype(str)))
    assert ds.user_ids.tolist() == ["5", "10", "-3"]


def test_integer_ids_with_an_item_table():
    df = pd.DataFrame({"user": [1, 1, 2], "item": [10, 20, 10], "timestamp": [1, 2, 3]})
    items = pd.DataFrame({"item": [30, 10, 20], "title": ["c", "a", "b"]})
    ds = from_dataframe(df, items=items)
    assert ds.catalog.ids.tolist() == ["10", "20", "30"] and ds.n_items == 3
    _same(ds, from_dataframe(df.astype({"user": str, "item": str}), items=items))


def test_missing_nullable_integer_id_names_the_row():
    df = pd.DataFrame({"user": pd.array([1, None, 2], dtype="Int64"), "item": [1, 2, 3]})
    with pytest.raises(FormatError, match="row 1: empty user id"):
        from_dataframe(df)


@pytest.mark.parametrize("policy", ["first", "last", "keep"])
def test_duplicate_policies_match_the_string_path(policy):
    df = pd.DataFrame({"user": [3, 1, 3, 1, 3, 3], "item": [7, 8, 7, 9, 7, 8], "timestamp": [5, 6, 5, 6, 5, 5],
                       "rating": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    ints = from_dataframe(df, duplicates=policy)
    _same(ints, from_dataframe(df.astype({"user": str, "item": str}), duplicates=policy))
    assert len(ints) == {"first": 4, "last": 4, "keep": 6}[policy]


def test_duplicate_error_names_the_first_repeated_row():
    df = pd.DataFrame({"user": [3, 1, 1, 3], "item": [7, 8, 8, 7], "timestamp": [5, 6, 6, 5]})
    with pytest.raises(DuplicateRowError, match="row 2: duplicate interaction"):
        from_dataframe(df)
