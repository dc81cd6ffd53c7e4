"""Exact tie handling wherever a top-k is taken: top_k, full ranking, recommend, early stopping."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from llm4rec.eval.protocols import FullRanking
from llm4rec.models.base import top_k
from llm4rec.models.classic.pop import Pop


def _reference(scores: np.ndarray, k: int) -> np.ndarray:
    """First ``k`` columns of a stable descending sort (NaN as -inf): the documented order."""
    s = np.where(np.isnan(scores), -np.inf, scores)
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("seed", range(4))
def test_top_k_equals_stable_sort_for_every_k_on_heavy_ties(seed):
    rng = np.random.default_rng(seed)
    n_items = 37
    scores = rng.integers(0, 3 + seed, size=(50, n_items)).astype(np.float32)  # few distinct values
    scores[rng.random(scores.shape) < 0.1] = -np.inf
    scores[rng.random(scores.shape) < 0.05] = np.nan
    scores[0] = 1.0  # a row of one value
    for k in range(1, n_items + 1):
        idx, vals = top_k(scores, k)
        ref = _reference(scores, k)
        np.testing.assert_array_equal(idx, ref, err_msg=f"k={k}")
        np.testing.assert_array_equal(vals, np.take_along_axis(np.where(np.isnan(scores), -np.inf, scores),
                                                               ref, axis=1))


def test_top_k_edge_sizes():
    scores = np.zeros((3, 5), np.float32)
    idx, _ = top_k(scores, 99)
    np.testing.assert_array_equal(idx, np.tile(np.arange(5), (3, 1)))
    assert top_k(scores, 0)[0].shape == (3, 0)
    assert top_k(np.zeros((0, 5), np.float32), 3)[0].shape == (0, 3)


@pytest.fixture(scope="module")
def pop(small_split):
    return Pop().fit(small_split.train)


ALL_KS = (1, 5, 10, 20)
KS_COMBOS = [c for r in range(1, len(ALL_KS) + 1) for c in combinations(ALL_KS, r)]


@pytest.mark.parametrize("tie_break", ["index", "random"])
def test_full_ranking_metrics_do_not_depend_on_the_requested_ks(small_split, pop, tie_break):
    """Pop on real ML-100K (heavily tied counts): HR/NDCG@k are the same whatever other ks are asked."""
    pop.set_history(small_split.known_for("test"))
    proto = FullRanking(tie_break=tie_break, seed=3)
    seen: dict[str, np.ndarray] = {}
    for ks in KS_COMBOS:
        res = proto.evaluate(pop, small_split, ks=ks, metrics=("hr", "ndcg"))
        for name, values in res.per_user.items():
            if name in seen:
                np.testing.assert_array_equal(values, seen[name], err_msg=f"{name} with ks={ks}")
            seen[name] = values
    assert set(seen) == {f"{m}@{k}" for m in ("hr", "ndcg") for k in ALL_KS}


def test_recommend_lists_are_prefixes_of_longer_lists(small_split, pop):
    users = np.unique(small_split.test.user)
    long_ids, _ = pop.recommend(users, k=50)
    for k in (1, 3, 10, 20):
        ids, _ = pop.recommend(users, k=k)
        np.testing.assert_array_equal(ids, long_ids[:, :k])
    scores = pop.score(users)
    scores[pop.history_[users].nonzero()] = -np.inf
    np.testing.assert_array_equal(long_ids, _reference(scores, 50))
