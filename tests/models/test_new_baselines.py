"""EASE, ALS (implicit) and LightGCN: the contract suite plus what is specific to each."""

from __future__ import annotations

import numpy as np
import pytest

from llm4rec.errors import ConfigError
from llm4rec.eval.protocols import FullRanking
from llm4rec.models import make_model
from llm4rec.models.classic.ease import ease_memory_bytes
from llm4rec.testing import RecommenderContract

pytest.importorskip("implicit")


class TestEASE(RecommenderContract):
    atol = 1e-4

    def make_model(self):
        return make_model("ease", {"reg": [50.0, 500.0]})


class TestALS(RecommenderContract):
    atol = 1e-4

    def make_model(self):
        return make_model("als", {"factors": 16, "iterations": 5})


class TestALSBM25(TestALS):
    def make_model(self):
        return make_model("als", {"factors": 16, "iterations": 5, "weighting": "bm25"})


class TestLightGCN(RecommenderContract):
    def make_model(self):
        return make_model("lightgcn", {"factors": 16, "epochs": 2, "eval_every": 1, "progress": False})


def _valid_ndcg(model, split) -> float:
    return FullRanking().evaluate(model, split, part="valid", ks=(10,), metrics=("ndcg",)).per_user["ndcg@10"].mean()


def test_ease_keeps_the_lambda_best_on_valid(small_split):
    grid = [1.0, 100.0, 10000.0]
    model = make_model("ease", {"reg": grid}).fit(small_split.train, small_split.valid)
    assert set(model.selection_) == set(grid)
    assert model.reg_ == max(model.selection_, key=model.selection_.get)
    # the in-fit validation agrees with the evaluator's full-ranking protocol
    assert model.selection_[model.reg_] == pytest.approx(_valid_ndcg(model, small_split), abs=1e-6)
    single = make_model("ease", {"reg": [1.0]}).fit(small_split.train, small_split.valid)
    assert single.reg_ == 1.0 and single.selection_ == {}


def test_ease_refuses_catalogs_that_do_not_fit(small_split):
    model = make_model("ease", {"max_memory_gb": 0.001})
    need = ease_memory_bytes(small_split.n_items) / 2**30
    with pytest.raises(ConfigError, match=f"{need:.1f} GiB"):
        model.fit(small_split.train)


def test_als_alpha_changes_the_fit(small_split):
    users = np.unique(small_split.valid.user)[:5]
    a = make_model("als", {"factors": 8, "iterations": 3, "alpha": 1.0}).fit(small_split.train)
    b = make_model("als", {"factors": 8, "iterations": 3, "alpha": 20.0}).fit(small_split.train)
    assert not np.allclose(a.score(users), b.score(users))


def test_als_user_factors_follow_the_history(small_split):
    model = make_model("als", {"factors": 8, "iterations": 3}).fit(small_split.train)
    users = np.unique(small_split.valid.user)[:5]
    before = model.score(users)
    model.set_history(small_split.known_for("test"))
    try:
        assert not np.allclose(model.score(users), before)
    finally:
        model.set_history(small_split.train)
    np.testing.assert_array_equal(model.score(users), before)


@pytest.mark.parametrize("name, params", [("ease", {}), ("als", {"factors": 16}),
                                          ("lightgcn", {"factors": 16, "epochs": 10, "lr": 0.01,
                                                        "eval_every": 5, "progress": False})])
def test_beats_popularity_on_valid(small_split, name, params):
    pop = _valid_ndcg(make_model("pop").fit(small_split.train), small_split)
    model = make_model(name, params).fit(small_split.train, small_split.valid)
    assert _valid_ndcg(model, small_split) > pop


def test_lightgcn_layers_smooth_over_the_graph(small_split):
    """Zero layers is MF on the layer-0 embeddings; with layers, scores depend on the neighbours' embeddings."""
    flat = make_model("lightgcn", {"factors": 8, "epochs": 1, "layers": 0, "progress": False}).fit(small_split.train)
    deep = make_model("lightgcn", {"factors": 8, "epochs": 1, "layers": 2, "progress": False}).fit(small_split.train)
    users = np.array([0, 1])
    net = flat.net_
    np.testing.assert_allclose(flat.score(users), (net.user.weight[:2] @ net.item.weight.T).detach().numpy(),
                               atol=1e-5)
    assert not np.allclose(deep.score(users), (deep.net_.user.weight[:2] @ deep.net_.item.weight.T)
                           .detach().numpy(), atol=1e-3)
