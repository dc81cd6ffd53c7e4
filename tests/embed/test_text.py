"""Catalog encoding, the per-process memo, the lm cache replay, history pooling, and the MiniLM path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm4rec.data.catalog import Catalog
from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.models import make_model
from llm4rec.models.embed import text as T

TITLES = ["Toy Story", "Toy Story 2", "Alien", "Aliens", "Pride and Prejudice", "Sense and Sensibility"]
GENRES = ["Animation", "Animation", "Sci-Fi|Horror", "Sci-Fi|Action", "Romance", "Romance"]


def tiny_log() -> Interactions:
    """Four users over six items with text; user 0 likes animation, user 1 sci-fi, user 2 romance."""
    catalog = Catalog(np.array([f"i{i}" for i in range(6)]), pd.DataFrame({"title": TITLES, "genres": GENRES}))
    user = [0, 1, 2, 3, 3]
    item = [0, 2, 4, 1, 3]
    return Interactions.build(user, item, np.arange(5), n_users=4, n_items=6, catalog=catalog)


def test_history_matrix_mean_recency_and_truncation():
    log = Interactions.build([0, 0, 0, 1], [0, 1, 2, 3], [1, 2, 3, 1], n_users=3, n_items=4)
    mean = T.history_matrix(log).toarray()
    np.testing.assert_allclose(mean[0], [1 / 3, 1 / 3, 1 / 3, 0], rtol=1e-6)
    assert mean[2].sum() == 0  # no history: empty row
    rec = T.history_matrix(log, pooling="recency", half_life=1.0).toarray()
    np.testing.assert_allclose(rec[0], np.array([0.25, 0.5, 1.0, 0]) / 1.75, rtol=1e-6)
    last2 = T.history_matrix(log, max_history=2).toarray()
    np.testing.assert_allclose(last2[0], [0, 0.5, 0.5, 0], rtol=1e-6)


def test_catalog_is_encoded_once_per_process_and_replayed_across_runs(tmp_path, monkeypatch):
    cfg = make_model("textknn", {"encoder": {"backend": "wordllama", "cache_path": str(tmp_path / "c.sqlite")}}
                     ).config
    cat = tiny_log().catalog
    monkeypatch.setattr(T, "_MEMO", {})
    monkeypatch.setattr(T, "_STATS", {})
    first, s1 = T.encode_catalog(cat, cfg)
    again, s2 = T.encode_catalog(cat, cfg)
    assert again is first and s1["encode_memo_hit"] == 0 and s2["encode_memo_hit"] == 1
    assert s1["encode_texts"] == 6 and s1["encode_cache_hits"] == 0
    T._MEMO.clear()  # a new process: the lm cache on disk answers every text
    replayed, s3 = T.encode_catalog(cat, cfg)
    assert s3["encode_cache_hits"] == 6
    np.testing.assert_array_equal(replayed, first)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1, rtol=1e-5)


def test_missing_catalog_or_field_is_a_clear_error():
    log = tiny_log()
    with pytest.raises(ConfigError, match="catalog"):
        make_model("textknn", {"encoder": {"backend": "wordllama"}}).fit(
            Interactions.build([0], [0], n_users=1, n_items=6))
    with pytest.raises(ConfigError, match="plot"):
        make_model("textknn", {"encoder": {"backend": "wordllama"}, "text_fields": ["plot"]}).fit(log)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_minilm_textknn_ranks_by_meaning(pooling, tmp_path):
    """The real MiniLM encoder (a handful of texts): a user's nearest unseen item is the similar film."""
    enc = {"backend": "sentence-transformers", "model": "minilm", "cache_path": str(tmp_path / "c.sqlite")}
    model = make_model("textknn", {"encoder": enc, "pooling": pooling}).fit(tiny_log())
    assert model.item_text_.shape == (6, 384)
    top, _ = model.recommend([0, 1, 2], k=1)
    assert top.ravel().tolist() == [1, 3, 5]


def test_textpop_predicts_popularity_of_items_it_never_saw(ml100k):
    """Fitted on the interactions of 80% of the items, its scores of the other 20% (never seen)
    correlate with their real popularity: text carries a popularity signal a cold item can use."""
    from llm4rec.data.split import cold_start_items

    split = cold_start_items(ml100k, test_frac=0.2, valid_frac=0.0, seed=0)
    model = make_model("textpop", {"encoder": {"backend": "wordllama"}}).fit(split.train)
    cold = np.unique(split.test.item)
    assert np.all(split.train.item_counts()[cold] == 0)
    pred = model.score(np.array([0]), cold[None, :])[0]
    real = split.test.item_counts()[cold]
    rank = lambda a: np.argsort(np.argsort(a))  # noqa: E731
    assert np.corrcoef(rank(pred), rank(real))[0, 1] > 0.2
