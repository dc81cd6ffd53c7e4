"""One behavioural suite that every generator backend passes (llama.cpp, transformers, HTTP)."""

from __future__ import annotations

import numpy as np
import pytest
from lm_support import CANDIDATES, CONTEXT

from llm4rec.lm import CacheMissError, CapabilityError, Generator, ScoreResult

PROMPTS = ["The capital of France is", "Once upon a time"]
CHAT = [{"role": "user", "content": "Recommend one movie. Answer with its title only."}]


def _can_score(g: Generator) -> bool:
    return g.backend != "openai"  # llama_cpp.server's echo log-probs are off by one (see test_server.py)


def test_generate_is_deterministic_text(generator: Generator) -> None:
    out = generator.generate(PROMPTS, max_tokens=8)
    assert isinstance(out, list) and len(out) == 2 and all(isinstance(t, str) and t for t in out)
    generator.set_cache("off")
    again = generator.generate(PROMPTS, max_tokens=8)
    assert again == out  # greedy decoding is deterministic
    single = generator.generate(PROMPTS[0], max_tokens=8)
    assert single == out[0]


def test_generate_respects_max_tokens_and_stop(generator: Generator) -> None:
    before = generator.usage.completion_tokens
    text = generator.generate("1, 2, 3, 4, 5,", max_tokens=12, stop=[","])
    assert "," not in text
    assert generator.usage.completion_tokens - before <= 12


def test_chat(generator: Generator) -> None:
    answer = generator.chat(CHAT, max_tokens=10)
    assert isinstance(answer, str) and answer.strip()
    assert generator.chat_many([CHAT, CHAT], max_tokens=10) == [answer, answer]


def test_score_shape_and_sign(generator: Generator) -> None:
    if not _can_score(generator):
        with pytest.raises(CapabilityError, match="shifted by one"):
            generator.score(CONTEXT, CANDIDATES)
        return
    r = generator.score(CONTEXT, CANDIDATES)
    assert isinstance(r, ScoreResult) and len(r) == len(CANDIDATES)
    assert r.logprobs.dtype == np.float64 and np.all(r.logprobs < 0)
    assert np.all(r.n_tokens >= 2)
    assert np.allclose(r.mean_logprobs, r.logprobs / r.n_tokens)
    assert len(generator.score(CONTEXT, [])) == 0
    # one call with all candidates equals one call per candidate
    solo = [generator.score(CONTEXT, [c]).logprobs[0] for c in CANDIDATES[:2]]
    assert np.allclose(solo, r.logprobs[:2], atol=1e-3)


def test_score_matches_naive_evaluation(generator: Generator) -> None:
    if not _can_score(generator):
        pytest.skip("this server cannot score (tested in test_score_shape_and_sign)")
    generator.set_cache("off")
    r = generator.score(CONTEXT, CANDIDATES)
    naive = np.array([generator.naive_score(CONTEXT, c) for c in CANDIDATES])  # type: ignore[attr-defined]
    assert np.max(np.abs(r.logprobs - naive)) < 1e-3


def test_second_run_replays_without_backend_calls(generator: Generator, tmp_path) -> None:
    path = str(tmp_path / "replay.sqlite")
    generator.set_cache("use", path)
    gen1 = generator.generate(PROMPTS, max_tokens=6)
    chat1 = generator.chat(CHAT, max_tokens=6)
    score1 = generator.score(CONTEXT, CANDIDATES) if _can_score(generator) else None
    calls = generator.backend_calls
    hits = generator.usage.cache_hits

    generator.set_cache("replay", path)  # strict: any miss would raise
    assert generator.generate(PROMPTS, max_tokens=6) == gen1
    assert generator.chat(CHAT, max_tokens=6) == chat1
    if score1 is not None:
        score2 = generator.score(CONTEXT, CANDIDATES)
        assert score2.logprobs.tobytes() == score1.logprobs.tobytes()  # bit-identical
        assert np.array_equal(score2.n_tokens, score1.n_tokens)
    assert generator.backend_calls == calls  # zero model calls
    assert generator.usage.cache_hits > hits

    with pytest.raises(CacheMissError, match="replay mode"):
        generator.generate(["a prompt never seen"], max_tokens=6)
    with pytest.raises(CacheMissError):
        generator.generate(PROMPTS, max_tokens=7)  # parameters are part of the key


def test_accounting_counts_tokens_and_time(generator: Generator) -> None:
    u = generator.usage
    p0, c0, w0, calls0 = u.prompt_tokens, u.completion_tokens, u.wall_s, u.calls
    generator.generate(["Tell me about movies:"], max_tokens=5)
    assert u.prompt_tokens > p0 and 0 < u.completion_tokens - c0 <= 5
    assert u.wall_s > w0 and u.calls == calls0 + 1
    d = u.as_dict()
    assert {"backend", "model", "prompt_tokens", "completion_tokens", "wall_s", "cache_hits", "cost_usd"} <= set(d)
