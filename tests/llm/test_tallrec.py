"""``llm-tallrec`` on a tiny random Llama (SmolLM2's real tokenizer): the contract suite, the few-shot
examples (history split by rating, labels, seeded draw), P(Yes) through the verbalizer, adapter
persistence, early stopping through the shared evaluator and the reported costs."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest

from llm4rec.eval import Pointwise, fit_options
from llm4rec.models import make_model
from llm4rec.models.base import Recommender
from llm4rec.models.llm.tuned import choice_probabilities
from llm4rec.testing import SmallCatalogContract


@functools.lru_cache(maxsize=1)
def tiny() -> str:
    from tiny_lm import make_tiny_llama

    return str(make_tiny_llama(Path(tempfile.mkdtemp(prefix="tiny-llama-"))))


def params(**over) -> dict:
    p = {"generator": {"backend": "hf", "model": tiny(), "cache_mode": "off", "batch_size": 64},
         "n_shots": 16, "train": {"epochs": 1, "batch_size": 4, "grad_accum": 1, "lr": 1e-2, "max_length": 160},
         "progress": False}
    return {**p, **over}


class TestTallRec(SmallCatalogContract):
    """The whole contract over a 40-item catalog: one LLM evaluation per scored item (1,682 items per user
    on the full ML-100K catalog cost minutes per user even on the tiny model)."""

    def make_model(self):
        return make_model("llm-tallrec", params(full_catalog="all"))


@pytest.fixture(scope="module")
def fitted(small_split):
    return make_model("llm-tallrec", params()).fit(small_split.train)


def test_scores_are_p_yes_from_the_first_answer_token(fitted, eval_users):
    u = int(eval_users[0])
    items = np.arange(3)
    g = fitted.generator
    yes, no = (g.tokenizer(c, add_special_tokens=False).input_ids[0] for c in (" Yes", " No"))
    assert yes != no
    prefix = fitted.prefix(fitted.seqs_[u], fitted.ratings_[u])
    lp = np.array([[g.naive_score(prefix + fitted.suffix(i), c) for c in (" Yes", " No")] for i in items])
    want = choice_probabilities(lp)[:, 0]
    np.testing.assert_allclose(fitted.score([u], items)[0], want, atol=1e-5)
    assert ((want > 0) & (want < 1)).all()
    # per-pair scores: a candidate's score does not depend on the other candidates
    np.testing.assert_allclose(fitted.score([u], np.array([2, 7]))[0, 0], want[2], atol=1e-5)


def test_costs_are_reported(fitted, eval_users):
    fitted.score(eval_users[:2], np.arange(4))
    usage = fitted.lm_usage()
    assert usage["tune_trainable_params"] > 0 and usage["tune_steps"] == 4 and usage["tune_train_tokens"] > 0
    assert usage["tune_saved_bytes"] > 0 and usage["lm_tokens_per_user"] > 0 and usage["lm_seconds_per_user"] > 0


def test_unfitted_and_unknown_users_raise(fitted):
    from llm4rec.errors import NotFittedError, UnknownUserError

    with pytest.raises(NotFittedError):
        make_model("llm-tallrec", params()).score([0], np.arange(3))
    with pytest.raises(UnknownUserError):
        fitted.score([fitted.n_users_], np.arange(3))


def test_examples_split_history_by_rating_and_draw_with_a_seed(small_split):
    model = make_model("llm-tallrec", params(n_shots=40, max_history=10))
    model.n_users_, model.n_items_ = small_split.train.n_users, small_split.train.n_items
    from llm4rec.models.llm.base import LLMRanker

    LLMRanker._fit(model, small_split.train, None)  # item texts only, no tuning
    model._use_history(small_split.train)
    ex = model.examples(small_split.train)
    assert len(ex) == 40 and ex == model.examples(small_split.train)
    other = make_model("llm-tallrec", params(n_shots=40, sample_seed=1))
    other.item_text_, other.seqs_, other.ratings_ = model.item_text_, model.seqs_, model.ratings_
    assert other.examples(small_split.train) != ex
    # every example: the answer is the target's rating > 3; liked/disliked lists are the 10 previous ratings
    seqs, rats = model.seqs_, model.ratings_
    checked = 0
    for u, seq in enumerate(seqs):
        for t in range(1, len(seq)):
            pre, suf = model.prefix(seq[:t], rats[u][:t]), model.suffix(int(seq[t]))
            hit = [e for e in ex if e[0] == pre and e[1] == suf]
            if not hit:
                continue
            assert hit[0][2] == (" Yes" if rats[u][t] > 3 else " No")
            liked = [model.texts([i])[0] for i, r in zip(seq[:t][-10:], rats[u][:t][-10:], strict=True) if r > 3]
            assert all(f'"{x}"' in pre.split("Disliked")[0] for x in liked)
            checked += 1
    assert checked >= 30
    assert {e[2] for e in ex} == {" Yes", " No"}


def test_pointwise_auc_and_early_stopping_through_the_evaluator(small_split, tmp_path):
    model = make_model("llm-tallrec", params(early_stopping=True, eval_steps=2, patience=1, val_users=10,
                                             n_shots=24, sample_seed=3))
    opts = fit_options(model, small_split.train, small_split.valid)
    assert opts.validation_name == "auc" and opts.validator is not None
    model.fit(small_split.train, small_split.valid, opts)
    costs = model.training_costs()
    assert costs["tune_best_step"] >= 2
    res = Pointwise(label_threshold=4).evaluate(model, small_split, "test", ks=(10,), metrics=("auc", "logloss"))
    assert 0.0 <= res.global_metrics["auc"] <= 1.0 and np.isfinite(res.global_metrics["logloss"])
    # the saved model carries its adapter: loaded elsewhere it scores identically
    loaded = Recommender.load(model.save(tmp_path / "m"))
    users = np.unique(small_split.test.user)[:3]
    np.testing.assert_array_equal(loaded.score(users, np.arange(5)), model.score(users, np.arange(5)))
    assert loaded.adapter_dir_ != model.adapter_dir_ and loaded.generator.model_id == model.generator.model_id


def test_an_existing_adapter_is_used_without_training(small_split):
    first = make_model("llm-tallrec", params(n_shots=8)).fit(small_split.train)
    again = make_model("llm-tallrec", params(n_shots=8, adapter=str(first.adapter_dir_))).fit(small_split.train)
    users = np.unique(small_split.test.user)[:2]
    np.testing.assert_array_equal(again.score(users, np.arange(4)), first.score(users, np.arange(4)))


def test_tuning_needs_an_hf_generator():
    with pytest.raises(Exception, match="hf"):
        make_model("llm-tallrec", params(generator={"backend": "toy"})).base_generator  # noqa: B018


class Interrupted(Exception):
    pass


def _resumable(**over) -> dict:
    train = {"epochs": 2, "batch_size": 4, "grad_accum": 1, "lr": 1e-2, "max_length": 160, "save_steps": 1,
             "seed": 3}
    return params(n_shots=16, train=train, method={"method": "lora", "r": 4, "dropout": 0.1}, **over)


def test_a_fit_interrupted_mid_training_resumes_from_its_checkpoint(small_split, tmp_path, monkeypatch):
    """A fit dies at step 5 of 8 (an exception from a step callback; checkpoint every step): the next fit of
    the same config resumes from the last checkpoint and ends with the weights of an uninterrupted fit."""
    from safetensors.numpy import load_file

    from llm4rec.models.training import TrainingOptions

    monkeypatch.setenv("LLM4REC_CACHE", str(tmp_path / "a"))
    whole = make_model("llm-tallrec", _resumable()).fit(small_split.train)
    assert whole.training_costs()["tune_steps"] == 8 and whole.training_costs()["tune_resumed_from_step"] == 0

    monkeypatch.setenv("LLM4REC_CACHE", str(tmp_path / "b"))
    steps: list[int] = []

    def die(model, entry):
        steps.append(entry["step"])
        assert np.isfinite(entry["loss"])
        if entry["step"] == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        make_model("llm-tallrec", _resumable()).fit(small_split.train, options=TrainingOptions(callbacks=[die]))
    assert steps == [1, 2, 3, 4, 5]
    assert not list((tmp_path / "b").glob("tuned/*/llm4rec_tuned.json"))  # nothing saved as a result
    assert list((tmp_path / "b").glob("tuning-runs/*/checkpoint-4"))

    again = make_model("llm-tallrec", _resumable()).fit(small_split.train)
    costs = again.training_costs()
    assert costs["tune_resumed_from_step"] == 4 and costs["tune_steps"] == 8
    assert not list((tmp_path / "b").glob("tuning-runs/*/checkpoint-*"))  # removed once the result is saved
    a = load_file(str(whole.adapter_dir_ / "adapter_model.safetensors"))
    b = load_file(str(again.adapter_dir_ / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and len(a) > 0
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6)
    users = np.unique(small_split.test.user)[:2]
    np.testing.assert_allclose(again.score(users, np.arange(5)), whole.score(users, np.arange(5)), atol=1e-5)


def test_a_callback_that_stops_keeps_its_adapter_out_of_the_reusable_cache(small_split, tmp_path, monkeypatch):
    from llm4rec.models.training import TrainingOptions

    monkeypatch.setenv("LLM4REC_CACHE", str(tmp_path))
    stopped = make_model("llm-tallrec", _resumable()).fit(
        small_split.train, options=TrainingOptions(callbacks=[lambda model, entry: entry["step"] >= 2]))
    assert stopped.adapter_dir_.name.endswith("-stopped-2") and stopped.training_costs()["tune_steps"] == 2
    full = make_model("llm-tallrec", _resumable()).fit(small_split.train)  # trains the whole schedule
    assert full.training_costs()["tune_steps"] == 8 and full.adapter_dir_ != stopped.adapter_dir_
