"""The LLM rankers through the shared contract suite.

The contract scores the *full catalog* (1682 items) for dozens of users. With a real LLM that is
one evaluation per (user, item) -- hours on 2 cores -- which is why the rankers refuse it by
default (``full_catalog = "error"``). Here they run with ``full_catalog = "all"`` on the ``toy``
backend, a deterministic bag-of-words stand-in with the Generator interface, so the suite checks
the ranker logic (prompting, batching, candidates vs. catalog, persistence) in seconds. The real
model is exercised on a few users x a few candidates in ``test_rankers.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from llm_backends import TOY

from llm4rec.errors import ConfigError
from llm4rec.models import make_model
from llm4rec.testing import RecommenderContract

FAST = {"generator": TOY, "full_catalog": "all", "max_history": 5, "progress": False}


class TestLikelihood(RecommenderContract):
    def make_model(self):
        return make_model("llm-likelihood", FAST)


class TestLikelihoodCalibratedICL(RecommenderContract):
    def make_model(self):
        return make_model("llm-likelihood", {**FAST, "calibrate": True, "normalize": "mean", "icl_demos": 2,
                                             "icl_source": "similar", "recency": True})


class TestPointwise(RecommenderContract):
    def make_model(self):
        return make_model("llm-pointwise", FAST)


def test_full_catalog_is_refused_by_default(small_split):
    model = make_model("llm-likelihood", {"generator": TOY}).fit(small_split.train)
    assert model.tags().candidates_only and not make_model("llm-likelihood", FAST).tags().candidates_only
    with pytest.raises(ConfigError, match="candidates"):
        model.score([0])
    assert model.score([0], np.arange(5)).shape == (1, 5)


class TestRerank(RecommenderContract):
    """Pop retrieves, the toy-backed likelihood ranker reorders the top 10.

    The top N is taken *within* the given items, so scores depend on the candidate set (LlamaRec
    reranks what the retriever proposes): its ``candidate_dependent`` tag skips the candidate-vs-catalog
    check, as for listwise and pairwise.
    """

    def make_model(self):
        return make_model("llm-rerank", {"retriever": "pop", "top_n": 10,
                                         "ranker_params": {"generator": TOY, "max_history": 5, "progress": False}})

    def test_top_n_reordered_above_the_rest(self, fitted, eval_users, small_split):
        users = eval_users[:3]
        s = fitted.score(users)
        pop = fitted.retriever_.score(users)
        seen = small_split.train.to_csr()
        for row, p, u in zip(s, pop, users, strict=True):
            p = p.copy()
            p[seen[u].indices] = -np.inf
            top = set(np.argsort(-p, kind="stable")[:10])
            assert set(np.argsort(-row, kind="stable")[:10]) == top  # same items, LLM order
        ids, _ = fitted.recommend(users, k=10)
        assert ids.shape == (3, 10)


class TestPairwise(RecommenderContract):
    def make_model(self):
        return make_model("llm-pairwise", {**FAST, "max_comparisons": 6})


class TestQuery(RecommenderContract):
    """MINT query generation: toy generator, real MiniLM encoder (its catalog encoding is cached)."""

    def make_model(self):
        return make_model("llm-query", {"generator": TOY, "max_history": 5, "progress": False})


class TestListwise(RecommenderContract):
    def make_model(self):
        return make_model("llm-listwise", {**FAST, "window": 50, "step": 25, "max_tokens": 400})
