"""Every classic model through the shared contract suite."""

from __future__ import annotations

from llm4rec.models import make_model
from llm4rec.testing import RecommenderContract


class TestPop(RecommenderContract):
    def make_model(self):
        return make_model("pop")


class TestRandom(RecommenderContract):
    def make_model(self):
        return make_model("random", {"seed": 3})


class TestItemKNN(RecommenderContract):
    def make_model(self):
        return make_model("itemknn", {"k": 20})


class TestBPR(RecommenderContract):
    def make_model(self):
        return make_model("bpr", {"factors": 16, "epochs": 2, "progress": False})


class TestSASRec(RecommenderContract):
    def make_model(self):
        return make_model("sasrec", {"hidden": 16, "epochs": 2, "max_len": 20, "progress": False})


class TestBERT4Rec(RecommenderContract):
    def make_model(self):
        return make_model("bert4rec", {"hidden": 16, "epochs": 2, "max_len": 20, "progress": False})


class TestGRU4Rec(RecommenderContract):
    def make_model(self):
        return make_model("gru4rec", {"hidden": 16, "epochs": 2, "max_len": 20, "progress": False})
