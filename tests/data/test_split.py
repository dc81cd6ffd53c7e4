"""Splits on real data: sizes, disjointness, no leakage, determinism, k-core, save/load round-trip."""

from __future__ import annotations

import time

import numpy as np
import pytest

from llm4rec.data import (
    DataError,
    Dataset,
    Interactions,
    Split,
    cold_start_items,
    cold_start_users,
    kcore,
    leave_one_out,
    make_split,
    temporal,
)
from llm4rec.errors import ConfigError


def _rows(inter: Interactions) -> set[tuple[int, int, int, float]]:
    return set(zip(inter.user.tolist(), inter.item.tolist(), inter.timestamp.tolist(), inter.rating.tolist(),
                   strict=True))


def _assert_partition(split: Split, inter: Interactions) -> None:
    """train + valid + test is exactly the log (as a multiset), over the same id universe."""
    assert len(split.train) + len(split.valid) + len(split.test) == len(inter)
    both = split.train.concat(split.valid).concat(split.test)
    for col in ("user", "item", "timestamp", "rating"):
        np.testing.assert_array_equal(np.sort(getattr(both, col)), np.sort(getattr(inter, col)))
    assert (split.n_users, split.n_items) == (inter.n_users, inter.n_items)


def _assert_same(a: Split, b: Split) -> None:
    for part in ("train", "valid", "test"):
        for col in ("user", "item", "timestamp", "rating"):
            x, y = getattr(a.part(part), col), getattr(b.part(part), col)
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
    assert (a.kind, a.params, a.dataset, a.n_users, a.n_items) == (b.kind, b.params, b.dataset, b.n_users,
                                                                    b.n_items)


def test_leave_one_out_no_leakage(ml1m: Dataset) -> None:
    split = leave_one_out(ml1m)
    inter = ml1m.interactions
    _assert_partition(split, inter)
    assert len(split.test) == len(split.valid) == ml1m.n_users  # every ML-1M user has >= 20 ratings
    assert np.array_equal(np.unique(split.test.user), np.arange(ml1m.n_users))
    last_train = np.full(ml1m.n_users, -1, np.int64)
    np.maximum.at(last_train, split.train.user, split.train.timestamp)
    assert np.all(split.valid.timestamp >= last_train[split.valid.user])
    assert np.all(split.test.timestamp >= split.valid.timestamp)  # one row per user, same user order


def test_temporal(ml1m: Dataset) -> None:
    split = temporal(ml1m, valid=0.1, test=0.2)
    n = len(ml1m)
    _assert_partition(split, ml1m.interactions)
    assert (len(split.valid), len(split.test)) == (round(n * 0.1), round(n * 0.2))
    assert split.train.timestamp.max() <= split.valid.timestamp.min()
    assert split.valid.timestamp.max() <= split.test.timestamp.min()
    _assert_same(split, make_split(ml1m, "temporal", valid=0.1, test=0.2))
    assert split.kind == "temporal" and split.dataset == "ml-1m"
    with pytest.raises(ValueError, match="must leave something for train"):
        temporal(ml1m, valid=0.5, test=0.5)


def test_temporal_ties_are_deterministic() -> None:
    inter = Interactions.build([0, 1, 2, 3], [0, 1, 2, 3], [5, 5, 5, 5], n_users=4, n_items=4)
    split = temporal(inter, valid=0.25, test=0.25)
    assert split.train.user.tolist() == [0, 1] and split.valid.user.tolist() == [2]
    assert split.test.user.tolist() == [3]


def test_cold_start_items(ml100k: Dataset) -> None:
    split = cold_start_items(ml100k, test_frac=0.1, valid_frac=0.1, seed=7)
    _assert_partition(split, ml100k.interactions)
    train_items, valid_items, test_items = (set(np.unique(p.item)) for p in (split.train, split.valid,
                                                                               split.test))
    assert not train_items & test_items and not train_items & valid_items and not valid_items & test_items
    assert (len(test_items), len(valid_items)) == (168, 168)  # 10% of 1682 rated items each
    # all interactions of a test item are in test
    counts = ml100k.interactions.item_counts()
    assert len(split.test) == counts[sorted(test_items)].sum()
    again = cold_start_items(ml100k, test_frac=0.1, valid_frac=0.1, seed=7)
    _assert_same(split, again)
    other = cold_start_items(ml100k, test_frac=0.1, valid_frac=0.1, seed=8)
    assert set(np.unique(other.test.item)) != test_items
    _assert_same(split, make_split(ml100k, "cold_start_items", test_frac=0.1, valid_frac=0.1, seed=7))


def test_kcore(ml100k: Dataset) -> None:
    core = kcore(ml100k, 50)
    inter = core.interactions
    assert isinstance(core, Dataset) and core.name == "ml-100k-50core"
    assert (core.n_users, core.n_items) == (ml100k.n_users, ml100k.n_items)  # id universe kept
    assert core.catalog is ml100k.catalog and core.user_ids is ml100k.user_ids
    users, items = np.bincount(inter.user), np.bincount(inter.item)
    assert users[users > 0].min() >= 50 and items[items > 0].min() >= 50
    assert 0 < len(core) < len(ml100k)
    assert _rows(inter) <= _rows(ml100k.interactions)
    again = kcore(inter, 50)  # a k-core is a fixed point; Interactions in, Interactions out
    assert isinstance(again, Interactions) and len(again) == len(core)
    assert len(kcore(ml100k, 1)) == len(ml100k)
    uneven = kcore(ml100k.interactions, 1, user_k=200, item_k=1)
    assert np.bincount(uneven.user)[np.bincount(uneven.user) > 0].min() >= 200


def test_kcore_is_iterative() -> None:
    # users 0-2 / items 0-2 unravel one after another at k=2 (each drop starves the next);
    # users 3-4 x items 3-4 form a 2-core that survives
    users = [0, 0, 1, 1, 2, 3, 3, 4, 4]
    items = [0, 1, 0, 2, 1, 3, 4, 3, 4]
    core = kcore(Interactions.build(users, items, n_users=5, n_items=5), 2)
    pairs = sorted(zip(core.user.tolist(), core.item.tolist(), strict=True))
    assert pairs == [(3, 3), (3, 4), (4, 3), (4, 4)]
    assert (core.n_users, core.n_items) == (5, 5)


def test_cold_start_users(ml100k: Dataset) -> None:
    split = cold_start_users(ml100k, max_train=5, frac=0.1, seed=3)
    inter = ml100k.interactions
    cold = np.unique(split.test.user)
    assert len(cold) == round(ml100k.n_users * 0.1)  # every ML-100K user has >= 20 ratings
    train_n = np.bincount(split.train.user, minlength=ml100k.n_users)
    assert np.all(train_n[cold] == 5)
    assert np.all(train_n[np.setdiff1d(np.arange(ml100k.n_users), cold)] >= 18)
    assert len(split.valid) == ml100k.n_users  # warm users keep a valid row for early stopping
    # a new user's rows are their first 7 by time, in order train < valid < test
    off = inter.user_offsets()
    for u in cold[:20]:
        rows = set(zip(inter.item[off[u]:off[u] + 7].tolist(), inter.timestamp[off[u]:off[u] + 7].tolist(),
                       strict=True))
        got = [set(zip(p.item[p.user == u].tolist(), p.timestamp[p.user == u].tolist(), strict=True))
               for p in (split.train, split.valid, split.test)]
        assert set().union(*got) == rows
        t = [p.timestamp[p.user == u] for p in (split.train, split.valid, split.test)]
        assert t[0].max() <= t[1].min() <= t[2].min()
    assert _rows(split.train.concat(split.valid).concat(split.test)) <= _rows(inter)
    _assert_same(split, make_split(ml100k, "cold_start_users", max_train=5, frac=0.1, seed=3))
    assert set(np.unique(cold_start_users(ml100k, seed=4).test.user)) != set(cold)
    with pytest.raises(ValueError, match="frac"):
        cold_start_users(ml100k, frac=1.0)
    with pytest.raises(DataError, match="1002 interactions"):
        cold_start_users(ml100k, max_train=1000)


@pytest.mark.parametrize("kind", ["leave_one_out", "temporal", "cold_start_items", "cold_start_users"])
def test_save_load_round_trip(tmp_path, ml100k: Dataset, kind: str) -> None:
    split = make_split(ml100k, kind, seed=3)
    folder = split.save(tmp_path / kind)
    assert {p.name for p in folder.iterdir()} == {"split.npz", "split.json"}
    loaded = Split.load(folder)
    _assert_same(split, loaded)
    assert loaded.train.catalog is None
    attached = Split.load(folder, ml100k)
    assert attached.test.catalog is ml100k.catalog
    assert _rows(attached.known_for("test")) == _rows(split.known_for("test"))


def test_load_checks_universe_and_files(tmp_path, ml100k: Dataset, ml1m: Dataset) -> None:
    from llm4rec.data import DataError

    folder = leave_one_out(ml100k).save(tmp_path / "s")
    with pytest.raises(DataError, match="split is over 943 users x 1682 items"):
        Split.load(folder, ml1m)
    with pytest.raises(DataError, match="not a saved split"):
        Split.load(tmp_path / "nothing")


def test_make_split_unknown_kind(ml100k: Dataset) -> None:
    with pytest.raises(ConfigError, match=r"unknown split kind 'random'; available: .*leave_one_out, temporal"):
        make_split(ml100k, "random")


def test_splits_are_vectorised(ml1m: Dataset) -> None:
    start = time.perf_counter()
    for kind in ("leave_one_out", "temporal", "cold_start_items"):
        make_split(ml1m, kind)
    kcore(ml1m, 20)
    assert time.perf_counter() - start < 5.0
