"""LLM rankers with the real SmolLM2-135M (few users, few candidates, short prompts) and the toy
backend for the logic that does not need a real model. LLM calls go through the record/replay
cache, so a second run of this file does not touch the model."""

from __future__ import annotations

import numpy as np
import pytest
from llm_backends import SMOL, TOY

from llm4rec.models import make_model
from llm4rec.models.llm.listwise import parse_ranking
from llm4rec.prompts import format_history

SHORT = {"max_history": 3, "progress": False}


@pytest.fixture(scope="module")
def cands(small_split) -> np.ndarray:
    return np.array([[50, 100, 172, 7], [1, 2, 3, 4]])


def test_likelihood_real_model_candidates_are_independent(small_split, eval_users, cands, smol_available):
    model = make_model("llm-likelihood", {"generator": SMOL, **SHORT}).fit(small_split.train)
    users = eval_users[:2]
    s = model.score(users, cands)
    assert s.shape == (2, 4) and np.isfinite(s).all() and (s < 0).all()
    # a candidate's score does not depend on the other candidates or their order
    again = model.score(users[:1], cands[0, ::-1][None])
    np.testing.assert_allclose(again[0], s[0, ::-1], rtol=1e-5)
    # the second request is answered by the record/replay cache
    calls = model.generator.backend_calls
    model.score(users, cands)
    assert model.generator.backend_calls == calls
    usage = model.costs()
    assert usage["lm_users"] == 5 and usage["lm_cache_hits"] >= 8


def test_likelihood_mean_normalisation(small_split, eval_users, cands, smol_available):
    sums = make_model("llm-likelihood", {"generator": SMOL, **SHORT}).fit(small_split.train)
    means = make_model("llm-likelihood", {"generator": SMOL, "normalize": "mean", **SHORT}).fit(small_split.train)
    u = eval_users[:1]
    ratio = sums.score(u, cands[:1]) / means.score(u, cands[:1])  # = the number of tokens of each title
    assert np.allclose(ratio, np.round(ratio), atol=1e-3) and (ratio >= 1).all()


def test_pointwise_real_model_gives_probabilities(small_split, eval_users, cands, smol_available):
    model = make_model("llm-pointwise", {"generator": SMOL, **SHORT}).fit(small_split.train)
    p = model.score(eval_users[:1], cands[:1, :3])
    assert ((p > 0) & (p < 1)).all()
    rating = make_model("llm-pointwise", {"generator": SMOL, "template": "rating", **SHORT}).fit(small_split.train)
    r = rating.score(eval_users[:1], cands[:1, :2])
    assert ((r >= 1) & (r <= 5)).all()


def test_listwise_real_model_reports_validity(small_split, eval_users, cands, smol_available):
    model = make_model("llm-listwise", {"generator": SMOL, "max_tokens": 40, **SHORT}).fit(small_split.train)
    s = model.score(eval_users[:1], cands[:1])
    assert s.shape == (1, 4) and np.isfinite(s).all()
    m = model.costs()
    for key in ("validity", "hallucination_rate", "duplicate_rate", "first_position_rate"):
        assert 0.0 <= m[key] <= 1.0


def test_listwise_sliding_windows_and_permutations(small_split, eval_users):
    model = make_model("llm-listwise", {"generator": TOY, "window": 4, "step": 2, "permutations": 3,
                                        **SHORT}).fit(small_split.train)
    items = np.arange(30, 40)
    s = model.score(eval_users[:2], items)
    assert s.shape == (2, 10) and np.isfinite(s).all()
    stats = model.stats_
    assert stats["outputs"] == 2 * 3 * 4  # 4 windows (10 items, window 4, step 2) x 3 orders x 2 users
    assert model.costs()["validity"] == 1.0
    np.testing.assert_array_equal(model.score(eval_users[:2], items), s)  # seeded orders: deterministic


def test_parse_ranking_ids_titles_and_hallucinations():
    from llm4rec.models.llm.grounding import Grounder

    texts = ["Godfather, The (1972)", "Toy Story (1995)", "Heat (1995)"]
    g = Grounder(texts)
    assert parse_ranking("[2] > [1] > [9] > [2]", 3, g) == [1, 0, None, 1]
    assert parse_ranking("1. The Godfather\n2. toy story (1995)\n3. Jaws", 3, g) == [0, 1, None]
    assert parse_ranking("2\n3", 3, g) == [1, 2]


def test_grounding_methods():
    from llm4rec.models.llm.grounding import Grounder, normalize_title

    texts = ["Godfather, The (1972)", "Star Wars (1977)", "Twelve Monkeys (1995)"]
    assert normalize_title("The Godfather (1972)") == normalize_title(texts[0]) == "godfather"
    g = Grounder(texts)
    assert g.ground("Star Wars (1977)") == (1, "exact")
    assert g.ground("the godfather") == (0, "normalized")
    pytest.importorskip("rapidfuzz")
    assert g.ground("Twelve Monkies") == (2, "fuzzy")
    assert g.ground("Casablanca") == (None, None)
    assert Grounder(texts, methods=["exact"]).ground("Twelve Monkies") == (None, None)


def test_history_representations_and_recency():
    texts = ["A (1990)", "B (1991)"]
    plain = format_history(texts, noun="movie")
    assert "1. A (1990)\n2. B (1991)" in plain and "most recently" not in plain
    assert "most recently watched movie is B (1991)" in format_history(texts, recency=True, noun="movie")
    summary = format_history(texts, "summary", summary="likes old films", noun="movie")
    assert "likes old films" in summary and "A (1990)" not in summary
    both = format_history(texts, "combined", summary="likes old films", noun="movie")
    assert "likes old films" in both and "B (1991)" in both


def test_icl_demonstrations_from_own_history_and_similar_users(small_split, eval_users):
    base = {"generator": TOY, **SHORT}
    own = make_model("llm-likelihood", {**base, "icl_demos": 2, "icl_history": 2}).fit(small_split.train)
    u = int(eval_users[0])
    seq = small_split.train.sequences()[u]
    demos = own.demos(u)
    assert len(demos) == 2 and demos[-1][1] == own.texts([seq[-1]])[0]  # last transition last
    assert demos[-1][0] == own.texts(seq[-3:-1])
    sim = make_model("llm-likelihood", {**base, "icl_demos": 2, "icl_source": "similar"}).fit(small_split.train)
    assert len(sim.demos(u)) == 2 and u not in sim.similar_users(u, 2)
    assert "examples of what people watch next" in sim.history_block(u)


def test_explain_cites_only_the_users_history(small_split, eval_users, smol_available):
    model = make_model("llm-likelihood", {"generator": SMOL, **SHORT}).fit(small_split.train)
    u = int(eval_users[0])
    text = model.explain(u, 50, max_tokens=32)
    seen = set(small_split.train.sequences()[u].tolist())
    ev = model.evidence(u, 50)
    assert ev and set(ev) <= seen
    assert text.startswith("Because you watched " + "; ".join(model.texts(ev)))


def test_summary_history_uses_the_generator(small_split, eval_users):
    model = make_model("llm-likelihood", {"generator": TOY, "history": "combined", **SHORT}).fit(small_split.train)
    u = int(eval_users[0])
    block = model.history_block(u)
    assert "summary of my taste" in block and model.summary(u) in block
    assert model.texts(model.history_items(u))[-1] in block


def test_pairwise_real_model_reports_order_consistency(small_split, eval_users, cands, smol_available):
    model = make_model("llm-pairwise", {"generator": SMOL, "max_comparisons": 2, **SHORT}).fit(small_split.train)
    s = model.score(eval_users[:1], cands[:1, :3])
    assert sorted(s[0].tolist()) == [1.0, 2.0, 3.0]
    m = model.costs()
    assert m["comparisons_per_user"] == 2 and 0 <= m["order_consistency"] <= 1
