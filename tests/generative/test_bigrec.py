"""BIGRec grounding under the contract suite (toy generator: a test double for the text around it)."""

from __future__ import annotations

import numpy as np

from llm4rec.lm.config import shared_encoder
from llm4rec.models import make_model
from llm4rec.testing import RecommenderContract

TINY = {"generator": {"backend": "toy"}, "encoder": {"backend": "wordllama"}, "valid_users": 20}


class TestBIGRec(RecommenderContract):
    def make_model(self):
        return make_model("bigrec", TINY)


def test_weight_chosen_on_validation_and_grounding_finds_named_title(small_split):
    model = make_model("bigrec", TINY).fit(small_split.train, small_split.valid)
    assert model.weight_ in model.config.pop_weights
    assert model.costs()["generated_users"] >= 1
    title = model.titles_[50]  # a generated text equal to a title grounds to that item (or a same-named one)
    sims = np.asarray(shared_encoder(TINY["encoder"]).encode([title])) @ model.item_vecs_.T
    assert model.titles_[int(np.argmax(sims))] == title
