"""``ann``: an embedding model's recommendations through a FAISS index (contract, exactness, recall)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("faiss")

from llm4rec.errors import ConfigError
from llm4rec.models import make_model
from llm4rec.models.base import Recommender
from llm4rec.models.embed.ann import recall_vs_exact
from llm4rec.testing import RecommenderContract

TEXTKNN = {"encoder": {"backend": "wordllama"}, "pooling": "recency"}


class TestANNFlatWholeCatalog(RecommenderContract):
    """A flat index returning every item: scores equal the wrapped model's everywhere."""

    def make_model(self):
        return make_model("ann", {"model_params": TEXTKNN, "index": "flat", "top_n": 5000})


class TestANNHNSW(RecommenderContract):
    def make_model(self):
        return make_model("ann", {"model_params": TEXTKNN, "index": "hnsw", "top_n": 30})

    def test_candidate_scores_match_full_scores(self, fitted, eval_users):
        """Candidates are scored exactly; full scores are exact on the retrieved and seen items only."""
        users = eval_users[:4]
        exact = fitted.model_.score(users)
        cands = np.random.default_rng(0).integers(0, fitted.n_items_, size=(len(users), 21))
        np.testing.assert_allclose(fitted.score(users, cands), np.take_along_axis(exact, cands, 1), atol=1e-5)
        full = fitted.score(users)
        for r, u in enumerate(users):
            above = full[r] > full[r].min()
            assert above.sum() >= 30 + len(fitted.history_[u].indices) - 1
            np.testing.assert_allclose(full[r, above], exact[r, above], atol=1e-5)


@pytest.fixture(scope="module")
def wrapped(small_split):
    inner = make_model("textknn", TEXTKNN).fit(small_split.train)
    return inner, {kind: make_model("ann", {"model_params": TEXTKNN, "index": kind, "top_n": 50})
                   .fit(small_split.train) for kind in ("flat", "hnsw", "ivf")}


def test_flat_recommends_exactly_the_wrapped_model_and_hnsw_nearly(wrapped, eval_users):
    inner, anns = wrapped
    exact_ids, exact_scores = inner.recommend(eval_users, k=10)
    ids, scores = anns["flat"].recommend(eval_users, k=10)
    np.testing.assert_allclose(scores, exact_scores, atol=1e-5)
    assert (ids == exact_ids).mean() > 0.99  # equal up to ties of equal scores
    assert recall_vs_exact(anns["hnsw"].recommend(eval_users, k=10)[0], exact_ids) > 0.95
    assert recall_vs_exact(anns["ivf"].recommend(eval_users, k=10)[0], exact_ids) > 0.6


def test_saved_model_rebuilds_the_same_index(wrapped, eval_users, tmp_path):
    _, anns = wrapped
    loaded = Recommender.load(anns["ivf"].save(tmp_path / "ann"))
    assert sorted(p.name for p in (tmp_path / "ann").iterdir()) == ["config.toml", "meta.json", "state.npz"]
    np.testing.assert_array_equal(loaded.recommend(eval_users, k=10)[0], anns["ivf"].recommend(eval_users, k=10)[0])


def test_models_without_vectors_are_refused(small_split):
    with pytest.raises(ConfigError, match="inner product"):
        make_model("ann", {"model": "itemknn"}).fit(small_split.train)
    with pytest.raises(ConfigError, match="inner product"):
        make_model("ann", {"model_params": {**TEXTKNN, "pooling": "max"}}).fit(small_split.train)
