"""OpenAI-compatible HTTP backends (OpenAI, vLLM, Ollama, llama.cpp server, ...).

Endpoints: ``/chat/completions`` (chat), ``/completions`` (generate; ``score`` with
``echo=true`` + ``logprobs``), ``/embeddings`` (encode). Requests run on a bounded thread pool,
with a timeout each, and are retried with exponential backoff on HTTP 429, 5xx and
connection errors. The API key is read from the environment variable named in the config
(default ``OPENAI_API_KEY``); it is sent as a bearer token and never logged or cached.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from llm4rec.lm.base import Batch, Completion, Encoder, Generator, Message, Truncation
from llm4rec.lm.errors import (
    CapabilityError,
    ContextLengthError,
    LMError,
    MalformedResponseError,
    ServerError,
)
from llm4rec.lm.policy import check_api_key_env, check_base_url

log = logging.getLogger(__name__)
T = TypeVar("T")

_UNSUPPORTED = ("not support", "unsupported", "not implemented", "not available", "must be created with",
                "does not support", "not enabled", "logits_all", "embedding")
_OVERFLOW = ("context length", "context_length", "maximum context", "too long", "exceeds", "context window",
             "n_ctx")


class DeadlineExceeded(Exception):
    """One attempt ran past its deadline (e.g. a server trickling its answer); retried like a timeout."""


class HTTPClient:
    """JSON POSTs with a per-attempt deadline, bounded retries and error mapping.

    ``timeout`` bounds a whole attempt (connect, wait and the full body), not each socket read,
    so a server that trickles bytes cannot hold a request longer. Failed attempts (HTTP 429,
    5xx, connection errors, deadlines) are retried up to ``max_retries`` times with exponential
    backoff + jitter; a ``Retry-After`` header (seconds or an HTTP date) is honoured when the
    total wait stays within ``retry_budget`` seconds, otherwise the call fails at once.
    """

    MAX_BODY = 64 << 20  # bytes; a longer answer is malformed

    def __init__(self, base_url: str, api_key_env: str | None = "OPENAI_API_KEY", timeout: float = 60.0,
                 max_retries: int = 4, backoff: float = 0.5, max_backoff: float = 20.0, concurrency: int = 4,
                 transport: Any = None, retry_budget: float = 120.0) -> None:
        import httpx

        self.base_url = check_base_url(base_url).rstrip("/")
        self.timeout, self.retry_budget = float(timeout), float(retry_budget)
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.concurrency = max(1, concurrency)
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(check_api_key_env(api_key_env) or "") if api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._api_key_env = api_key_env
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers,
                                    limits=httpx.Limits(max_connections=self.concurrency), transport=transport,
                                    follow_redirects=False)  # the key goes to base_url's host only
        self.requests = 0  # HTTP requests sent, retries included

    def _attempt(self, url: str, payload: dict[str, Any]) -> tuple[int, Any, str]:
        """One POST within the deadline: status, headers and the body text."""
        deadline = time.monotonic() + self.timeout
        body = bytearray()
        with self._client.stream("POST", url, json=payload) as resp:
            for chunk in resp.iter_bytes():
                body += chunk
                if time.monotonic() > deadline:
                    raise DeadlineExceeded(f"no complete answer within {self.timeout:g} s "
                                           f"({len(body)} bytes received)")
                if len(body) > self.MAX_BODY:
                    raise MalformedResponseError(f"{url} answered with more than {self.MAX_BODY} bytes")
            return resp.status_code, resp.headers, body.decode("utf-8", errors="replace")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        return max(delay, retry_after or 0.0)

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = f"{self.base_url}/{path.lstrip('/')}"
        last, waited, retry_after = "", 0.0, None
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = self._delay(attempt, retry_after)
                if waited + delay > self.retry_budget:
                    raise ServerError(f"{url}: {last}; waiting {delay:.1f} s more would exceed the retry budget "
                                      f"({self.retry_budget:g} s, {attempt} attempts made)")
                time.sleep(delay)
                waited += delay
            self.requests += 1
            retry_after = None
            try:
                status, headers, text = self._attempt(url, payload)
            except (httpx.TransportError, DeadlineExceeded) as exc:  # refused/reset, timeouts, trickling
                last = f"{type(exc).__name__}: {exc}"
                log.warning("POST %s failed (%s); attempt %d/%d", url, last, attempt + 1, self.max_retries + 1)
                continue
            if status == 429 or status >= 500:
                last = f"HTTP {status}: {text[:300]}"
                if status >= 500 and _matches(text, _UNSUPPORTED):
                    raise CapabilityError(f"{url}: the server cannot do this ({last})")
                retry_after = _retry_after(headers.get("retry-after"))
                log.warning("POST %s -> %s; attempt %d/%d", url, last, attempt + 1, self.max_retries + 1)
                continue
            if 300 <= status < 400:
                raise LMError(f"{url}: HTTP {status} redirect to {headers.get('location')!r}; "
                              "redirects are not followed (the key goes to base_url's host only): set "
                              "base_url to the final address")
            if status >= 400:
                body = text[:500]
                if status in (401, 403):
                    raise LMError(f"{url}: HTTP {status} (check the API key in ${self._api_key_env})")
                if _matches(body, _OVERFLOW):
                    raise ContextLengthError(f"{url}: the server says the input is too long: {body}")
                if status in (404, 405, 501) or _matches(body, _UNSUPPORTED):
                    raise CapabilityError(f"{url}: HTTP {status}, the server does not support this "
                                          f"request: {body}")
                raise LMError(f"{url}: HTTP {status}: {body}")
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise MalformedResponseError(f"{url} answered with non-JSON: {text[:200]!r}") from exc
            if not isinstance(data, dict):
                raise MalformedResponseError(f"{url} answered with JSON that is not an object: {str(data)[:200]}")
            return data
        raise ServerError(f"{url} failed after {self.max_retries + 1} attempts (is the server up?); last: {last}")

    def map(self, fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        """``fn`` over ``items`` with at most ``concurrency`` requests in flight; order kept."""
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(min(self.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    def close(self) -> None:
        self._client.close()


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent or invalid."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _echo_logprobs(lp: dict[str, Any], where: str) -> tuple[list[int], list[float | None], list[str]]:
    """``text_offset``, ``token_logprobs`` and ``tokens`` of an echo answer, checked: offsets are
    integers, log-probs ``null`` or finite numbers <= 0, tokens strings; anything else (NaN,
    ``+50``, strings) is a :class:`MalformedResponseError` rather than a silent wrong score."""
    offsets, tlp, toks = lp.get("text_offset"), lp.get("token_logprobs"), lp.get("tokens") or []
    if not (isinstance(offsets, list) and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
        raise MalformedResponseError(f"{where}: logprobs.text_offset is not a list of integers: {str(offsets)[:200]}")
    if not (isinstance(toks, list) and all(isinstance(t, str) for t in toks)):
        raise MalformedResponseError(f"{where}: logprobs.tokens is not a list of strings: {str(toks)[:200]}")
    if not isinstance(tlp, list):
        raise MalformedResponseError(f"{where}: logprobs.token_logprobs is not a list: {str(tlp)[:200]}")
    for v in tlp:
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v > 1e-3:
            raise MalformedResponseError(f"{where}: logprobs.token_logprobs holds {v!r}; log-probabilities are "
                                         "finite numbers <= 0")
    return offsets, tlp, toks


def usage_tokens(data: dict[str, Any], *fields: str) -> list[int]:
    """Token counts from a response's ``usage`` (absent fields: 0); malformed values raise
    :class:`MalformedResponseError` instead of corrupting the accounting."""
    usage = data.get("usage")
    if usage is None:
        return [0] * len(fields)
    if not isinstance(usage, dict):
        raise MalformedResponseError(f"usage is not an object: {str(usage)[:200]}")
    out = []
    for f in fields:
        v = usage.get(f, 0)
        if v is None:
            v = 0
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v != int(v):
            raise MalformedResponseError(f"usage.{f} is not a non-negative integer: {v!r}")
        out.append(int(v))
    return out


def _matches(text: str, needles: Sequence[str]) -> bool:
    low = text.lower()
    return any(n in low for n in needles)


def _get(data: Any, *path: Any) -> Any:
    """``data[p0][p1]...`` or :class:`MalformedResponseError` naming the missing field."""
    cur = data
    for p in path:
        try:
            cur = cur[p]
        except (KeyError, IndexError, TypeError) as exc:
            raise MalformedResponseError(f"response lacks field {'.'.join(map(str, path))}: "
                                         f"{str(data)[:300]}") from exc
    return cur


class _Served:
    """Settings shared by the HTTP encoder and generator."""

    backend = "openai"

    def _init_http(self, base_url: str, api_key_env: str | None, timeout: float, max_retries: int,
                   backoff: float, concurrency: int, transport: Any = None, retry_budget: float = 120.0) -> None:
        self.base_url = base_url
        self.http = HTTPClient(base_url, api_key_env, timeout, max_retries, backoff, concurrency=concurrency,
                               transport=transport, retry_budget=retry_budget)

    def _identity(self) -> str:
        return "served:" + self.model_name  # type: ignore[attr-defined]


class OpenAIEncoder(_Served, Encoder):
    """Embeddings from ``POST {base_url}/embeddings``."""

    def __init__(self, model: str, base_url: str = "https://api.openai.com/v1",
                 api_key_env: str | None = "OPENAI_API_KEY", timeout: float = 60.0, max_retries: int = 4,
                 backoff: float = 0.5, concurrency: int = 4, batch_size: int = 64,
                 dimensions: int | None = None, transport: Any = None, retry_budget: float = 120.0,
                 **lm: Any) -> None:
        Encoder.__init__(self, model_name=model, **lm)
        self._init_http(base_url, api_key_env, timeout, max_retries, backoff, concurrency, transport, retry_budget)
        self.default_batch_size = batch_size
        self.dimensions = dimensions

    def _key_params(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions} if self.dimensions else {}

    def _encode(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, int]:
        chunks = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]

        def one(chunk: list[str]) -> tuple[np.ndarray, int]:
            payload: dict[str, Any] = {"model": self.model_name, "input": chunk, "encoding_format": "float"}
            if self.dimensions:
                payload["dimensions"] = self.dimensions
            data = self.http.post("embeddings", payload)
            items = sorted(_get(data, "data"), key=lambda d: d.get("index", 0))
            if len(items) != len(chunk):
                raise MalformedResponseError(f"asked for {len(chunk)} embeddings, got {len(items)}")
            vecs = [_get(d, "embedding") for d in items]
            if vecs and isinstance(vecs[0], list) and vecs[0] and isinstance(vecs[0][0], list):
                raise MalformedResponseError("server returned per-token embeddings, not one vector per input "
                                             "(start it with a pooling type, e.g. --pooling_type 1)")
            return np.asarray(vecs, dtype=np.float32), usage_tokens(data, "prompt_tokens")[0]

        parts = self.http.map(one, chunks)
        return np.concatenate([p[0] for p in parts]), sum(p[1] for p in parts)

    def close(self) -> None:
        self.http.close()


class OpenAIGenerator(_Served, Generator):
    """Text generation, chat and scoring against an OpenAI-compatible server.

    ``score`` needs ``/completions`` with ``echo=true`` and ``logprobs`` (vLLM; llama.cpp's
    Python server started with ``--logits_all true``); servers without it (the OpenAI API,
    Ollama) raise :class:`CapabilityError`. The prompt is sent as text; continuation tokens are
    those whose ``text_offset`` falls at or after the end of the context (a token straddling the
    boundary is counted with the continuation).

    ``tokenizer`` (a Hugging Face folder or short name) enables the context-length check before
    each call (``context_window`` tokens, ``truncation`` policy); without it, a server-side
    overflow raises :class:`ContextLengthError`.
    """

    def __init__(self, model: str, base_url: str = "https://api.openai.com/v1",
                 api_key_env: str | None = "OPENAI_API_KEY", timeout: float = 60.0, max_retries: int = 4,
                 backoff: float = 0.5, concurrency: int = 4, context_window: int | None = None,
                 tokenizer: str | Path | None = None, truncation: Truncation = "left", transport: Any = None,
                 retry_budget: float = 120.0, **lm: Any) -> None:
        Generator.__init__(self, model_name=model, **lm)
        self._init_http(base_url, api_key_env, timeout, max_retries, backoff, concurrency, transport, retry_budget)
        self.generate_chunk = self.score_chunk = 4 * self.http.concurrency
        self.context_window, self.truncation = context_window, truncation
        self.tokenizer: Any = None
        if tokenizer is not None:
            from transformers import AutoTokenizer

            from llm4rec.lm.registry import resolve_hf_dir

            self.tokenizer = AutoTokenizer.from_pretrained(resolve_hf_dir(tokenizer))

    @property
    def context_window(self) -> int | None:  # measured only with a tokenizer
        return self._window if self.tokenizer is not None else None

    @context_window.setter
    def context_window(self, value: int | None) -> None:
        self._window = value

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is None:
            raise NotImplementedError("set `tokenizer` to count tokens of a served model")
        return len(self.tokenizer(text).input_ids)

    def _key_params(self) -> dict[str, Any]:
        return {"context_window": self._window, "truncation": self.truncation} if self.tokenizer else {}

    def _fit(self, text: str, reserve: int, what: str) -> str:
        """Left-truncate ``text`` to ``context_window - reserve`` tokens (or fail), when a tokenizer is set."""
        if self.tokenizer is None or self._window is None:
            return text
        from llm4rec.lm.base import fit_tokens

        ids = self.tokenizer(text, add_special_tokens=False).input_ids
        budget = self._window - reserve
        if len(ids) <= budget:
            return text
        return str(self.tokenizer.decode(fit_tokens(ids, budget, self.truncation, what)))

    def _sampling(self, max_tokens: int, temperature: float, stop: list[str], seed: int) -> dict[str, Any]:
        p: dict[str, Any] = {"model": self.model_name, "max_tokens": max_tokens, "temperature": temperature,
                             "seed": seed}
        if stop:
            p["stop"] = stop
        return p

    @staticmethod
    def _completion(data: dict[str, Any], text: str) -> Completion:
        prompt_tokens, completion_tokens = usage_tokens(data, "prompt_tokens", "completion_tokens")
        choice = _get(data, "choices", 0)
        if not isinstance(text, str):
            raise MalformedResponseError(f"completion text is not a string: {str(data)[:200]}")
        return Completion(text, prompt_tokens, completion_tokens, choice.get("finish_reason"))

    def _generate(self, prompts: list[str], max_tokens: int, temperature: float, stop: list[str],
                  seed: int) -> Batch:
        base = self._sampling(max_tokens, temperature, stop, seed)

        def one(prompt: str) -> Completion:
            data = self.http.post("completions", {**base, "prompt": self._fit(prompt, max_tokens, "prompt")})
            return self._completion(data, _get(data, "choices", 0, "text"))

        res = self.http.map(one, prompts)
        return Batch(res, sum(c.prompt_tokens for c in res), sum(c.completion_tokens for c in res))

    def _chat(self, conversations: list[list[Message]], max_tokens: int, temperature: float,
              stop: list[str], seed: int) -> Batch:
        base = self._sampling(max_tokens, temperature, stop, seed)

        def one(conv: list[Message]) -> Completion:
            if self.tokenizer is not None and conv:
                conv = [*conv[:-1], {**conv[-1], "content": self._fit(conv[-1]["content"], max_tokens, "message")}]
            data = self.http.post("chat/completions", {**base, "messages": conv})
            return self._completion(data, _get(data, "choices", 0, "message", "content") or "")

        res = self.http.map(one, conversations)
        return Batch(res, sum(c.prompt_tokens for c in res), sum(c.completion_tokens for c in res))

    def _score(self, context: str, continuations: list[str]) -> Batch:
        ctx_text = context.rstrip(" \t")
        trail = context[len(ctx_text):]
        longest = max((len(self.tokenizer(trail + c).input_ids) for c in continuations), default=0) \
            if self.tokenizer is not None else 0
        ctx_text = self._fit(ctx_text, longest + 1, "score context")

        def one(cont: str) -> tuple[tuple[float, int], int]:
            prompt = ctx_text + trail + cont
            data = self.http.post("completions", {"model": self.model_name, "prompt": prompt, "max_tokens": 1,
                                                  "temperature": 0.0, "echo": True, "logprobs": 1})
            choice = _get(data, "choices", 0)
            if not isinstance(choice, dict):
                raise MalformedResponseError(f"{self.base_url}/completions: choices[0] is not an object: "
                                             f"{str(choice)[:200]}")
            lp = choice.get("logprobs")
            if lp is not None and not isinstance(lp, dict):
                raise MalformedResponseError(f"{self.base_url}/completions: logprobs is not an object: {str(lp)[:200]}")
            if not lp or not lp.get("token_logprobs") or lp.get("text_offset") is None:
                raise CapabilityError(f"{self.base_url}/completions returned no prompt log-probs with echo=true; "
                                      "this server cannot score (llama_cpp.server needs --logits_all true; "
                                      "vLLM supports it; the OpenAI API and Ollama do not)")
            total, n = 0.0, 0
            offsets, tlp, toks = _echo_logprobs(lp, f"{self.base_url}/completions")
            text = choice.get("text") or ""
            if not isinstance(text, str):
                raise MalformedResponseError(f"{self.base_url}/completions: text is not a string: {str(text)[:200]}")
            if len(text) > len(prompt) and not any(o >= len(prompt) for o in offsets):
                # the generated token has no log-prob entry: the echoed values are shifted by one
                # position (llama-cpp-python <= 0.3.x pairs token i with the distribution after it)
                raise CapabilityError(f"{self.base_url}/completions returns echo log-probs shifted by one "
                                      "token (a known llama-cpp-python server bug), so they cannot score "
                                      "continuations; use backend 'llama-cpp' locally or a vLLM server")
            for i, (off, val) in enumerate(zip(offsets, tlp, strict=False)):
                end = off + (len(toks[i]) if i < len(toks) else 1)
                if off >= len(prompt):
                    break  # generated token(s) after the echoed prompt
                if end > len(ctx_text) and val is not None:
                    total += float(val)
                    n += 1
            return (total, n), usage_tokens(data, "prompt_tokens")[0]

        res = self.http.map(one, continuations)
        return Batch([r for r, _ in res], sum(p for _, p in res), len(res))

    def close(self) -> None:
        self.http.close()
