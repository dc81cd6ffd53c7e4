"""Split tie policy (same-second interactions) and exporting a split for a peer toolkit, on real ML-100K."""

from __future__ import annotations

import numpy as np
import pytest

from llm4rec.data import Interactions, export_split, leave_one_out, make_split, order_ties, read_recbole
from llm4rec.data.split import timestamp_ties
from llm4rec.errors import ConfigError


def _reshuffled(inter: Interactions, seed: int) -> Interactions:
    """The same log written in another file order."""
    p = np.random.default_rng(seed).permutation(len(inter))
    return Interactions.build(inter.user[p], inter.item[p], inter.timestamp[p], inter.rating[p],
                              n_users=inter.n_users, n_items=inter.n_items)


def _test_items(split) -> np.ndarray:
    out = np.full(split.n_users, -1)
    out[split.test.user] = split.test.item
    return out


def test_many_ml100k_test_items_depend_on_file_order(ml100k):
    ties = timestamp_ties(ml100k.interactions)
    assert ties["last_tied"] > 0.3  # the audit: 44% of users share their latest second with another rating
    a = leave_one_out(ml100k.interactions)
    b = leave_one_out(_reshuffled(ml100k.interactions, 1))
    assert (_test_items(a) != _test_items(b)).mean() > 0.1  # file order decides them


@pytest.mark.parametrize("ties", ["item_id", "random(3)"])
def test_tie_policy_makes_the_split_independent_of_file_order(ml100k, ties):
    a = leave_one_out(ml100k.interactions, ties=ties)
    b = leave_one_out(_reshuffled(ml100k.interactions, 1), ties=ties)
    for part in ("train", "valid", "test"):
        for col in ("user", "item", "timestamp"):
            np.testing.assert_array_equal(getattr(a.part(part), col), getattr(b.part(part), col))
    assert a.params["ties"] == ties


def test_item_id_policy_picks_the_highest_item_id_of_the_last_second(ml100k):
    inter = ml100k.interactions
    split = make_split(inter, "leave_one_out", ties="item_id")
    last_ts = np.full(inter.n_users, -1)
    np.maximum.at(last_ts, inter.user, inter.timestamp)
    best = np.full(inter.n_users, -1)
    at_last = inter.timestamp == last_ts[inter.user]
    np.maximum.at(best, inter.user[at_last], inter.item[at_last])
    np.testing.assert_array_equal(split.test.item, best[split.test.user])


def test_random_policy_uses_its_seed_and_rejects_unknown_policies(ml100k):
    inter = ml100k.interactions
    a, b = order_ties(inter, "random(1)"), order_ties(inter, "random(2)")
    assert not np.array_equal(a.item, b.item)
    np.testing.assert_array_equal(order_ties(inter, "random", seed=1).item, a.item)
    assert order_ties(inter, "file_order") is inter
    with pytest.raises(ConfigError, match="tie policy"):
        make_split(inter, "leave_one_out", ties="newest")


@pytest.mark.parametrize("ties", ["file_order", "item_id"])
def test_exported_split_gives_a_peer_the_same_targets(ml100k, tmp_path, ties):
    """RecBole atomic files written by export_split, read back by a time-ordered reader, re-split
    leave-one-out: the same test and valid item for every user, although 44% of users have ties."""
    split = leave_one_out(ml100k, ties=ties)
    files = export_split(split, tmp_path, name="ml", dataset=ml100k)
    assert [f.name for f in files] == ["ml.inter", "ml.train.inter", "ml.valid.inter", "ml.test.inter"]
    peer = read_recbole(tmp_path / "ml.inter")
    again = leave_one_out(peer)
    for part in ("valid", "test"):
        mine = sorted(zip(ml100k.user_ids[split.part(part).user], ml100k.catalog.ids[split.part(part).item],
                          strict=True))
        theirs = sorted(zip(peer.user_ids[again.part(part).user], peer.catalog.ids[again.part(part).item],
                            strict=True))
        assert mine == theirs
    test_file = read_recbole(tmp_path / "ml.test.inter")
    assert len(test_file) == len(split.test)


def test_csv_export_has_parts(ml100k, tmp_path):
    import pandas as pd

    split = leave_one_out(ml100k)
    (path,) = export_split(split, tmp_path, format="csv")
    df = pd.read_csv(path, dtype={"user": str, "item": str})
    assert df["part"].value_counts().to_dict() == {"train": len(split.train), "valid": len(split.valid),
                                                   "test": len(split.test)}
