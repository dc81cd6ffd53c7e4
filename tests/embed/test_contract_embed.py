"""Every paradigm-1 model (LLM embeddings + RS) through the shared contract suite.

WordLlama (numpy, ~50k texts/s) keeps these fast; the MiniLM path is exercised in test_text.py.
"""

from __future__ import annotations

from llm4rec.models import make_model
from llm4rec.testing import RecommenderContract

WORDLLAMA = {"backend": "wordllama"}


class TestTextKNNMean(RecommenderContract):
    def make_model(self):
        return make_model("textknn", {"encoder": WORDLLAMA})


class TestTextKNNRecencyMax(RecommenderContract):
    def make_model(self):
        return make_model("textknn", {"encoder": WORDLLAMA, "pooling": "max", "max_history": 10})


class TestTextMFBoth(RecommenderContract):
    def make_model(self):
        return make_model("textmf", {"encoder": WORDLLAMA, "factors": 16, "epochs": 2, "progress": False})


class TestTextMFText(RecommenderContract):
    def make_model(self):
        return make_model("textmf", {"encoder": WORDLLAMA, "item_repr": "text", "factors": 16, "epochs": 2,
                                     "progress": False})


class TestUniSRec(RecommenderContract):
    def make_model(self):
        return make_model("unisrec", {"encoder": WORDLLAMA, "hidden": 16, "epochs": 2, "max_len": 20,
                                      "n_experts": 2, "progress": False})


class TestUniSRecBoth(RecommenderContract):
    def make_model(self):
        return make_model("unisrec", {"encoder": WORDLLAMA, "item_repr": "both", "hidden": 16, "epochs": 1,
                                      "max_len": 10, "n_experts": 2, "cosine": False, "id_dropout": 0.5,
                                      "progress": False})


class TestTextMFIdDropout(RecommenderContract):
    def make_model(self):
        return make_model("textmf", {"encoder": WORDLLAMA, "factors": 16, "epochs": 2, "id_dropout": 0.5,
                                     "progress": False})


class TestTextPop(RecommenderContract):
    def make_model(self):
        return make_model("textpop", {"encoder": WORDLLAMA})
