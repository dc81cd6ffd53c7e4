"""The from-scratch generative decoder under the contract suite, and its trie decoding."""

from __future__ import annotations

import numpy as np

from llm4rec.models import make_model
from llm4rec.models.generative.trie import ItemTrie
from llm4rec.testing import RecommenderContract

TINY = {"hidden": 16, "layers": 1, "heads": 1, "epochs": 1, "max_len": 8, "beams": 10, "progress": False}


class TestGenRecRandomIds(RecommenderContract):
    def make_model(self):
        return make_model("genrec", {**TINY, "tokenizer": "random", "tokenizer_params": {"base": 16}})


def test_beam_gives_distinct_valid_unseen_items(small_split, eval_users):
    model = make_model("genrec", {**TINY, "tokenizer": "collaborative",
                                  "tokenizer_params": {"clusters": 8, "levels": 2, "dims": 8}}
                       ).fit(small_split.train)
    seen = small_split.train.to_csr()
    for u in eval_users[:3]:
        items, scores = model.generate(int(u))
        assert len(items) == len(set(items)) == TINY["beams"]
        assert not set(items) & set(seen[u].indices)
        assert (np.diff(scores) <= 1e-6).all()
    assert 0.0 <= model.validity(eval_users[:2]) <= 1.0
    model.config.validity_users = 2
    model.set_history(small_split.train)  # fresh beam cache
    model.score(eval_users[:3])
    costs = model.costs()
    assert 0.0 <= costs["unconstrained_valid_share"] <= 1.0
    assert costs["beams"] == TINY["beams"] and costs["seconds_per_user"] > 0


def test_trie_closes_branches_whose_items_are_all_seen():
    trie = ItemTrie(np.array([[1, 3], [1, 4], [2, 3]]))
    assert sorted(trie.allowed(())) == [1, 2]
    seen = trie.seen_counts([2])
    assert trie.allowed((), seen) == [1]
    assert trie.allowed((1,), trie.seen_counts([0])) == [4]
    assert trie.item([2, 3]) == 2 and trie.item([2, 4]) is None


def test_each_validation_decodes_with_the_current_weights(small_split):
    from llm4rec.models.training import TrainingOptions

    calls = []

    def validator(model):
        calls.append(len(model.beam_cache_))
        model.score(np.arange(3))
        return float(len(calls))

    model = make_model("genrec", {**TINY, "epochs": 2, "eval_steps": 0})  # validate after every epoch
    model.fit(small_split.train, small_split.valid, TrainingOptions(validator=validator))
    assert calls == [0, 0]


def test_llm4rec_run_validates_on_a_bounded_user_sample(small_split):
    from llm4rec.eval import fit_options

    model = make_model("genrec", {"val_users": 7})
    assert model.validation_request() == {"metric": "ndcg", "k": 10, "seed": model.config.seed, "max_users": 7}
    assert fit_options(model, small_split.train, small_split.valid).validation_name == "ndcg@10"
    assert "max_users" not in make_model("genrec", {"val_users": None}).validation_request()
