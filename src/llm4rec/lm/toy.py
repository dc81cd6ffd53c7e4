"""A test double: a tiny deterministic generator for tests and dry runs (backend ``"toy"``; no
weights, no cache). Use it to test code around a generator (prompting, parsing, grounding,
accounting), never to measure recommendation quality.

It is *not* a language model: ``score`` is a smoothed bag-of-words model of the context (words
that occur in the context are likelier), so rankers built on it are fast, deterministic and
mildly content-aware (an item sharing words -- genres, years -- with the history scores higher).
Generation returns the ``[k]`` identifiers found in the last message, ordered by a hash, plus a
short fixed sentence, which exercises parsing and grounding.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from typing import Literal

from llm4rec.config import Config
from llm4rec.lm.base import Batch, Completion, Generator, Message
from llm4rec.registry import GENERATORS

_WORD = re.compile(r"\w+")


def _jitter(text: str) -> float:
    """A deterministic value in [0, 0.01) from a hash of ``text``."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF / 100


@GENERATORS.register("toy")
class ToyGeneratorConfig(Config):
    backend: Literal["toy"] = "toy"
    vocab: int = 5000
    alpha: float = 0.5

    def build(self) -> ToyGenerator:
        return ToyGenerator(self)


class ToyGenerator(Generator):
    """Deterministic stand-in generator (see the module docstring)."""

    backend = "toy"
    score_chunk = 1 << 16

    def __init__(self, config: ToyGeneratorConfig | None = None) -> None:
        self.config = config or ToyGeneratorConfig()
        super().__init__(model_name="toy", cache_mode="off")

    def _identity(self) -> str:
        return "toy-v1"

    def _score(self, context: str, continuations: list[str]) -> Batch:
        words = _WORD.findall(context.lower())
        counts = Counter(words)
        denom = len(words) + self.config.alpha * self.config.vocab
        out = []
        for c in continuations:
            toks = _WORD.findall(c.lower()) or [c]
            lp = sum(math.log((counts[t] + self.config.alpha) / denom) for t in toks)
            lp += _jitter(context[-200:] + "|" + c)  # breaks ties between otherwise equal answers
            out.append((lp, len(toks)))
        return Batch(out, prompt_tokens=len(words) + sum(n for _, n in out))

    def _answer(self, text: str, max_tokens: int) -> Completion:
        ids = list(dict.fromkeys(re.findall(r"\[(\d+)\]", text)))
        ids.sort(key=lambda s: hashlib.sha256(f"{text}|{s}".encode()).hexdigest())
        answer = " > ".join(f"[{i}]" for i in ids) if ids else "Because it matches what you watched."
        words = answer.split()[:max_tokens * 2]
        return Completion(" ".join(words), len(_WORD.findall(text)), len(words), "stop")

    def _generate(self, prompts: list[str], max_tokens: int, temperature: float, stop: list[str],
                  seed: int) -> Batch:
        res = [self._answer(p, max_tokens) for p in prompts]
        return Batch(res, sum(c.prompt_tokens for c in res), sum(c.completion_tokens for c in res))

    def _chat(self, conversations: list[list[Message]], max_tokens: int, temperature: float,
              stop: list[str], seed: int) -> Batch:
        return self._generate([c[-1]["content"] for c in conversations], max_tokens, temperature, stop, seed)
