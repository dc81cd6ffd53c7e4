"""DCNv2 and DIN: the contract suite (no side features, catalog control, generated texts through KAR's
adaptor), the side-feature switch and QC policy, the adaptor, and a run through `llm4rec run`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from ctr_support import shared_toy_outputs

from llm4rec.errors import ConfigError
from llm4rec.models import make_model
from llm4rec.models.tokens.features import side_matrices
from llm4rec.models.tokens.layers import HybridExpertAdaptor
from llm4rec.testing import RecommenderContract

WORDLLAMA = {"backend": "wordllama", "cache_mode": "off"}
SMALL = {"epochs": 2, "progress": False, "embed_dim": 8, "max_len": 10, "mlp": [16], "side_dim": 8,
         "expert_hidden": 16}


class TestDCNv2(RecommenderContract):
    def make_model(self):
        return make_model("dcnv2", SMALL)


class TestDIN(RecommenderContract):
    def make_model(self):
        return make_model("din", {**SMALL, "attention": [8]})


class TestDCNv2CatalogText(RecommenderContract):
    def make_model(self):
        return make_model("dcnv2", {**SMALL, "side": "catalog", "encoder": WORDLLAMA})


class TestDINGeneratedKAR(RecommenderContract):
    def make_model(self):
        out = shared_toy_outputs()
        return make_model("din", {**SMALL, "attention": [8], "side": "generated", "encoder": WORDLLAMA,
                                  "item_knowledge": str(out["item"]), "user_profiles": str(out["user"])})


def test_scores_are_probabilities_and_learn_the_labels(small_split):
    model = make_model("dcnv2", {**SMALL, "epochs": 5}).fit(small_split.train)
    train = small_split.train
    s = model.score(train.user[:2000], train.item[:2000, None].reshape(-1, 1)).ravel()
    assert ((s > 0) & (s < 1)).all()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(train.rating[:2000] >= 4, s) > 0.6  # fits its own training labels


def test_side_switch_and_ablation(small_split):
    train = small_split.train
    assert side_matrices(train, make_model("din", {"side": "none"}).config)[:2] == (None, None)
    items, users, _ = side_matrices(train, make_model("din", {"side": "catalog", "encoder": WORDLLAMA}).config)
    assert items is not None and users is not None
    assert items.shape == (train.n_items, 256) and users.shape == (train.n_users, 256)
    assert not users[np.unique(train.user)].any(axis=1).__invert__().any()  # users with history have a vector
    assert not users[train.n_users - 1].any()  # a user outside the 120 has no history: zero vector
    only_items = make_model("din", {"side": "catalog", "side_inputs": "item", "encoder": WORDLLAMA}).config
    i2, u2, _ = side_matrices(train, only_items)
    assert u2 is None and np.array_equal(i2, items)


def test_generated_text_goes_through_qc_policy(small_split, tmp_path):
    from llm4rec.tokens.inputs import item_catalog_texts

    train = small_split.train
    catalog = train.catalog
    texts = ["Toy Story is a gritty, action-packed war adventure.",  # genre contradiction -> policy
             "GoldenEye is a 1995 spy action film in which James Bond fights a rogue agent."]
    df = pd.DataFrame({"key": [str(catalog.ids[0]), str(catalog.ids[1])], "index": [0, 1], "text": texts,
                       "prompt": ["", ""], "finish_reason": ["stop", "stop"], "completion_tokens": [12, 18],
                       "prompt_tokens": [30, 30], "year": pd.array([1995, 1995], dtype="Int64"),
                       "genres": ["Animation|Children's|Comedy", "Action|Adventure|Thriller"],
                       "catalog_text": item_catalog_texts(catalog, None, [0, 1])})
    file = tmp_path / "outputs.parquet"
    df.to_parquet(file)
    base = {"side": "generated", "side_inputs": "item", "item_knowledge": str(file), "encoder": WORDLLAMA}
    catalog_items = side_matrices(train, make_model("dcnv2", {**base, "side": "catalog"}).config)[0]
    fallback, _, stats = side_matrices(train, make_model("dcnv2", base).config)
    assert stats["side_item_generated"] == 2 and stats["side_item_qc_pass"] == 0.5
    np.testing.assert_array_equal(fallback[0], catalog_items[0])  # flagged: the catalog text
    assert not np.array_equal(fallback[1], catalog_items[1])  # passed: the generated text
    np.testing.assert_array_equal(fallback[2:], catalog_items[2:])  # not generated: the catalog text
    dropped = side_matrices(train, make_model("dcnv2", {**base, "qc": {"policy": "drop"}}).config)[0]
    assert not dropped[0].any() and not dropped[2:].any() and dropped[1].any()
    kept = side_matrices(train, make_model("dcnv2", {**base, "qc": {"policy": "keep"}}).config)[0]
    assert not np.array_equal(kept[0], catalog_items[0])


def test_outputs_of_another_dataset_are_refused(small_split, tmp_path):
    df = pd.DataFrame({"key": ["not-an-id"], "index": [0], "text": ["A fine film about a dog and a boy."],
                       "prompt": [""], "finish_reason": ["stop"], "completion_tokens": [9], "catalog_text": ["x"]})
    df.to_parquet(tmp_path / "outputs.parquet")
    cfg = make_model("dcnv2", {"side": "generated", "side_inputs": "item", "encoder": WORDLLAMA,
                               "item_knowledge": str(tmp_path)}).config
    with pytest.raises(ConfigError, match="another dataset"):
        side_matrices(small_split.train, cfg)


def test_config_errors():
    with pytest.raises(ConfigError, match="item_knowledge"):
        make_model("dcnv2", {"side": "generated"})
    make_model("dcnv2", {"side": "generated", "side_inputs": "user", "user_profiles": "x"})


def test_implicit_labels_need_negatives(small_split):
    from llm4rec.data.interactions import Interactions

    t = small_split.train
    implicit = Interactions.build(t.user, t.item, t.timestamp, None, n_users=t.n_users, n_items=t.n_items,
                                  catalog=t.catalog)
    with pytest.raises(ConfigError, match="negatives"):
        make_model("dcnv2", SMALL).fit(implicit)
    model = make_model("dcnv2", {**SMALL, "negatives": 1}).fit(implicit)
    assert np.isfinite(model.score([0, 1])).all()


def test_hybrid_expert_adaptor():
    torch.manual_seed(0)
    ad = HybridExpertAdaptor(12, 4, ["item", "user"], n_shared=2, n_dedicated=1, hidden=8)
    x = torch.randn(5, 12)
    assert ad(x, "item").shape == (5, 4) and ad(x, "user").shape == (5, 4)
    assert not torch.allclose(ad(x, "item"), ad(x, "user"))  # dedicated experts and gates differ by side
    assert len(ad.shared) == 2 and len(ad.dedicated["item"]) == 1
    with pytest.raises(KeyError):
        ad(x, "context")


def test_history_is_causal_in_training(small_split):
    from llm4rec.models.tokens.ctr import last_items, preceding_items

    train = small_split.train
    hist = preceding_items(train, 3)
    off = train.user_offsets()
    u = int(train.user[0])
    rows = np.arange(off[u], off[u + 1])
    assert hist[rows[0]].tolist() == [0, 0, 0]  # the first interaction has no history
    assert hist[rows[4]].tolist() == (train.item[rows[1:4]] + 1).tolist()  # the 3 items before it
    assert last_items(train, 3)[u].tolist() == (train.item[rows[-3:]] + 1).tolist()


def test_ctr_recipe_runs_end_to_end(tmp_path):
    from llm4rec.eval import load_run_config
    from llm4rec.eval import run as run_config

    file = tmp_path / "ctr.toml"
    file.write_text(f"""name = "ctr"
[split]
kind = "temporal"
params = {{ valid = 0.1, test = 0.1 }}
[[protocols]]
kind = "pointwise"
label_threshold = 4
[eval]
metrics = ["auc", "gauc", "logloss"]
bootstrap = 0
[[models]]
name = "dcnv2"
label = "dcnv2-catalog"
[models.params]
epochs = 1
progress = false
side = "catalog"
val_users = 100
[models.params.encoder]
backend = "wordllama"
cache_mode = "off"
[output]
dir = "{tmp_path}/{{name}}"
""")
    result = run_config(load_run_config(file))
    values = {(r.model, r.metric): r.value for r in result.records}
    assert 0.5 < values[("dcnv2-catalog", "auc")] < 1 and values[("dcnv2-catalog", "logloss")] < 1.0


def test_recipes_validate():
    from pathlib import Path

    from llm4rec.eval import load_run_config
    from llm4rec.jobs.generate import load_generate_config

    configs = Path(__file__).resolve().parents[2] / "configs"
    run = load_run_config(configs / "tokens-ml100k-ctr.toml")
    assert {m.params.get("side", "none") for m in run.models} == {"none", "catalog", "generated"}
    gen = load_generate_config(configs / "tokens-generate-ml100k.toml")
    assert gen.split == run.split  # profiles read the training part of the run's own split
