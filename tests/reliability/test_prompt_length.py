"""Item 10: over-long prompts shrink history first (WARNING with counts), never the instruction.

Runs the real SmolLM2 through llama.cpp with a deliberately small context window.
"""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import pytest

from llm4rec.models import make_model

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python missing")
GEN = {"backend": "llama-cpp", "n_ctx": 256, "n_threads": 1, "cache_mode": "off"}


@pytest.fixture(scope="module")
def likelihood(tiny_split):
    return make_model("llm-likelihood", {"generator": GEN, "max_history": 50, "icl_demos": 2,
                                         "progress": False}).fit(tiny_split.train)


def test_history_shrinks_first_and_the_task_survives(likelihood, caplog):
    gen = likelihood.generator
    task = likelihood.prompts.fill("prompt", noun="movie")
    long_cont = " " + "A Very Long Candidate Title " * 3
    with caplog.at_level(logging.WARNING):
        prefix = likelihood.history_block(0, task + long_cont)
    assert gen.count_tokens(prefix + task + long_cont) <= gen.context_window
    assert prefix.startswith("I've watched the following movies")  # demonstrations went first, header kept
    shown = prefix.count("\n") - 1
    assert 1 <= shown < 50
    assert f"kept 0/2 demonstrations and {shown}/50 history items" in caplog.text
    assert "exceeds the budget of 256" in caplog.text


def test_scoring_needs_no_backend_truncation(likelihood, tiny_users, caplog):
    with caplog.at_level(logging.WARNING):
        scores = likelihood.score(tiny_users[:1], np.arange(4))
    assert np.isfinite(scores).all()
    assert "left-truncating" not in caplog.text  # the ranker fitted the prompt; the backend cut nothing


def test_backend_truncation_is_a_warning_with_counts(likelihood, caplog):
    with caplog.at_level(logging.WARNING):
        likelihood.generator.score("word " * 400, [" end"])
    assert "left-truncating score context from" in caplog.text and "dropped from its start" in caplog.text


def test_listwise_cuts_candidate_texts_not_the_instruction(tiny_split, caplog):
    gen = {**GEN, "n_ctx": 512}
    model = make_model("llm-listwise", {"generator": gen, "max_history": 50, "window": 20, "progress": False,
                                        "max_tokens": 40, "item_fields": ["title", "year", "genres"]}
                       ).fit(tiny_split.train)
    texts = model.texts(np.arange(20))
    with caplog.at_level(logging.WARNING):
        prefix = model._prefix(0, np.arange(20))
        msgs = model._fit_window(prefix, texts)
    body = "\n".join(m["content"] for m in msgs)
    assert msgs[0]["role"] == "system" and "recommender" in msgs[0]["content"]
    assert body.rstrip().endswith("Answer only with the identifiers in order, like [3] > [1] > [2].")
    assert all(f"[{j}]" in body for j in range(1, 21))  # every candidate still shown, with its id
    assert "candidate texts cut to" in caplog.text
    assert "still" not in caplog.text
    assert model.generator.count_tokens(body) + 8 * len(msgs) <= 512 - 40
