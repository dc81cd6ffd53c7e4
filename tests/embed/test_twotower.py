"""twotower-ft: the contract on a tiny random BERT (fast), and one real MiniLM fine-tuning step."""

from __future__ import annotations

import functools
import tempfile

import numpy as np
import torch
from test_text import tiny_log

from llm4rec.models import make_model
from llm4rec.testing import RecommenderContract


@functools.cache
def tiny_bert() -> str:
    """A 1-layer, 32-wide BERT with MiniLM's tokenizer, saved once per test session (seeded)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from llm4rec.lm.registry import resolve_hf_dir

    folder = tempfile.mkdtemp(prefix="tiny-bert-")
    tok = AutoTokenizer.from_pretrained(resolve_hf_dir("minilm"))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def tiny_params(**extra):
    return {"encoder": {"backend": "hf", "model": tiny_bert(), "max_length": 16, "cache_mode": "off"},
            "max_pairs": 64, "batch_size": 16, "user_max_length": 32, "lr": 1e-3, **extra}


class TestTwoTowerFineTuned(RecommenderContract):
    def make_model(self):
        return make_model("twotower-ft", tiny_params())


def test_frozen_baseline_trains_nothing_and_finetuning_changes_scores(small_split):
    frozen = make_model("twotower-ft", tiny_params(finetune=False)).fit(small_split.train)
    tuned = make_model("twotower-ft", tiny_params()).fit(small_split.train)
    assert frozen.costs()["params_trained"] == 0 and frozen.tuned_ is None
    assert tuned.costs()["params_trained"] > 0 and tuned.costs()["steps"] == 4
    assert not np.allclose(frozen.score([0, 1]), tuned.score([0, 1]))


def test_minilm_finetuning_step(tmp_path):
    """Real all-MiniLM-L6-v2: one in-batch-negatives step on six items updates all ~22.7M weights."""
    params = {"encoder": {"backend": "hf", "model": "minilm", "max_length": 16,
                          "cache_path": str(tmp_path / "c.sqlite")}, "max_pairs": 2, "batch_size": 2,
              "user_max_length": 24}
    model = make_model("twotower-ft", params).fit(tiny_log())
    assert 22_000_000 < model.costs()["params_trained"] < 23_000_000
    assert model.item_emb_.shape == (6, 384)
    assert np.isfinite(model.score([0, 1, 2, 3])).all()
