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
from llm4rec.lm.policy import check_api_key_env

log = logging.getLogger(__name__)
T = TypeVar("T")

_UNSUPPORTED = ("not support", "unsupported", "not implemented", "not available", "must be created with",
                "does not support", "not enabled", "logits_all", "embedding")
_OVERFLOW = ("context length", "context_length", "maximum context", "too long", "exceeds", "context window",
             "n_ctx")


class HTTPClient:
    """JSON POSTs with timeout, bounded retries (exponential backoff + jitter) and error mapping."""

    def __init__(self, base_url: str, api_key_env: str | None = "OPENAI_API_KEY", timeout: float = 60.0,
                 max_retries: int = 4, backoff: float = 0.5, max_backoff: float = 20.0, concurrency: int = 4,
                 transport: Any = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
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

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = f"{self.base_url}/{path.lstrip('/')}"
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
                time.sleep(delay)
            self.requests += 1
            try:
                resp = self._client.post(url, json=payload)
            except httpx.TransportError as exc:  # connection refused/reset, timeouts
                last = f"{type(exc).__name__}: {exc}"
                log.warning("POST %s failed (%s); attempt %d/%d", url, last, attempt + 1, self.max_retries + 1)
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                last = f"HTTP {resp.status_code}: {resp.text[:300]}"
                if resp.status_code >= 500 and _matches(resp.text, _UNSUPPORTED):
                    raise CapabilityError(f"{url}: the server cannot do this ({last})")
                log.warning("POST %s -> %s; attempt %d/%d", url, last, attempt + 1, self.max_retries + 1)
                continue
            if 300 <= resp.status_code < 400:
                raise LMError(f"{url}: HTTP {resp.status_code} redirect to {resp.headers.get('location')!r}; "
                              "redirects are not followed (the key goes to base_url's host only): set "
                              "base_url to the final address")
            if resp.status_code >= 400:
                body = resp.text[:500]
                if resp.status_code in (401, 403):
                    raise LMError(f"{url}: HTTP {resp.status_code} (check the API key in ${self._api_key_env})")
                if _matches(body, _OVERFLOW):
                    raise ContextLengthError(f"{url}: the server says the input is too long: {body}")
                if resp.status_code in (404, 405, 501) or _matches(body, _UNSUPPORTED):
                    raise CapabilityError(f"{url}: HTTP {resp.status_code}, the server does not support this "
                                          f"request: {body}")
                raise LMError(f"{url}: HTTP {resp.status_code}: {body}")
            try:
                data = resp.json()
            except (json.JSONDecodeError, ValueError) as exc:
                raise MalformedResponseError(f"{url} answered with non-JSON: {resp.text[:200]!r}") from exc
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
                   backoff: float, concurrency: int, transport: Any = None) -> None:
        self.base_url = base_url
        self.http = HTTPClient(base_url, api_key_env, timeout, max_retries, backoff, concurrency=concurrency,
                               transport=transport)

    def _identity(self) -> str:
        return "served:" + self.model_name  # type: ignore[attr-defined]


class OpenAIEncoder(_Served, Encoder):
    """Embeddings from ``POST {base_url}/embeddings``."""

    def __init__(self, model: str, base_url: str = "https://api.openai.com/v1",
                 api_key_env: str | None = "OPENAI_API_KEY", timeout: float = 60.0, max_retries: int = 4,
                 backoff: float = 0.5, concurrency: int = 4, batch_size: int = 64,
                 dimensions: int | None = None, transport: Any = None, **lm: Any) -> None:
        Encoder.__init__(self, model_name=model, **lm)
        self._init_http(base_url, api_key_env, timeout, max_retries, backoff, concurrency, transport)
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
            return np.asarray(vecs, dtype=np.float32), int((data.get("usage") or {}).get("prompt_tokens", 0))

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
                 **lm: Any) -> None:
        Generator.__init__(self, model_name=model, **lm)
        self._init_http(base_url, api_key_env, timeout, max_retries, backoff, concurrency, transport)
        self.generate_chunk = self.score_chunk = 4 * self.http.concurrency
        self.context_window, self.truncation = context_window, truncation
        self.tokenizer: Any = None
        if tokenizer is not None:
            from transformers import AutoTokenizer

            from llm4rec.lm.registry import resolve_hf_dir

            self.tokenizer = AutoTokenizer.from_pretrained(resolve_hf_dir(tokenizer))

    def _key_params(self) -> dict[str, Any]:
        return {"context_window": self.context_window, "truncation": self.truncation} if self.tokenizer else {}

    def _fit(self, text: str, reserve: int, what: str) -> str:
        """Left-truncate ``text`` to ``context_window - reserve`` tokens (or fail), when a tokenizer is set."""
        if self.tokenizer is None or self.context_window is None:
            return text
        from llm4rec.lm.base import fit_tokens

        ids = self.tokenizer(text, add_special_tokens=False).input_ids
        budget = self.context_window - reserve
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
        usage = data.get("usage") or {}
        choice = _get(data, "choices", 0)
        if not isinstance(text, str):
            raise MalformedResponseError(f"completion text is not a string: {str(data)[:200]}")
        return Completion(text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                          choice.get("finish_reason"))

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
            lp = _get(data, "choices", 0).get("logprobs")
            if not lp or not lp.get("token_logprobs") or lp.get("text_offset") is None:
                raise CapabilityError(f"{self.base_url}/completions returned no prompt log-probs with echo=true; "
                                      "this server cannot score (llama_cpp.server needs --logits_all true; "
                                      "vLLM supports it; the OpenAI API and Ollama do not)")
            total, n = 0.0, 0
            offsets, tlp, toks = lp["text_offset"], lp["token_logprobs"], lp.get("tokens") or []
            text = _get(data, "choices", 0).get("text") or ""
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
            usage = data.get("usage") or {}
            return (total, n), int(usage.get("prompt_tokens", 0))

        res = self.http.map(one, continuations)
        return Batch([r for r, _ in res], sum(p for _, p in res), len(res))

    def close(self) -> None:
        self.http.close()
