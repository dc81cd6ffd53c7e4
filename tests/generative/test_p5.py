"""``p5`` on a tiny random Llama with SmolLM2's tokenizer: the contract suite over a 40-item catalog, the
identifier tokens added to the vocabulary, the seeded multi-task examples, trie-constrained beams, the
adapter (LoRA + new token rows) saved with the model, explanations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from llm4rec.data.split import Split
from llm4rec.models import make_model
from llm4rec.models.base import Recommender
from llm4rec.models.generative.p5 import P5
from llm4rec.testing import SmallCatalogContract
from tiny_lm import shared_tiny_llama


def params(**over: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "generator": {"backend": "hf", "model": shared_tiny_llama(), "cache_mode": "off"},
        "tokenizer": "random", "tokenizer_params": {"base": 8}, "train_examples": 4, "history": 5, "beams": 4,
        "candidates": 3, "explain_tokens": 6, "lora": {"r": 2, "alpha": 4},
        "train": {"epochs": 1, "batch_size": 4, "grad_accum": 1, "lr": 1e-2, "max_length": 128}}
    return {**p, **over}


class TestP5(SmallCatalogContract):
    def make_model(self) -> Recommender:
        return make_model("p5", params())


@pytest.fixture(scope="module")
def fitted(small_catalog_split: Split) -> P5:
    model = make_model("p5", params())
    assert isinstance(model, P5)
    return model.fit(small_catalog_split.train)


def test_identifier_tokens_are_new_atomic_tokens(fitted: P5) -> None:
    base_vocab = len(fitted._base().tokenizer)
    assert min(fitted.method_.token_ids) >= base_vocab and fitted.method_.vocab == len(fitted.text_tokenizer_)
    name, n = fitted.item_names_[3], fitted.item_tokens_.shape[1]
    assert name.startswith("<a_") and fitted._ids(name)[-n:] == fitted.item_tokens_[3].tolist()
    assert len({tuple(r) for r in fitted.item_tokens_.tolist()}) == len(fitted.item_tokens_)  # one id per item


def test_examples_mix_the_three_tasks_with_a_seed(fitted: P5, small_catalog_split: Split) -> None:
    ex = fitted.examples(small_catalog_split.train)
    assert [t for t, _, _ in ex] == ["sequential"] * 4 + ["direct"] * 4 + ["explanation"] * 4
    assert ex == fitted.examples(small_catalog_split.train)
    n = fitted.item_tokens_.shape[1]
    for task, prompt, answer in ex:
        assert prompt.startswith(f"Task: {task if task != 'sequential' else 'sequential recommendation'}"[:10])
        if task == "explanation":
            assert answer[-1] == fitted.text_tokenizer_.eos_token_id
        else:
            assert len(answer) == n and tuple(answer) in fitted.trie_.item_of
    direct = next(p for t, p, _ in ex if t == "direct")
    assert direct.split("among: ")[1].count(", ") == 2  # three candidates


def test_beams_are_distinct_unseen_catalog_items(fitted: P5, small_catalog_split: Split) -> None:
    users = np.unique(small_catalog_split.test.user)[:2]
    scores = fitted.score(users)
    for r, u in enumerate(users):
        written = np.flatnonzero(scores[r] > -1e4)
        assert 1 <= len(written) <= 4
        assert not set(written) & set(fitted.seqs_[int(u)].tolist())
    costs = fitted.costs()
    assert costs["generated_users"] >= 2 and costs["tune_trainable_params"] > 0 and costs["new_tokens"] > 0
    assert costs["tune_saved_bytes"] < 1e6  # the new rows only, not the resized embedding matrix


def test_saved_adapter_reloads_the_same_model(fitted: P5, small_catalog_split: Split, tmp_path: Any) -> None:
    users = np.unique(small_catalog_split.test.user)[:2]
    back = Recommender.load(fitted.save(tmp_path / "p5"))
    assert isinstance(back, P5)
    np.testing.assert_allclose(back.score(users), fitted.score(users), atol=1e-4)
    assert isinstance(back.explain(int(users[0]), 1), str)
