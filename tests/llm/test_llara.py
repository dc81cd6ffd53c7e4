"""``llm-llara`` (hybrid ID + text prompts) on a tiny random Llama over a tiny SASRec: the contract suite on
a 40-item catalog, item tokens in prompts, the projector at inference, the curriculum and resume."""

from __future__ import annotations

import numpy as np
import pytest
from test_tallrec import Interrupted, tiny

from llm4rec.models import make_model
from llm4rec.testing import SmallCatalogContract

SASREC = {"epochs": 2, "hidden": 16, "progress": False}


def params(**over) -> dict:
    p = {"generator": {"backend": "hf", "model": tiny(), "cache_mode": "off", "batch_size": 64},
         "retriever": "sasrec", "retriever_params": SASREC, "top_n": 8, "max_history": 5, "max_train_users": 16,
         "train": {"epochs": 1, "batch_size": 4, "grad_accum": 1, "lr": 1e-2, "max_length": 256, "save_steps": 1},
         "progress": False}
    return {**p, **over}


class TestLlara(SmallCatalogContract):
    def make_model(self):
        return make_model("llm-llara", params())


@pytest.fixture(scope="module")
def fitted(small_catalog_split):
    return make_model("llm-llara", params()).fit(small_catalog_split.train)


def test_prompts_carry_one_item_token_per_item(fitted, small_catalog_split):
    gen = fitted.generator
    vocab = gen.model.get_input_embeddings().num_embeddings
    u = int(np.unique(small_catalog_split.test.user)[0])
    hist, cands = fitted.seqs_[u][-5:], np.array([4, 2, 7])
    ids = fitted.hybrid_ids(gen, fitted.prompt(fitted.seqs_[u], cands))
    items = [i - vocab for i in ids if i >= vocab]
    assert items == [*hist.tolist(), 4, 2, 7]  # history (oldest first), then the candidates in order
    text = fitted.prompt(fitted.seqs_[u], cands)
    assert fitted.texts([4])[0] in text and "(A) " in text
    ex = fitted.token_examples(gen, small_catalog_split.train)
    assert len(ex) == 16 and all(sum(i >= vocab for i in e.prompt) == len(e.prompt) - len(
        [i for i in e.prompt if i < vocab]) for e in ex)
    assert all(any(i >= vocab for i in e.prompt) and e.answer[0] < vocab for e in ex)


def test_scores_read_the_projected_item_vectors(fitted, small_catalog_split):
    users = np.unique(small_catalog_split.test.user)[:2]
    cands = np.array([[3, 1, 4, 0], [5, 9, 2, 6]])
    before = fitted.letter_scores(users, cands)
    assert np.allclose(before.sum(axis=1), 1.0, atol=1e-5)
    key, projector, vectors = fitted.__dict__["hybrid_"]
    fitted.__dict__["hybrid_"] = (key, projector, vectors * 0 + 1)  # other ID embeddings: other scores
    try:
        assert not np.allclose(fitted.letter_scores(users, cands), before, atol=1e-6)
    finally:
        fitted.__dict__["hybrid_"] = (key, projector, vectors)
    costs = fitted.costs()
    assert costs["tune_trainable_params"] > 0 and costs["lm_tokens_per_user"] > 0
    np.testing.assert_allclose(np.asarray(vectors), fitted.item_vectors(), atol=1e-6)  # saved with the adapter


def test_curriculum_masks_item_tokens_of_text_only_prompts(tiny_llm):
    import torch
    from transformers import AutoModelForCausalLM

    from llm4rec.tuning.generator import HybridMethod

    lm = AutoModelForCausalLM.from_pretrained(tiny_llm)
    vocab = lm.get_input_embeddings().num_embeddings
    vectors = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    module = HybridMethod(curriculum=0.5, dropout=0.0).with_vectors(vectors).prepare(lm)
    module.total = 8
    assert [module.hybrid_share() for module.step in (0, 2, 4, 8)] == [0.0, 0.5, 1.0, 1.0]
    ids = torch.tensor([[1, 2, vocab + 3, 5, vocab + 1, 7]] * 4)
    mask = torch.ones_like(ids)
    labels = ids.clone().masked_fill(ids >= vocab, -100)
    module.train()
    module.step = 0  # no hybrid prompts yet: item tokens are masked out of attention
    text_only = module(ids, mask, labels).loss
    masked = mask.masked_fill(ids >= vocab, 0)
    module.eval()
    np.testing.assert_allclose(float(text_only), float(module(ids, masked, labels).loss), rtol=1e-5)
    assert abs(float(module(ids, mask, labels).loss) - float(text_only)) > 1e-6
    assert set(module.state_dict()) == {n for n, p in module.named_parameters() if p.requires_grad}
    assert any(k.startswith("projector.") for k in module.state_dict())


def test_llara_resumes_an_interrupted_fit(small_catalog_split, tmp_path, monkeypatch):
    """Checkpoints of the hybrid module hold LoRA and the projector: a fit that dies at step 3 of 4 resumes
    at step 2 and ends with the projector and adapter of an uninterrupted fit."""
    from safetensors.numpy import load_file

    from llm4rec.models.training import TrainingOptions

    monkeypatch.setenv("LLM4REC_CACHE", str(tmp_path / "a"))
    whole = make_model("llm-llara", params()).fit(small_catalog_split.train)
    monkeypatch.setenv("LLM4REC_CACHE", str(tmp_path / "b"))

    def die(model, entry):
        if entry["step"] == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        make_model("llm-llara", params()).fit(small_catalog_split.train, options=TrainingOptions(callbacks=[die]))
    again = make_model("llm-llara", params()).fit(small_catalog_split.train)
    assert again.training_costs()["tune_resumed_from_step"] == 2 and again.training_costs()["tune_steps"] == 4
    for name in ("adapter_model.safetensors", "projector.safetensors"):
        a, b = (load_file(str(m.adapter_dir_ / name)) for m in (whole, again))
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_allclose(a[key], b[key], atol=1e-6)


def test_llara_needs_the_hybrid_method_and_an_embedding_retriever(small_catalog_split):
    with pytest.raises(Exception, match="hybrid"):
        make_model("llm-llara", params(method={"method": "lora"}))
    with pytest.raises(Exception, match="item embeddings"):
        make_model("llm-llara", params(retriever="pop", retriever_params={})).fit(small_catalog_split.train)


def test_generation_through_item_tokens_is_a_greedy_decode(fitted, small_catalog_split):
    """``generate_choice`` equals a manual greedy loop over the hybrid prompt's embeddings (projected item
    tokens included; one full forward pass per token), and it reads the item tokens: other ID embeddings
    change the prompt's embeddings at exactly the item tokens."""
    import torch

    from llm4rec.models.llm.tuned import parse_choice

    gen = fitted.generator
    emb_table = gen.model.get_input_embeddings()
    u, cands = int(np.unique(small_catalog_split.test.user)[1]), np.array([7, 3, 0, 5])
    with torch.inference_mode():
        emb = fitted.answer_embeds(u, cands)
        ids = fitted.hybrid_ids(gen, fitted.prompt(fitted.seqs_[u], cands))
        assert emb.shape[1] == len(ids)
        new: list[int] = []
        for _ in range(fitted.config.generate_tokens):
            t = int(gen.model(inputs_embeds=emb).logits[0, -1].argmax())
            if t in (gen.tokenizer.eos_token_id, gen.tokenizer.pad_token_id):
                break
            new.append(t)
            emb = torch.cat([emb, emb_table(torch.tensor([[t]]))], 1)
    chosen, text = fitted.generate_choice(u, cands)
    assert new and text == gen.tokenizer.decode(new, skip_special_tokens=True)
    pick = parse_choice(text, list("ABCD"))
    assert chosen == (None if pick is None else int(cands[pick]))

    key, projector, vectors = fitted.__dict__["hybrid_"]
    fitted.__dict__["hybrid_"] = (key, projector, vectors * 0 + 1)
    try:
        with torch.inference_mode():
            other = fitted.answer_embeds(u, cands)
    finally:
        fitted.__dict__["hybrid_"] = (key, projector, vectors)
    with torch.inference_mode():
        differs = (other[0] != fitted.answer_embeds(u, cands)[0]).any(-1)
    vocab = emb_table.num_embeddings
    assert differs.tolist() == [i >= vocab for i in ids]


def test_llara_generation_reports_validity_and_costs(fitted, small_catalog_split):
    from llm4rec.models.llm.tuned import parse_choice

    users = np.unique(small_catalog_split.test.user)[:3]
    items = np.tile(np.arange(12), (3, 1))
    fitted.reset_usage()
    got = fitted.generate_choices(users, items, targets=items[:, 0])
    assert got.shown.shape == (3, 8) and len(got.texts) == 3
    for row, c, text in zip(got.shown, got.chosen, got.texts, strict=True):
        pick = parse_choice(text, list("ABCDEFGH"))
        assert c == (-1 if pick is None else row[pick])
    assert got.summary() == {"validity": got.valid.mean(), "gen_hr@1": (got.chosen == items[:, 0]).mean()}
    costs = fitted.costs()
    assert costs["gen_users"] == 3 and costs["gen_validity"] == got.valid.mean()
    assert costs["gen_tokens_per_user"] > costs["gen_new_tokens_per_user"] > 0
    assert "lm_tokens_per_user" in costs  # no verbalizer call yet: its counters are empty, no KeyError
