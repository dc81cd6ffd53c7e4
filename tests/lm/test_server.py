"""OpenAI-compatible backend: capability errors, retries, a server dying mid-run, malformed replies,
context overflow, and the echo-logprobs scoring path."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest
from lm_support import CANDIDATES, CONTEXT, Server

from llm4rec.lm import (
    CapabilityError,
    ContextLengthError,
    MalformedResponseError,
    ServerError,
    make_encoder,
    make_generator,
)
from llm4rec.lm.llama_cpp import _log_softmax_rows
from llm4rec.lm.openai_compat import OpenAIEncoder, OpenAIGenerator


@pytest.mark.server
def test_embeddings_unsupported_is_a_capability_error(server) -> None:
    enc = OpenAIEncoder("smollm2", base_url=server.base_url, api_key_env=None, max_retries=1, backoff=0.01,
                        cache_mode="off")
    with pytest.raises(CapabilityError, match="embedding"):
        enc.encode(["hello"])


@pytest.mark.server
def test_server_side_context_overflow(openai_gen) -> None:
    with pytest.raises(ContextLengthError):
        openai_gen.generate(["word " * 700], max_tokens=4)


@pytest.mark.server
def test_pre_call_truncation_with_tokenizer(server) -> None:
    g = make_generator({"backend": "openai", "base_url": server.base_url, "model": "smollm2",
                        "api_key_env": None, "context_window": 512, "tokenizer": "smollm2-135m",
                        "truncation": "error", "cache_mode": "off"})
    with pytest.raises(ContextLengthError, match="truncation='error'"):
        g.generate(["word " * 700], max_tokens=4)
    assert g.http.requests == 0  # detected before the call
    g.truncation = "left"
    assert isinstance(g.generate(["word " * 700], max_tokens=4), list)  # keeps the end, fits
    assert g.http.requests == 1


@pytest.mark.server
def test_server_killed_mid_run(smollm2_gguf, tmp_path) -> None:
    srv = Server(smollm2_gguf)
    try:
        g = OpenAIGenerator("smollm2", base_url=srv.base_url, api_key_env=None, timeout=60, max_retries=2,
                            backoff=0.05, cache_path=str(tmp_path / "k.sqlite"))
        first = g.generate(["The capital of France is"], max_tokens=4)
    finally:
        srv.kill()
    sent = g.http.requests
    t0 = time.monotonic()
    with pytest.raises(ServerError, match="failed after 3 attempts"):
        g.generate(["A prompt after the crash"], max_tokens=4)
    assert g.http.requests - sent == 3 and time.monotonic() - t0 < 10  # bounded retries
    g.set_cache("replay", str(tmp_path / "k.sqlite"))
    assert g.generate(["The capital of France is"], max_tokens=4) == first  # recorded calls still replay


def _mock(handler) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def test_retries_on_429_and_5xx_then_succeeds() -> None:
    replies = iter([httpx.Response(429, json={"error": "slow down"}), httpx.Response(503, text="busy"),
                    httpx.Response(200, json={"choices": [{"text": " Paris", "finish_reason": "stop"}],
                                              "usage": {"prompt_tokens": 5, "completion_tokens": 1}})])
    g = OpenAIGenerator("m", base_url="http://fake/v1", api_key_env=None, backoff=0.01, cache_mode="off",
                        transport=_mock(lambda req: next(replies)))
    assert g.generate("The capital of France is", max_tokens=3) == " Paris"
    assert g.http.requests == 3 and g.usage.prompt_tokens >= 5


def test_gives_up_after_max_retries() -> None:
    g = OpenAIGenerator("m", base_url="http://fake/v1", api_key_env=None, max_retries=2, backoff=0.01,
                        cache_mode="off", transport=_mock(lambda req: httpx.Response(500, text="boom")))
    with pytest.raises(ServerError, match="HTTP 500"):
        g.chat([{"role": "user", "content": "hi"}])
    assert g.http.requests == 3


def test_malformed_json_is_a_clear_error() -> None:
    g = OpenAIGenerator("m", base_url="http://fake/v1", api_key_env=None, cache_mode="off",
                        transport=_mock(lambda req: httpx.Response(200, text="<html>not json</html>")))
    with pytest.raises(MalformedResponseError, match="non-JSON"):
        g.generate("x")
    g2 = OpenAIGenerator("m", base_url="http://fake/v1", api_key_env=None, cache_mode="off",
                         transport=_mock(lambda req: httpx.Response(200, json={"choices": []})))
    with pytest.raises(MalformedResponseError, match="choices"):
        g2.generate("x")
    e = make_encoder({"backend": "openai", "model": "m", "base_url": "http://fake/v1", "cache_mode": "off"})
    e.http._client = httpx.Client(transport=_mock(lambda req: httpx.Response(200, json={"data": [{}]})))
    with pytest.raises(MalformedResponseError, match="embedding"):
        e.encode(["a"])


def test_embeddings_endpoint(wl_enc) -> None:
    """A spec-conformant /embeddings (answered by a real WordLlama model) round-trips in order."""

    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        vecs = wl_enc.encode(body["input"], normalize=False)
        data = [{"index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)][::-1]  # any order
        return httpx.Response(200, json={"data": data, "usage": {"prompt_tokens": 7}})

    enc = OpenAIEncoder("wl", base_url="http://fake/v1", api_key_env=None, batch_size=2, cache_mode="off",
                        transport=_mock(handler))
    texts = ["Heat (1995)", "Casino (1995)", "Babe (1995)"]
    assert np.allclose(enc.encode(texts), wl_enc.encode(texts), atol=1e-6)


def test_echo_logprob_scoring_matches_local(llama_gen) -> None:
    """/completions with echo+logprobs as the OpenAI spec defines it (answered by the real SmolLM2
    through llama.cpp): the HTTP score path agrees with the local one."""
    llama_gen.set_cache("off")

    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        assert body["echo"] and body["logprobs"] >= 1
        prompt = body["prompt"]
        toks = llama_gen.tokenize(prompt, bos=True)
        with llama_gen.lock:
            llama_gen._set_prefix([])
            lp = _log_softmax_rows(llama_gen._decode(toks, 0, 0))
        strs = [llama_gen.llm.detokenize([t]).decode() for t in toks]
        offsets = np.cumsum([0] + [len(s) for s in strs])[:-1].tolist()
        token_lp = [None] + [float(lp[i - 1, toks[i]]) for i in range(1, len(toks))]
        nxt = int(lp[-1].argmax())
        strs.append(llama_gen.llm.detokenize([nxt]).decode())
        offsets.append(len(prompt))
        token_lp.append(float(lp[-1, nxt]))
        return httpx.Response(200, json={"choices": [{"text": prompt + strs[-1], "logprobs": {
            "tokens": strs, "token_logprobs": token_lp, "text_offset": offsets}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": len(toks), "completion_tokens": 1}})

    g = OpenAIGenerator("smollm2", base_url="http://fake/v1", api_key_env=None, cache_mode="off",
                        concurrency=1, transport=_mock(handler))
    remote = g.score(CONTEXT, CANDIDATES)
    local = llama_gen.score(CONTEXT, CANDIDATES)
    assert np.array_equal(remote.n_tokens, local.n_tokens)
    assert np.max(np.abs(remote.logprobs - local.logprobs)) < 1e-3
