"""Item 6: every network wait has a deadline; Retry-After within the budget; lying servers are errors.

Every server is a real process on 127.0.0.1 (fake_server.py) with a bounded request count.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from support import FakeServer

from llm4rec.lm.errors import LMError, MalformedResponseError, ServerError
from llm4rec.lm.openai_compat import OpenAIEncoder, OpenAIGenerator, _retry_after

MSG = [{"role": "user", "content": "hi"}]


def _gen(server: FakeServer, **kw) -> OpenAIGenerator:
    opts = {"api_key_env": None, "cache_mode": "off", "timeout": 1.0, "max_retries": 0, "backoff": 0.01, **kw}
    return OpenAIGenerator("m", base_url=server.base_url, **opts)


def test_trickling_server_is_bounded_by_the_attempt_deadline(tmp_path):
    with FakeServer(tmp_path, "trickle", max_requests=2, lifetime=15, interval=0.2) as srv:
        t0 = time.monotonic()
        with pytest.raises(ServerError, match="DeadlineExceeded"):
            _gen(srv, timeout=1.0, max_retries=1).chat(MSG)
        elapsed = time.monotonic() - t0
        assert elapsed < 4.0, elapsed  # two attempts of ~1 s, not the ~40 s the body takes
        assert len(srv.requests) == 2


def test_hanging_server_times_out_each_attempt(tmp_path):
    with FakeServer(tmp_path, "hang", max_requests=3, lifetime=15) as srv:
        t0 = time.monotonic()
        with pytest.raises(ServerError, match="after 2 attempts"):
            _gen(srv, timeout=0.7, max_retries=1).generate(["x"])
        assert time.monotonic() - t0 < 3.5
        assert len(srv.requests) == 2


def test_persistent_500_is_retried_then_fails(tmp_path):
    with FakeServer(tmp_path, "status", max_requests=5, status=500) as srv:
        with pytest.raises(ServerError, match="after 3 attempts"):
            _gen(srv, max_retries=2).chat(MSG)
        assert len(srv.requests) == 3


def test_transient_500_recovers(tmp_path):
    with FakeServer(tmp_path, "status", max_requests=5, status=503, fail=2) as srv:
        assert _gen(srv, max_retries=3).chat(MSG) == "[1] > [2]"
        assert len(srv.requests) == 3


def test_retry_after_is_honoured(tmp_path):
    with FakeServer(tmp_path, "status", max_requests=3, status=429, fail=1, retry_after="1") as srv:
        assert _gen(srv, max_retries=2).chat(MSG) == "[1] > [2]"
        t = [r["t"] for r in srv.requests]
        assert len(t) == 2 and t[1] - t[0] >= 0.95


def test_retry_after_beyond_the_budget_fails_at_once(tmp_path):
    with FakeServer(tmp_path, "status", max_requests=3, status=429, retry_after="3600") as srv:
        t0 = time.monotonic()
        with pytest.raises(ServerError, match="retry budget"):
            _gen(srv, max_retries=4, retry_budget=5).chat(MSG)
        assert time.monotonic() - t0 < 2.0
        assert len(srv.requests) == 1


@pytest.mark.parametrize("value,expected", [("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None),
                                            (None, None), ("inf", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_parsing(value, expected):
    assert _retry_after(value) == expected


@pytest.mark.parametrize("lie", ["string-usage", "list-usage", "negative-usage"])
def test_malformed_usage_is_a_malformed_response(tmp_path, lie):
    with FakeServer(tmp_path, "lie", max_requests=3, lie=lie) as srv:
        with pytest.raises(MalformedResponseError, match="usage"):
            _gen(srv).chat(MSG)
        with pytest.raises(MalformedResponseError, match="usage"):
            OpenAIEncoder("m", base_url=srv.base_url, api_key_env=None, cache_mode="off", max_retries=0,
                          timeout=1.0).encode(["a", "b"])
        assert len(srv.requests) == 2  # not retried


@pytest.mark.parametrize("lie", ["nan-logprobs", "positive-logprobs", "string-logprobs", "list-logprobs",
                                 "string-offsets-logprobs"])
def test_lying_echo_logprobs_are_a_malformed_response(tmp_path, lie):
    """Scoring never turns a lying server's log-probs (NaN, +50, strings, wrong shapes) into scores."""
    with FakeServer(tmp_path, "lie", max_requests=3, lie=lie) as srv:
        with pytest.raises(MalformedResponseError, match="logprobs"):
            _gen(srv).score("I watched Heat. Next:", [" Jaws", " Casino"])
        assert len(srv.requests) <= 2  # not retried (one request per continuation at most)


def test_honest_echo_logprobs_still_score(tmp_path):
    with FakeServer(tmp_path, "ok", max_requests=3) as srv:
        res = _gen(srv).score("I watched Heat. Next:", [" Jaws", " Casino"])
    assert np.isfinite(res.logprobs).all() and (res.logprobs < 0).all() and (res.n_tokens > 0).all()


def test_non_json_answer_is_malformed(tmp_path):
    with FakeServer(tmp_path, "garbage", max_requests=2) as srv, \
            pytest.raises(MalformedResponseError, match="non-JSON"):
        _gen(srv).chat(MSG)


def test_401_names_the_key_variable_and_is_not_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVED_API_KEY", "wrong")
    with FakeServer(tmp_path, "status", max_requests=3, status=401) as srv:
        with pytest.raises(LMError, match=r"\$SERVED_API_KEY"):
            _gen(srv, api_key_env="SERVED_API_KEY", max_retries=3).chat(MSG)
        assert len(srv.requests) == 1


def test_refused_connection_fails_fast():
    g = OpenAIGenerator("m", base_url="http://127.0.0.1:9/v1", api_key_env=None, cache_mode="off",
                        timeout=1.0, max_retries=1, backoff=0.01)
    t0 = time.monotonic()
    with pytest.raises(ServerError, match="is the server up"):
        g.chat(MSG)
    assert time.monotonic() - t0 < 3.0
