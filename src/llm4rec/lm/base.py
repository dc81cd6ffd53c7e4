"""The two language-model interfaces, :class:`Encoder` and :class:`Generator`.

Backends implement a few small private methods (``_encode``, ``_generate``,
``_chat``, ``_score``, ``_identity``); the public methods here wrap them with
the record/replay cache (:mod:`llm4rec.lm.cache`) and accounting
(:mod:`llm4rec.lm.accounting`), so every backend behaves the same way.
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np

from llm4rec.lm.accounting import ACCOUNTING, Accounting, Price, Usage
from llm4rec.lm.cache import CacheMode, LMCache, get_cache, make_key
from llm4rec.lm.errors import CacheError, CacheMissError, ConfigError, ContextLengthError

log = logging.getLogger(__name__)

Truncation = Literal["left", "error"]
"""``left``: drop the oldest prompt tokens (keep the end of the context, and a leading BOS) so
the input fits; ``error``: raise :class:`ContextLengthError`."""

Message = dict[str, str]
R = TypeVar("R")


@dataclass(frozen=True)
class Completion:
    """One generated text with its token counts."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


@dataclass(frozen=True)
class ScoreResult:
    """Summed log-probabilities (nats) of each continuation given the context, and token counts."""

    logprobs: np.ndarray  # float64, shape (n,)
    n_tokens: np.ndarray  # int64, shape (n,)

    @property
    def mean_logprobs(self) -> np.ndarray:
        """Per-token average log-prob (length-normalised score)."""
        return self.logprobs / np.maximum(self.n_tokens, 1)

    def __len__(self) -> int:
        return len(self.logprobs)


@dataclass
class Batch:
    """What a backend computed for a chunk of inputs: one result per input plus token counts."""

    results: list[Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0


def split_boundary(context: str, continuation: str) -> tuple[str, str]:
    """Move trailing spaces/tabs of ``context`` to the front of ``continuation``.

    BPE tokenizers attach a space to the word after it (``" Titanic"``), so a context ending
    in a space would otherwise tokenize the boundary unnaturally.
    """
    stripped = context.rstrip(" \t")
    return stripped, context[len(stripped):] + continuation


def fit_tokens(tokens: list[int], budget: int, policy: Truncation, what: str, keep_first: bool = False
               ) -> list[int]:
    """Apply the truncation policy to a token list that must hold at most ``budget`` tokens."""
    if len(tokens) <= budget:
        return tokens
    if policy == "error":
        raise ContextLengthError(f"{what} has {len(tokens)} tokens but only {budget} fit in the context "
                                 "window (truncation='error'; use truncation='left' to keep the end)")
    if budget <= (1 if keep_first else 0):
        raise ContextLengthError(f"{what}: no room left in the context window (budget {budget} tokens)")
    log.warning("left-truncating %s from %d to %d tokens (%d dropped from its start)", what, len(tokens), budget,
                len(tokens) - budget)
    if keep_first:
        return tokens[:1] + tokens[len(tokens) - budget + 1:]
    return tokens[len(tokens) - budget:]


class _LM(ABC):
    """Caching and accounting shared by encoders and generators."""

    backend: ClassVar[str] = "?"

    def __init__(self, *, model_name: str, cache_mode: CacheMode = "use", cache_path: str | None = None,
                 price: Price | None = None, accounting: Accounting | None = None) -> None:
        self.model_name = model_name
        self.cache_mode: CacheMode = "off"
        self.cache: LMCache | None = None
        self.set_cache(cache_mode, cache_path)
        self.accounting = accounting or ACCOUNTING
        self.usage: Usage = self.accounting.usage(self.backend, model_name, price)
        self._model_id: str | None = None
        self.backend_calls = 0  # live invocations of the backend by this object

    def set_cache(self, mode: CacheMode, path: str | None = None) -> None:
        """Switch cache mode (and database) on a loaded model, e.g. to replay a recorded run."""
        if mode not in ("use", "replay", "refresh", "off"):
            raise ConfigError(f"unknown cache_mode {mode!r}; use one of use, replay, refresh, off")
        self.cache_mode = mode
        self.cache = None if mode == "off" else get_cache(path)

    @property
    def model_id(self) -> str:
        """Identity of the model in cache keys: a weights hash, or the served model name."""
        if self._model_id is None:
            self._model_id = self._identity()
        return self._model_id

    @abstractmethod
    def _identity(self) -> str: ...

    def _key_params(self) -> dict[str, Any]:
        """Backend settings that change outputs (context size, pooling, ...); part of every key."""
        return {}

    def _cached(self, op: str, params: dict[str, Any], items: Sequence[Any],
                compute: Callable[[list[Any]], Batch], pack: Callable[[Any], bytes],
                unpack: Callable[[bytes], Any], chunk: int) -> list[Any]:
        """Answer ``items`` from the cache, computing misses ``chunk`` at a time (each chunk is
        committed before the next starts)."""
        n = len(items)
        out: list[Any] = [None] * n
        if self.cache is None:
            keys: list[str] = []
            todo = list(range(n))
        else:
            full = {**self._key_params(), **params}
            keys = [make_key(self.backend, self.model_id, op, full, it) for it in items]
            hits = {} if self.cache_mode == "refresh" else self.cache.get_many(keys)
            todo, damaged = [], []
            for i, k in enumerate(keys):
                if k in hits:
                    try:
                        out[i] = unpack(hits[k])
                    except (ValueError, TypeError, UnicodeDecodeError):  # a damaged row
                        damaged.append(i)
                        todo.append(i)
                else:
                    todo.append(i)
            if damaged:
                msg = (f"LM cache {self.cache.path}: {len(damaged)} damaged {op} row(s) of "
                       f"{self.backend}:{self.model_name}")
                if self.cache_mode == "replay":
                    raise CacheError(f"{msg}; replay mode cannot recompute them: rerun with cache_mode='use'")
                log.warning("%s; recomputing them", msg)
            if todo and self.cache_mode == "replay":
                raise CacheMissError(
                    f"replay mode: {len(todo)} of {n} {op} calls of {self.backend}:{self.model_name} are not in "
                    f"the cache {self.cache.path} (first: {str(items[todo[0]])[:80]!r}); "
                    "run once with cache_mode='use' to record them")
        self.accounting.record(self.usage, items=n, cache_hits=n - len(todo))
        # identical inputs within one call are computed once
        first: dict[str | int, int] = {}
        uniq = []
        for i in todo:
            ident: str | int = keys[i] if keys else i
            if ident not in first:
                first[ident] = i
                uniq.append(i)
        for s in range(0, len(uniq), max(1, chunk)):
            idx = uniq[s:s + max(1, chunk)]
            t0 = time.perf_counter()
            batch = compute([items[i] for i in idx])
            dt = time.perf_counter() - t0
            self.backend_calls += 1
            self.accounting.record(self.usage, calls=1, prompt_tokens=batch.prompt_tokens,
                                   completion_tokens=batch.completion_tokens, wall_s=dt)
            if len(batch.results) != len(idx):
                raise RuntimeError(f"{self.backend} returned {len(batch.results)} results for {len(idx)} inputs")
            packed = [pack(r) for r in batch.results]
            if self.cache is not None:
                self.cache.put_many(zip([keys[i] for i in idx], packed, strict=True),
                                    backend=self.backend, model=self.model_id, op=op)
            for i, b in zip(idx, packed, strict=True):
                out[i] = unpack(b)  # round-trip so live and replayed outputs are bit-identical
        for i in todo:
            if out[i] is None:
                out[i] = out[first[keys[i] if keys else i]]
        return out

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release model resources (no-op by default)."""

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pack_array(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=np.float32).tobytes()


def _unpack_array(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.float32)


def _pack_json(v: Any) -> bytes:
    return json.dumps(v, ensure_ascii=False).encode()


def _unpack_json(b: bytes) -> Any:
    return json.loads(b)


class Encoder(_LM):
    """Text -> float32 vectors."""

    default_batch_size: int = 32

    def encode(self, texts: Sequence[str] | str, batch_size: int | None = None, normalize: bool = True
               ) -> np.ndarray:
        """Embed ``texts`` into a ``(len(texts), dim)`` float32 array (L2-normalised rows by default)."""
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        bs = batch_size or self.default_batch_size

        def compute(chunk: list[str]) -> Batch:
            arr, ntok = self._encode(chunk, bs)
            arr = np.asarray(arr, dtype=np.float32)
            return Batch(list(arr), prompt_tokens=ntok)

        rows = self._cached("encode", {}, texts, compute, _pack_array, _unpack_array, chunk=bs)
        if not rows:  # backends that know their size up front say it; others give width 0
            width = self.dim if type(self).dim is not Encoder.dim else 0
            return np.zeros((0, width), dtype=np.float32)
        out = np.stack(rows).astype(np.float32, copy=False)
        if normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = out / np.maximum(norms, 1e-12)
        return out.astype(np.float32, copy=False)

    @property
    def dim(self) -> int:
        """Embedding size (computed with one call if the backend cannot tell it up front)."""
        return int(self.encode(["dimension probe"], normalize=False).shape[1])

    @abstractmethod
    def _encode(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, int]:
        """Raw (un-normalised) embeddings of ``texts`` and the number of tokens read."""


class Generator(_LM):
    """Text generation, chat, and log-prob scoring of continuations."""

    generate_chunk: int = 1  # prompts per backend call (local backends commit after each prompt)
    score_chunk: int = 64

    @property
    def context_window(self) -> int | None:
        """Tokens the model attends to (prompt + answer) when the backend knows it and can count
        tokens (:meth:`count_tokens`); ``None``: prompts are not measured before the call."""
        return None

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` for this model (backends with a ``context_window``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot count tokens")

    def generate(self, prompts: Sequence[str] | str, max_tokens: int = 64, temperature: float = 0.0,
                 stop: Sequence[str] | None = None, seed: int = 0) -> list[str] | str:
        """Complete each prompt (raw text, no chat template). A single string gives a single string."""
        single = isinstance(prompts, str)
        plist = [prompts] if single else list(prompts)
        params = {"max_tokens": max_tokens, "temperature": temperature, "stop": list(stop or []), "seed": seed}
        res = self._cached("generate", params, plist,
                           lambda chunk: self._generate(chunk, max_tokens, temperature, list(stop or []), seed),
                           lambda c: _pack_json(c.__dict__), lambda b: Completion(**_unpack_json(b)),
                           chunk=self.generate_chunk)
        texts = [c.text for c in res]
        return texts[0] if single else texts

    def chat(self, messages: Sequence[Message], max_tokens: int = 64, temperature: float = 0.0,
             stop: Sequence[str] | None = None, seed: int = 0) -> str:
        """Answer one conversation (list of ``{"role", "content"}``) using the model's chat template."""
        return self.chat_many([messages], max_tokens, temperature, stop, seed)[0]

    def chat_many(self, conversations: Sequence[Sequence[Message]], max_tokens: int = 64,
                  temperature: float = 0.0, stop: Sequence[str] | None = None, seed: int = 0) -> list[str]:
        """Answer several conversations."""
        return [c.text for c in self.chat_completions(conversations, max_tokens, temperature, stop, seed)]

    def chat_completions(self, conversations: Sequence[Sequence[Message]], max_tokens: int = 64,
                         temperature: float = 0.0, stop: Sequence[str] | None = None, seed: int = 0
                         ) -> list[Completion]:
        """:meth:`chat_many` with token counts and finish reasons (a replayed answer carries the counts
        recorded when it was computed)."""
        convs = [[{"role": str(m["role"]), "content": str(m["content"])} for m in c] for c in conversations]
        params = {"max_tokens": max_tokens, "temperature": temperature, "stop": list(stop or []), "seed": seed}
        res: list[Completion] = self._cached(
            "chat", params, convs, lambda chunk: self._chat(chunk, max_tokens, temperature, list(stop or []), seed),
            lambda c: _pack_json(c.__dict__), lambda b: Completion(**_unpack_json(b)), chunk=self.generate_chunk)
        return res

    def score(self, context: str, continuations: Sequence[str]) -> ScoreResult:
        """Sum of log p(continuation tokens | context) for each continuation, in nats.

        The context is evaluated once and its state reused for every continuation. Tokenization:
        the context is tokenized alone (with the model's BOS) and each continuation alone (no
        special tokens), after moving trailing spaces of the context to the continuations (see
        :func:`split_boundary`); the scored sequence is the concatenation of the two token lists.
        """
        conts = list(continuations)
        if not conts:
            return ScoreResult(np.zeros(0), np.zeros(0, dtype=np.int64))
        res = self._cached("score", {}, [[context, c] for c in conts],
                           lambda chunk: self._score(context, [c for _, c in chunk]),
                           lambda r: _pack_json([float(r[0]), int(r[1])]), _unpack_json,
                           chunk=self.score_chunk)
        return ScoreResult(np.array([r[0] for r in res], dtype=np.float64),
                           np.array([r[1] for r in res], dtype=np.int64))

    def next_token_logprobs(self, prefix: str, suffixes: Sequence[str], choices: Sequence[str]) -> np.ndarray:
        """``log p(first token of choice | prefix + suffix)``: float64 ``(len(suffixes), len(choices))``.

        The verbalizer primitive (P(Yes) of a yes/no question, the letter answering a multiple-choice
        prompt): the prefix is evaluated once and each suffix continues it; the log-softmax is over
        the whole vocabulary at the position after the suffix. Choices are tokenized alone (no special
        tokens) and only their first token counts. Backends without next-token logits fall back to
        :meth:`score` of each whole choice (identical for single-token choices).
        """
        sufs, ch = list(suffixes), list(choices)
        if not sufs or not ch:
            return np.zeros((len(sufs), len(ch)))
        res = self._cached("next_token", {"choices": ch}, [[prefix, s] for s in sufs],
                           lambda chunk: self._next_token(prefix, [s for _, s in chunk], ch),
                           lambda r: _pack_json([float(x) for x in r]), _unpack_json, chunk=self.score_chunk)
        return np.array(res, dtype=np.float64).reshape(len(sufs), len(ch))

    def _next_token(self, prefix: str, suffixes: list[str], choices: list[str]) -> Batch:
        """One row of ``len(choices)`` log-probs per suffix (default: via ``_score``)."""
        rows, tokens = [], 0
        for s in suffixes:
            b = self._score(prefix + s, choices)
            rows.append([float(lp) for lp, _ in b.results])
            tokens += b.prompt_tokens
        return Batch(rows, tokens, 0)

    @abstractmethod
    def _generate(self, prompts: list[str], max_tokens: int, temperature: float, stop: list[str],
                  seed: int) -> Batch:
        """One :class:`Completion` per prompt."""

    @abstractmethod
    def _chat(self, conversations: list[list[Message]], max_tokens: int, temperature: float,
              stop: list[str], seed: int) -> Batch:
        """One :class:`Completion` per conversation."""

    @abstractmethod
    def _score(self, context: str, continuations: list[str]) -> Batch:
        """One ``(summed_logprob, n_tokens)`` per continuation."""
