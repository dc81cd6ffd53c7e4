"""``llm-llamarec`` on a tiny random Llama (SmolLM2's real tokenizer) over Pop: the contract suite on a
40-item catalog, the training examples (target = last training item, candidates from the retriever
without it), one forward pass per user scoring every letter, the full-ranking order and the costs."""

from __future__ import annotations

import numpy as np
import pytest
from test_tallrec import tiny

from llm4rec.models import make_model
from llm4rec.models.base import Recommender
from llm4rec.models.llm.tuned import choice_probabilities
from llm4rec.testing import SmallCatalogContract


def params(**over) -> dict:
    p = {"generator": {"backend": "hf", "model": tiny(), "cache_mode": "off", "batch_size": 64},
         "retriever": "pop", "top_n": 8, "max_history": 5, "max_train_users": 16,
         "train": {"epochs": 1, "batch_size": 4, "grad_accum": 1, "lr": 1e-2, "max_length": 256},
         "progress": False}
    return {**p, **over}


class TestLlamaRec(SmallCatalogContract):
    """The whole contract (the candidates-vs-catalog check is skipped: candidate-dependent tag)."""

    def make_model(self):
        return make_model("llm-llamarec", params())


@pytest.fixture(scope="module")
def fitted(small_catalog_split):
    return make_model("llm-llamarec", params()).fit(small_catalog_split.train)


def test_training_examples_put_the_last_item_among_the_retrievers_candidates(fitted, small_catalog_split):
    train = small_catalog_split.train
    targets = fitted.training_targets(train)
    again = fitted.training_targets(train)  # seeded cap, stable
    assert len(targets) == 16 and [(u, list(c), p) for u, c, p in targets] == [(u, list(c), p) for u, c, p in again]
    pop = np.bincount(train.item, minlength=train.n_items)
    seqs = train.sequences()
    for u, cands, pos in targets:
        seq = seqs[u]
        assert cands[pos] == seq[-1] and len(cands) == 8
        assert not set(cands) & set(seq[:-1])  # seen items (before the target) are never candidates
        assert (np.diff(pop[cands]) <= 0).all()  # the retriever's (Pop) order
    stats = fitted.costs()
    assert stats["llamarec_eligible_users"] >= stats["llamarec_target_in_top"] >= 16
    ex = fitted.examples(train)
    u, cands, pos = targets[0]
    assert ex[0][1] == "" and ex[0][2] == " " + "ABCDEFGH"[pos]
    assert f"({'ABCDEFGH'[pos]}) {fitted.texts([cands[pos]])[0]}" in ex[0][0]
    assert ex[0][0].endswith("Answer:") and fitted.texts([seqs[u][-1]])[0] not in ex[0][0].split("Candidates:")[0]


def test_one_forward_pass_scores_every_letter(fitted, small_catalog_split):
    users = np.unique(small_catalog_split.test.user)[:2]
    cands = np.array([[3, 1, 4, 0], [5, 9, 2, 6]])
    g = fitted.generator
    before = g.usage.calls
    got = fitted.letter_scores(users, cands)
    assert g.usage.calls - before == 2  # one backend call (one forward pass) per user
    for r, u in enumerate(users):
        prompt = fitted.prompt(fitted.seqs_[int(u)], cands[r])
        lp = np.array([[g.naive_score(prompt, c) for c in (" A", " B", " C", " D")]])
        np.testing.assert_allclose(got[r], choice_probabilities(lp)[0], atol=1e-5)
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_full_ranking_puts_the_reranked_top_n_above_the_retrievers_order(fitted, small_catalog_split):
    users = np.unique(small_catalog_split.test.user)[:3]
    s = fitted.score(users)
    pop = np.asarray(fitted.retriever_.score(users), dtype=np.float64)
    seen = small_catalog_split.train.to_csr()
    for row, p, u in zip(s, pop, users, strict=True):
        p = p.copy()
        p[seen[u].indices] = -np.inf
        order = np.argsort(-p, kind="stable")
        top, rest = order[:8], order[8:]
        assert set(np.argsort(-row, kind="stable")[:8]) == set(top)  # same items, the LLM's order
        assert row[top].min() > row[rest].max()
        llm = fitted.letter_scores(np.array([u]), top[None, :])[0]
        assert list(np.argsort(-row[top], kind="stable")) == list(np.argsort(-llm, kind="stable"))
        unseen_rest = [i for i in rest if np.isfinite(p[i])]
        assert list(np.argsort(-row[unseen_rest], kind="stable")) == list(np.argsort(-p[unseen_rest],
                                                                                     kind="stable"))


def test_costs_and_save_load(fitted, small_catalog_split, tmp_path):
    users = np.unique(small_catalog_split.test.user)[:2]
    fitted.score(users)
    costs = fitted.costs()
    assert costs["tune_trainable_params"] > 0 and costs["tune_steps"] == 4 and costs["lm_tokens_per_user"] > 0
    loaded = Recommender.load(fitted.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.score(users), fitted.score(users))
    assert loaded.costs()["llamarec_target_in_top"] == costs["llamarec_target_in_top"]


def test_too_many_candidates_for_the_labels_is_refused():
    with pytest.raises(Exception, match="top_n"):
        make_model("llm-llamarec", params(top_n=27))


def test_a_fitted_retriever_can_be_given(small_catalog_split, tmp_path):
    pop = make_model("pop").fit(small_catalog_split.train)
    model = make_model("llm-llamarec", params()).use_retriever(pop).fit(small_catalog_split.train)
    assert model.retriever_ is pop
    users = np.unique(small_catalog_split.test.user)[:2]
    loaded = Recommender.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    with pytest.raises(Exception, match="configured"):
        make_model("llm-llamarec", params(retriever="sasrec")).use_retriever(pop)


def test_recipe_runs_through_the_runner_with_early_stopping(tmp_path):
    """configs/llm-llamarec.toml through ``llm4rec run``'s runner, with the tiny model, Pop as retriever and a
    small budget: early stopping validates through the shared evaluator, costs land in the results."""
    import json
    from pathlib import Path

    from llm4rec.eval.config import load_run_config
    from llm4rec.eval.runner import run

    cfg = load_run_config(Path(__file__).resolve().parents[2] / "configs" / "llm-llamarec.toml")
    cfg.models = [m for m in cfg.models if m.name == "llm-llamarec"]
    spec = cfg.models[0]
    spec.params = {**spec.params, **params(max_train_users=8), "retriever_params": {}, "eval_steps": 1,
                   "patience": 1, "val_users": 4}
    cfg.eval.max_users, cfg.eval.bootstrap = 4, 0
    result = run(cfg, tmp_path)
    assert not result.failures, result.failures
    records = json.loads((tmp_path / "results.json").read_text())
    got = {(r["metric"], r["k"]): r["value"] for r in records if r["model"] == "llm-llamarec"}
    assert ("ndcg", 10) in got and got[("tune_steps", None)] == 2 and got[("tune_best_step", None)] >= 1


# ---------------------------------------------------------------------- generation with validity
@pytest.mark.parametrize(("text", "want"), [
    (" B", 1), ("B", 1), (" (B)", 1), ("(C) Titanic (1997)", 2), ("A.", 0), (" A)\n", 0), ("\n H", 7), ("(D", 3),
    ("", None), ("   ", None), ("Because", None), ("The answer is B", None), (" (I)", None), (" Z", None),
    (" b", None), ("BB", None), ("B1", None), ("[B]", None),
])
def test_parse_choice_reads_the_leading_letter_only(text, want):
    from llm4rec.models.llm.tuned import parse_choice

    assert parse_choice(text, list("ABCDEFGH")) == want


def test_generation_is_a_greedy_decode_of_the_verbalizer_prompt(fitted, small_catalog_split):
    """The text of ``generate_choice`` is a greedy loop over the prompt's token ids (one full forward pass per
    token, no KV cache) and the chosen item is the parsed letter's candidate."""
    import torch

    from llm4rec.models.llm.tuned import parse_choice

    g = fitted.generator
    u, cands = int(np.unique(small_catalog_split.test.user)[0]), np.array([5, 9, 2, 6, 1])
    ids = g.encode_prompt(fitted.prompt(fitted.seqs_[u], cands))
    new: list[int] = []
    with torch.inference_mode():
        for _ in range(fitted.config.generate_tokens):
            t = int(g.model(input_ids=torch.tensor([ids + new])).logits[0, -1].argmax())
            if t in (g.tokenizer.eos_token_id, g.tokenizer.pad_token_id):
                break
            new.append(t)
    chosen, text = fitted.generate_choice(u, cands)
    assert new and text == g.tokenizer.decode(new, skip_special_tokens=True)
    pick = parse_choice(text, list("ABCDE"))
    assert chosen == (None if pick is None else int(cands[pick]))


def test_validity_and_hit_rate_by_generation(fitted, small_catalog_split, monkeypatch):
    """Constructed answers: one hit, one valid miss, two invalid -> validity 1/2, HR@1 1/4; costs count them."""
    import llm4rec.models.llm.llamarec as llamarec

    tok = fitted.generator.tokenizer
    answers = iter([" B", " (A) Heat", "Because", " Z"])
    monkeypatch.setattr(llamarec, "greedy_new_tokens",
                        lambda gen, embeds, n: tok(next(answers), add_special_tokens=False).input_ids)
    users = np.unique(small_catalog_split.test.user)[:4]
    items = np.tile(np.arange(10), (4, 1))
    shown = fitted.shown_candidates(users, items)
    pop = np.bincount(small_catalog_split.train.item, minlength=small_catalog_split.train.n_items)[:10]
    np.testing.assert_array_equal(shown[0], np.argsort(-pop, kind="stable")[:8])  # Pop's top 8, its order
    targets = np.array([shown[0, 1], shown[1, 3], shown[2, 0], shown[3, 0]])
    fitted.reset_usage()
    got = fitted.generate_choices(users, items, targets)
    assert got.chosen.tolist() == [shown[0, 1], shown[1, 0], -1, -1]
    assert got.valid.tolist() == [True, True, False, False] and got.hits.tolist() == [True, False, False, False]
    assert got.summary() == {"validity": 0.5, "gen_hr@1": 0.25}
    assert got.texts[2] == "Because"
    costs = fitted.costs()
    assert costs["gen_users"] == 4 and costs["gen_validity"] == 0.5
    assert costs["gen_new_tokens_per_user"] == np.mean([len(tok(a, add_special_tokens=False).input_ids)
                                                        for a in (" B", " (A) Heat", "Because", " Z")])
    assert costs["lm_users"] == 0  # the verbalizer's costs are apart


def test_generation_costs_are_recorded(fitted, small_catalog_split):
    users = np.unique(small_catalog_split.test.user)[:2]
    cands = np.array([[3, 1, 4, 0], [5, 9, 2, 6]])
    fitted.reset_usage()
    assert "gen_users" not in fitted.costs()
    prompt_tokens = [len(fitted.generator.encode_prompt(fitted.prompt(fitted.seqs_[int(u)], c)))
                     for u, c in zip(users, cands, strict=True)]
    texts = [fitted.generate_choice(int(u), c)[1] for u, c in zip(users, cands, strict=True)]
    costs = fitted.costs()
    assert costs["gen_users"] == 2 and costs["gen_seconds_per_user"] > 0
    assert 1 <= costs["gen_new_tokens_per_user"] <= fitted.config.generate_tokens
    assert costs["gen_tokens_per_user"] == np.mean(prompt_tokens) + costs["gen_new_tokens_per_user"]
    assert all(isinstance(t, str) for t in texts)
