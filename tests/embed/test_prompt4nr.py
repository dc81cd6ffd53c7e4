"""prompt4nr: the contract on a tiny random BERT, parameter counts of soft vs hard prompts, and MiniLM."""

from __future__ import annotations

import numpy as np
import torch
from test_text import tiny_log
from test_twotower import tiny_bert

from llm4rec.models import make_model
from llm4rec.testing import RecommenderContract


def tiny_params(**extra):
    return {"encoder": {"backend": "hf", "model": tiny_bert(), "max_length": 48, "cache_mode": "off"},
            "max_pairs": 32, "batch_size": 16, "n_prompts": 4, "score_batch_size": 2048,
            "template": "{history} | {item}", "user_items": 2, "text_fields": ["title"], **extra}


class TestPrompt4NRSoft(RecommenderContract):
    def make_model(self):
        return make_model("prompt4nr", tiny_params())


def test_soft_prompt_trains_prompts_and_head_hard_prompt_only_the_head(small_split):
    soft = make_model("prompt4nr", tiny_params()).fit(small_split.train)
    hard = make_model("prompt4nr", tiny_params(prompt="hard")).fit(small_split.train)
    assert soft.costs()["params_trained"] == 4 * 32 + 32 + 1
    assert hard.costs()["params_trained"] == 32 + 1
    assert soft.costs()["pairs"] == 64  # one negative per positive
    cands = np.array([[0, 1, 2], [3, 4, 5]])
    assert soft.score([0, 1], cands).shape == (2, 3)


def test_minilm_prompt_tuning_step(tmp_path):
    """Real all-MiniLM-L6-v2 stays frozen; 8 x 384 prompt values + a 385-weight head are tuned."""
    params = {"encoder": {"backend": "hf", "model": "minilm", "max_length": 64,
                          "cache_path": str(tmp_path / "c.sqlite")}, "max_pairs": 2, "batch_size": 4}
    model = make_model("prompt4nr", params).fit(tiny_log())
    assert model.costs()["params_trained"] == 8 * 384 + 385
    assert np.isfinite(model.score([0, 1])).all()


class TestPrompt4NRFinetune(RecommenderContract):
    def make_model(self):
        return make_model("prompt4nr", tiny_params(prompt="finetune"))


def test_finetune_trains_a_private_copy_of_the_encoder(small_split, tmp_path):
    from llm4rec.models.embed.text import get_encoder

    params = tiny_params(prompt="finetune")
    shared = get_encoder(make_model("prompt4nr", params).config.encoder).model
    before = {k: v.clone() for k, v in shared.state_dict().items()}
    model = make_model("prompt4nr", params).fit(small_split.train)
    n_encoder = sum(p.numel() for p in shared.parameters())
    assert model.costs()["params_trained"] == n_encoder + 32 + 1
    assert all(torch.equal(before[k], v) for k, v in shared.state_dict().items())  # the shared one is untouched
    tuned = model._scorer().tuned_encoder.state_dict()
    assert any(not torch.equal(before[k], tuned[k]) for k in before)
    frozen = make_model("prompt4nr", tiny_params(prompt="hard")).fit(small_split.train)
    cands = np.array([[0, 1, 2, 3]])
    assert not np.allclose(model.score([0], cands), frozen.score([0], cands))
    loaded = type(model).load(model.save(tmp_path / "ft"))  # the tuned encoder is saved with the model
    np.testing.assert_allclose(loaded.score([0], cands), model.score([0], cands), rtol=1e-5, atol=1e-6)
