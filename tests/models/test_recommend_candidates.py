"""``recommend`` with a per-request candidate set or filter (what serving and candidate-only rankers need)."""

from __future__ import annotations

import numpy as np
import pytest

from llm4rec.errors import ConfigError
from llm4rec.models import make_model


@pytest.fixture(scope="module")
def itemknn(small_split):
    return make_model("itemknn").fit(small_split.train)


def _expected(model, user, cand, k, exclude_seen=True):
    """Reference: sort the candidates by full-catalog score (ties: lower candidate position first)."""
    scores = model.score([user])[0][cand].astype(np.float64)
    if exclude_seen:
        scores[model.history_[user].toarray().ravel()[cand] > 0] = -np.inf
    order = np.lexsort((np.arange(len(cand)), -scores))[:k]
    return np.where(np.isfinite(scores[order]), cand[order], -1)


def test_shared_candidates_rank_like_the_full_scores(itemknn, small_split):
    rng = np.random.default_rng(0)
    users = np.arange(8)
    cand = rng.choice(small_split.n_items, 40, replace=False)
    ids, vals = itemknn.recommend(users, k=10, candidates=cand)
    assert ids.shape == vals.shape == (8, 10)
    for r, u in enumerate(users):
        np.testing.assert_array_equal(ids[r], _expected(itemknn, u, cand, 10))
        assert np.all(np.diff(vals[r]) <= 0)


def test_per_user_candidates_seen_items_and_filter(itemknn, small_split):
    users = np.array([0, 1])
    seen = itemknn.history_[[0, 1]].toarray() > 0
    seen0, unseen0 = np.flatnonzero(seen[0])[:3], np.flatnonzero(~seen[0])[:3]
    unseen1 = np.flatnonzero(~seen[1])[:6]
    cand = np.array([np.r_[seen0, unseen0], unseen1])
    ids, vals = itemknn.recommend(users, k=6, candidates=cand, exclude=[unseen1[1]])
    assert set(ids[0][:3]) == set(unseen0) and np.all(ids[0][3:] == -1)  # seen ones never returned
    assert unseen1[1] not in ids[1] and ids[1][-1] == -1 and np.isneginf(vals[1][-1])
    kept, _ = itemknn.recommend(users, k=6, candidates=cand, exclude_seen=False)
    assert set(kept[0]) == set(cand[0])


def test_filter_on_full_ranking(itemknn):
    top, _ = itemknn.recommend([3], k=5)
    again, _ = itemknn.recommend([3], k=5, exclude=top[0][:2])
    assert not set(top[0][:2]) & set(again[0]) and again[0][0] == top[0][2]


def test_candidate_only_ranker_serves_candidates(small_split):
    ranker = make_model("llm-likelihood", {"generator": {"backend": "toy"}, "progress": False}).fit(small_split.train)
    with pytest.raises(ConfigError):
        ranker.recommend([0], k=3)  # the whole catalog is not scored by an LLM ranker
    ids, vals = ranker.recommend([0, 1], k=3, candidates=[5, 6, 7, 8, 9], exclude_seen=False)
    assert ids.shape == (2, 3) and set(ids.ravel()) <= {5, 6, 7, 8, 9} and np.isfinite(vals).all()


def test_bad_candidate_shapes(itemknn):
    with pytest.raises(ValueError, match="one row per user"):
        itemknn.recommend([0, 1], candidates=np.zeros((3, 4), int))
