"""A saved model carries its external id vocabularies and their fingerprint: a loaded model
recommends by external id and refuses data over other ids."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llm4rec.errors import ArtifactError, UnknownUserError
from llm4rec.models import make_model
from llm4rec.models.base import Recommender


def test_saved_model_recommends_by_external_id(ml100k, tiny_split, tiny_users, tmp_path):
    model = make_model("itemknn").fit(tiny_split.train)
    model.set_vocabulary(ml100k.user_ids, ml100k.catalog.ids)
    loaded = Recommender.load(model.save(tmp_path / "m"))
    assert loaded.vocabulary_fingerprint() == model.vocabulary_fingerprint()
    external = [str(ml100k.user_ids[u]) for u in tiny_users]
    ids, _ = model.recommend(tiny_users, k=5)
    assert loaded.recommend_ids(external, k=5) == [[str(ml100k.catalog.ids[i]) for i in row] for row in ids]
    with pytest.raises(UnknownUserError):
        loaded.recommend_ids(["no-such-user"], k=5)


def test_loaded_model_refuses_other_ids(ml100k, tiny_split, tmp_path):
    model = make_model("pop").fit(tiny_split.train).set_vocabulary(ml100k.user_ids, ml100k.catalog.ids)
    folder = model.save(tmp_path / "m")
    loaded = Recommender.load(folder)
    loaded.check_vocabulary(ml100k.user_ids, ml100k.catalog.ids)  # the data it was trained on
    other_items = np.array([f"x{i}" for i in range(ml100k.n_items)])
    with pytest.raises(ValueError, match="other user/item ids"):
        loaded.check_vocabulary(ml100k.user_ids, other_items)
    meta = json.loads((folder / "meta.json").read_text())
    meta["vocab_fingerprint"] = "0" * 64  # vocab.npz and meta.json disagree
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="vocab_fingerprint"):
        Recommender.load(folder)
