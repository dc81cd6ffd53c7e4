"""One contract suite that every Recommender passes (the implicit-library habit).

Subclass :class:`RecommenderContract` and implement ``make_model`` with a small,
fast configuration. The suite fits once per class on ``small_split`` (real
ML-100K users; fixtures in :mod:`llm4rec.testing.fixtures`) and checks the
behaviour every model promises; the model's tags say which checks apply
(``candidate_dependent`` models skip the candidates-vs-catalog check,
non-``deterministic`` ones the same-seed check).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from llm4rec.data.split import Split
from llm4rec.errors import NotFittedError, UnknownUserError
from llm4rec.models.base import ModelTags, Recommender


class RecommenderContract:
    """Behaviour shared by every model; subclasses only say how to build one."""

    #: score tolerance for comparisons between equivalent calls (batched float math may differ slightly)
    atol = 1e-5

    def make_model(self) -> Recommender:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, small_split: Split) -> Recommender:
        model = cls().make_model()
        assert model.fit(small_split.train, small_split.valid) is model
        return model

    def test_tags_and_costs(self, fitted: Recommender) -> None:
        tags = fitted.tags()
        assert isinstance(tags, ModelTags)
        assert tags.explains == (type(fitted).explain is not Recommender.explain)
        costs = fitted.costs()
        assert all(isinstance(k, str) and isinstance(v, float) for k, v in costs.items())

    def test_unfitted_model_raises(self):
        with pytest.raises(NotFittedError):
            self.make_model().score([0])

    def test_score_shape_and_finite(self, fitted, eval_users):
        s = fitted.score(eval_users[:7])
        assert s.shape == (7, fitted.n_items_) and s.dtype == np.float32
        assert np.isfinite(s).all()

    def test_batch_and_single_calls_agree(self, fitted, eval_users):
        users = eval_users[:5]
        batch = fitted.score(users)
        single = np.vstack([fitted.score(int(u)) for u in users])
        np.testing.assert_allclose(batch, single, atol=self.atol, rtol=1e-5)

    def test_candidate_scores_match_full_scores(self, fitted, eval_users):
        if fitted.tags().candidate_dependent:
            pytest.skip("candidate-dependent (tag): the model ranks the list it is shown")
        users = eval_users[:4]
        full = fitted.score(users)
        rng = np.random.default_rng(0)
        cands = rng.integers(0, fitted.n_items_, size=(len(users), 21))
        np.testing.assert_allclose(fitted.score(users, cands), np.take_along_axis(full, cands, 1),
                                   atol=self.atol, rtol=1e-4)
        shared = cands[0]
        np.testing.assert_allclose(fitted.score(users, shared), full[:, shared], atol=self.atol, rtol=1e-4)

    def test_recommend_excludes_seen_and_sorts(self, fitted, small_split, eval_users):
        users = eval_users[:10]
        ids, scores = fitted.recommend(users, k=10)
        assert ids.shape == scores.shape == (10, 10)
        seen = small_split.train.to_csr()
        for row, u in zip(ids, users, strict=True):
            assert not set(row) & set(seen[u].indices)
            assert len(set(row)) == 10
        assert (np.diff(scores, axis=1) <= 1e-6).all()
        ids_all, _ = fitted.recommend(users[:2], k=10, exclude_seen=False)
        assert ids_all.shape == (2, 10)

    def test_unknown_user_raises_clear_error(self, fitted):
        with pytest.raises(UnknownUserError, match="unknown"):
            fitted.score([fitted.n_users_])
        with pytest.raises(UnknownUserError):
            fitted.recommend([-1], k=5)

    def test_empty_user_batch(self, fitted):
        assert fitted.score(np.array([], dtype=np.int64)).shape == (0, fitted.n_items_)

    def test_save_load_round_trip(self, fitted, small_split, eval_users, tmp_path):
        users = eval_users[:6]
        fitted.set_history(small_split.known_for("test"))
        try:
            before = fitted.score(users)
            loaded = Recommender.load(fitted.save(tmp_path / "model"))
            assert type(loaded) is type(fitted)
            np.testing.assert_array_equal(loaded.score(users), before)
            clone = pickle.loads(pickle.dumps(fitted))
            np.testing.assert_array_equal(clone.score(users), before)
            rebuilt = type(fitted).from_state(fitted.config, fitted.state_dict(), n_users=fitted.n_users_,
                                              n_items=fitted.n_items_, history=fitted.history_log_)
            np.testing.assert_array_equal(rebuilt.score(users), before)
        finally:
            fitted.set_history(small_split.train)

    def test_deterministic_for_a_seed(self, fitted, small_split, eval_users):
        if not fitted.tags().deterministic:
            pytest.skip("model documents non-deterministic training (tag)")
        again = self.make_model().fit(small_split.train, small_split.valid)
        np.testing.assert_array_equal(again.score(eval_users[:5]), fitted.score(eval_users[:5]))


class SmallCatalogContract(RecommenderContract):
    """The same suite over a 40-item catalog (``small_catalog_split``): for models that pay one
    language-model evaluation per scored item (a tuned LLM scoring the full catalog), where the
    1,682-item ML-100K catalog turns each full-catalog call into minutes per user."""

    @pytest.fixture(scope="class")
    @classmethod
    def small_split(cls, small_catalog_split: Split) -> Split:
        return small_catalog_split

    @pytest.fixture(scope="class")
    @classmethod
    def eval_users(cls, small_split: Split) -> np.ndarray:
        return np.unique(small_split.test.user)
