"""llama.cpp backend (``llama-cpp-python``) for local GGUF models.

``score`` decodes the context once (asking llama.cpp for the logits of its last token only),
then, for each continuation, trims the KV cache back to the end of the context and decodes
just the continuation tokens with logits at every position. The context's KV state is thus
computed once and reused by every continuation; a later ``score`` or ``generate`` whose
tokens start with the same prefix reuses it too.

llama.cpp's *extra buffer types* (weights repacked for AMX / SIMD kernels) are off by default on CPUs
that report Intel AMX: its AMX matrix kernels fault (``ldtilecfg``, SIGSEGV in
``ggml_backend_amx_mul_mat``) in virtual machines that do not enable the AMX tile state, which is what
these CPUs look like under Firecracker. ``extra_buffers=True`` turns them back on (bare metal).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from llm4rec.lm.base import Batch, Completion, Generator, Message, Truncation, fit_tokens
from llm4rec.lm.cache import get_cache
from llm4rec.lm.errors import LMError
from llm4rec.lm.registry import require, resolve_gguf

log = logging.getLogger(__name__)


def _log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))


_PARAMS_LOCK = threading.Lock()


def cpu_has_amx() -> bool:
    """Whether the CPU reports Intel AMX tiles (Linux ``/proc/cpuinfo``; False elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return "amx_tile" in line.split()
    except OSError:
        pass
    return False


@contextlib.contextmanager
def model_params(extra_buffers: bool) -> Iterator[None]:
    """Load llama.cpp models in this block with its extra (repacking/AMX) buffer types on or off.

    ``Llama`` takes no such argument, so its default-parameters factory is wrapped for the duration of
    the load (under a lock: loads in other threads wait).
    """
    if extra_buffers:
        yield
        return
    import llama_cpp.llama_cpp as lib

    with _PARAMS_LOCK:
        original = lib.llama_model_default_params

        def params() -> Any:
            p = original()
            p.use_extra_bufts = False
            return p

        lib.llama_model_default_params = params
        try:
            yield
        finally:
            lib.llama_model_default_params = original


def extra_buffers_default(extra_buffers: bool | None) -> bool:
    """``None`` (auto): on, except on CPUs with AMX (see the module docstring)."""
    return (not cpu_has_amx()) if extra_buffers is None else extra_buffers


class LlamaCppGenerator(Generator):
    """A GGUF model run in-process by llama.cpp."""

    backend = "llama-cpp"

    def __init__(self, model: str | Path = "smollm2-135m", n_ctx: int = 2048, n_threads: int | None = None,
                 n_batch: int = 512, truncation: Truncation = "left", seed: int = 0,
                 extra_buffers: bool | None = None, **lm: Any) -> None:
        require("llama_cpp", "lm")
        from llama_cpp import Llama

        self.path = resolve_gguf(model)
        super().__init__(model_name=str(model), **lm)
        threads = n_threads or os.cpu_count() or 1
        self.truncation = truncation
        with model_params(extra_buffers_default(extra_buffers)):
            self.llm = Llama(model_path=str(self.path), n_ctx=n_ctx, n_batch=n_batch, n_ubatch=n_batch,
                             n_threads=threads, n_threads_batch=threads, seed=seed, logits_all=False,
                             verbose=False)
        self.n_ctx = self.llm.n_ctx()
        self._n_vocab = self.llm.n_vocab()
        self._formatter: Any = None
        self._held: list[int] = []  # tokens whose KV state a previous score() left on sequence 0
        self.lock = threading.RLock()  # a llama.cpp context is not thread-safe

    # -- identity -------------------------------------------------------------------------------
    def _identity(self) -> str:
        return "gguf:" + (self.cache or get_cache()).file_hash(self.path)

    def _key_params(self) -> dict[str, Any]:
        return {"n_ctx": self.n_ctx, "truncation": self.truncation}

    # -- tokens ---------------------------------------------------------------------------------
    def tokenize(self, text: str, bos: bool = True, special: bool = False) -> list[int]:
        """Token ids as llama.cpp sees them (``bos`` adds the model's BOS when it wants one)."""
        if not text:
            return [self.llm.token_bos()] if bos and self._adds_bos() else []
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=bos, special=special))

    @property
    def context_window(self) -> int | None:
        return int(self.n_ctx)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, bos=True))

    def _adds_bos(self) -> bool:
        return bool(self.llm._model.add_bos_token()) if hasattr(self.llm._model, "add_bos_token") else True

    def _decode(self, tokens: list[int], n_past: int, logits_from: int) -> np.ndarray:
        """Decode ``tokens`` at positions ``n_past...`` on sequence 0; return logits (float32 rows)
        for positions ``>= logits_from`` (indices into ``tokens``)."""
        llm = self.llm
        step = llm.n_batch - 1 if len(tokens) % llm.n_batch == 1 else llm.n_batch  # no 1-token tail batch
        rows = []
        for s in range(0, len(tokens), step):
            chunk = tokens[s:s + step]
            b = llm._batch.batch
            n_out = 0
            for j, t in enumerate(chunk):
                b.token[j] = t
                b.pos[j] = n_past + s + j
                b.seq_id[j][0] = 0
                b.n_seq_id[j] = 1
                want = s + j >= logits_from
                b.logits[j] = want
                n_out += want
            b.n_tokens = len(chunk)
            llm._ctx.decode(llm._batch)
            if n_out:
                arr = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_out * self._n_vocab,))
                rows.append(arr.reshape(n_out, self._n_vocab).copy())
        return np.concatenate(rows) if rows else np.zeros((0, self._n_vocab), np.float32)

    def clear_prefix(self) -> None:
        """Empty the KV cache, so the next call shares no prefix with earlier ones (cold-start timings)."""
        self._set_prefix([])

    def _set_prefix(self, tokens: list[int]) -> None:
        """Trim the KV cache (sequence 0) to the first ``len(tokens)`` positions, which hold ``tokens``."""
        self.llm._ctx.kv_cache_seq_rm(0, len(tokens), -1)
        self.llm.input_ids[:len(tokens)] = tokens
        self.llm.n_tokens = len(tokens)
        self._held = self._held[:len(tokens)]

    def _ensure_prefix(self, prefix: list[int]) -> int:
        """Make the KV cache hold exactly ``prefix``, reusing what a previous ``score`` left there.
        Returns the number of tokens decoded."""
        n = 0
        for a, b in zip(self._held, prefix, strict=False):
            if a != b:
                break
            n += 1
        if len(prefix) - n == 1:
            n -= 1  # llama.cpp computes 1-token batches on another kernel path: keep batches >= 2 tokens
        self._set_prefix(prefix[:n])
        if len(prefix) > n:
            self._decode(prefix[n:], n, len(prefix) - n - 1)
            self.llm.input_ids[n:len(prefix)] = prefix[n:]
            self.llm.n_tokens = len(prefix)
        self._held = list(prefix)
        return len(prefix) - n

    # -- scoring --------------------------------------------------------------------------------
    def _score_tokens(self, context: str, continuations: list[str]) -> tuple[list[int], list[list[int]]]:
        ctx_text = context.rstrip(" \t")
        trail = context[len(ctx_text):]
        conts = [self.tokenize(trail + c, bos=False) for c in continuations]
        ctx = self.tokenize(ctx_text, bos=True)
        if not ctx:  # nothing to condition on and no BOS: start from end-of-text
            ctx = [self.llm.token_eos()]
        longest = max((len(c) for c in conts), default=0)
        ctx = fit_tokens(ctx, self.n_ctx - longest, self.truncation, "score context",
                         keep_first=self._adds_bos())
        return ctx, conts

    def _score(self, context: str, continuations: list[str]) -> Batch:
        with self.lock:
            return self._score_locked(context, continuations)

    def _score_locked(self, context: str, continuations: list[str]) -> Batch:
        # The KV state of all but the last two context tokens is shared; each continuation then
        # decodes [last two context tokens] + its own tokens in one batch. (llama.cpp evaluates
        # 1-token batches on a different kernel path whose numerics differ by up to ~0.1 nat per
        # token; batches of >= 2 tokens give the same values as one full decode.)
        ctx, conts = self._score_tokens(context, continuations)
        share = ctx[:-2] if len(ctx) >= 4 else []
        tail = ctx[len(share):]
        evaluated = self._ensure_prefix(share)
        results = []
        for cont in conts:
            if not cont:
                results.append((0.0, 0))
                continue
            self._set_prefix(share)
            logits = self._decode(tail + cont[:-1], len(share), len(tail) - 1)
            lp = _log_softmax_rows(logits)[np.arange(len(cont)), cont]
            results.append((float(lp.sum()), len(cont)))
            evaluated += len(tail) + len(cont) - 1
        self._set_prefix(share)
        return Batch(results, evaluated, 0)

    def naive_score(self, context: str, continuation: str) -> float:
        """Reference: log p(continuation | context) decoding context+continuation in one batch from an
        empty KV cache (no state reuse)."""
        ctx, (cont,) = self._score_tokens(context, [continuation])
        with self.lock:
            self._set_prefix([])
            logits = self._decode(ctx + cont[:-1], 0, len(ctx) - 1)
            self._set_prefix([])
        return float(_log_softmax_rows(logits)[np.arange(len(cont)), cont].sum())

    # -- generation -----------------------------------------------------------------------------
    def _complete(self, tokens: list[int], max_tokens: int, temperature: float, stop: list[str],
                  seed: int) -> Completion:
        tokens = fit_tokens(tokens, self.n_ctx - max_tokens, self.truncation, "prompt",
                            keep_first=self._adds_bos())
        try:
            with self.lock:
                self._set_prefix([])  # generate from an empty KV cache: outputs never depend on earlier calls
                out: Any = self.llm.create_completion(tokens, max_tokens=max_tokens, temperature=temperature,
                                                  stop=stop or None, seed=seed, top_k=0 if temperature > 0 else 40,
                                                  top_p=1.0, min_p=0.0, repeat_penalty=1.0)
        except ValueError as exc:
            raise LMError(f"llama.cpp failed: {exc}") from exc
        choice, usage = out["choices"][0], out["usage"]
        return Completion(choice["text"], usage["prompt_tokens"], usage["completion_tokens"],
                          choice.get("finish_reason"))

    def _generate(self, prompts: list[str], max_tokens: int, temperature: float, stop: list[str],
                  seed: int) -> Batch:
        res = [self._complete(self.tokenize(p, bos=True), max_tokens, temperature, stop, seed) for p in prompts]
        return Batch(res, sum(c.prompt_tokens for c in res), sum(c.completion_tokens for c in res))

    def render_chat(self, conv: list[Message]) -> tuple[list[int], list[str]]:
        """Prompt tokens and stop strings of a conversation under the GGUF's chat template."""
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            text = "".join(f"{m['role']}: {m['content']}\n" for m in conv) + "assistant:"
            return self.tokenize(text, bos=True), ["\nuser:"]
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            m = self.llm._model
            self._formatter = Jinja2ChatFormatter(
                template=template, eos_token=m.token_get_text(self.llm.token_eos()),
                bos_token=m.token_get_text(self.llm.token_bos()))
        r = self._formatter(messages=conv)
        bos_text = self.llm._model.token_get_text(self.llm.token_bos())
        toks = self.tokenize(r.prompt, bos=not r.prompt.startswith(bos_text), special=True)
        stops = r.stop if isinstance(r.stop, list) else [r.stop] if r.stop else []
        return toks, [s for s in stops if s]

    def _chat(self, conversations: list[list[Message]], max_tokens: int, temperature: float,
              stop: list[str], seed: int) -> Batch:
        res = []
        for conv in conversations:
            toks, stops = self.render_chat(conv)
            res.append(self._complete(toks, max_tokens, temperature, [*stops, *stop], seed))
        return Batch(res, sum(c.prompt_tokens for c in res), sum(c.completion_tokens for c in res))

    def close(self) -> None:
        self.llm.close()
