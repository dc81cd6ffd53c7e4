"""Listwise ranking by generation and parsing (works with API models that return no log-probs).

The LLM reads the history and a numbered candidate list and writes a ranking; the output is
parsed (``[k]`` identifiers, else one title per line grounded to the candidates, see
:mod:`~llm4rec.models.llm.grounding`). Long lists use RankGPT sliding windows (back to front, so
the best items bubble to the top). Position bias: candidates are shown in a seeded random order
(``shuffle``), and ``permutations = K`` averages the rank scores over K orders (LLMRank's
bootstrapping). Items the model never names tie at the bottom instead of inheriting the shown
order. Validity, hallucination, duplicate and first-position rates are reported by ``costs``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from llm4rec.models.llm.backends import check_encoder_spec, get_encoder
from llm4rec.models.llm.base import LLMRanker, LLMRankerConfig
from llm4rec.models.llm.grounding import METHODS, Grounder
from llm4rec.registry import MODELS

_ID = re.compile(r"\[(\d+)\]")
_CHAIN = re.compile(r"\[\d+\](?:\s*>\s*\[\d+\])+")  # "[3] > [1] > [2]": the form the prompt asks for
CHAT_OVERHEAD = 8  # tokens a chat template adds per message (role markers), for prompt budgets
_NUMBERING = re.compile(r"^\s*(?:\d+[.):]|[-*•])\s*")
_BARE_ID = re.compile(r"^\s*(\d+)\s*$")
_BULLET = re.compile(r"^\s*(?:\d+[.):]|[-*•]|\[\d+\])\s*")


class ListwiseConfig(LLMRankerConfig):
    """Generation-based listwise ranking with sliding windows and permutation averaging."""

    window: int = Field(20, ge=2, description="candidates per prompt (RankGPT window)")
    step: int = Field(10, ge=1, description="window stride, back to front")
    shuffle: bool = Field(True, description="show candidates in a seeded random order")
    permutations: int = Field(1, ge=1, description="average rank scores over K shown orders (bootstrapping)")
    max_tokens: int = Field(160, ge=8)
    grounding: list[str] = Field(default_factory=lambda: ["exact", "normalized", "fuzzy"],
                                 description=f"title matching methods, in order, from {METHODS}")
    fuzzy_threshold: float = Field(85.0, ge=0, le=100)
    encoder: dict[str, Any] | None = Field(None, description="encoder block for 'embedding' grounding")
    embedding_threshold: float = 0.8

    @field_validator("encoder")
    @classmethod
    def _check_encoder(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_encoder_spec(v)


def parse_ranking(text: str, n: int, grounder: Grounder | None) -> list[int | None]:
    """Candidate positions (0-based) named by ``text``, in order; ``None`` for an unmatched entry.

    Identifiers are read strictly: chains ``[a] > [b] > ...`` (the asked form, anywhere in a line)
    and lines that *start* with ``[a]`` (after optional numbering, e.g. ``1. [a] Title``). A lone
    ``[a]`` elsewhere (an echoed title, an explanation) never switches to identifier mode.
    Without identifiers each non-empty line is an entry (a bare number, or a title grounded by
    ``grounder``). Out-of-range identifiers are ``None`` (hallucinations).
    """
    ids: list[str] = []
    for line in text.splitlines():
        body = _NUMBERING.sub("", line.strip()).strip()
        chains = _CHAIN.findall(body)
        if chains:
            ids.extend(k for chain in chains for k in _ID.findall(chain))
        elif m := _ID.match(body):
            ids.append(m.group(1))
    if ids:
        return [int(k) - 1 if 1 <= int(k) <= n else None for k in ids]
    out: list[int | None] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        bare = _BARE_ID.match(line)
        if bare:
            k = int(bare.group(1))
            out.append(k - 1 if 1 <= k <= n else None)
            continue
        title = _BULLET.sub("", line).strip()
        out.append(grounder.ground(title)[0] if grounder is not None and title else None)
    return out


@MODELS.register("llm-listwise")
class ListwiseRanker(LLMRanker):
    """``llm-listwise``: the LLM writes a ranking of the candidates; scores come from positions."""

    Config = ListwiseConfig
    name = "llm-listwise"
    kind = "listwise"
    config: ListwiseConfig
    set_dependent = True

    def _rank_user(self, user: int, items: np.ndarray) -> np.ndarray:
        c = self.config
        n = len(items)
        scores = np.zeros(n, np.float64)
        prefix = self._prefix(user, items)
        for k in range(c.permutations):
            rng = np.random.default_rng([c.seed, int(user), k])
            shown = rng.permutation(n) if (c.shuffle or k > 0) else np.arange(n)
            order, named = self._sliding(prefix, items, shown)
            pos = np.empty(n, np.float64)
            pos[order] = np.arange(n)
            scores += np.where(named, n - pos, 0.0)
        return scores / c.permutations

    def _sliding(self, prefix: str, items: np.ndarray, shown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RankGPT sliding windows over ``shown`` (candidate positions); returns the final order and
        which candidates the model named at least once."""
        c = self.config
        order = list(shown)
        named = np.zeros(len(items), bool)
        end = len(order)
        while True:
            start = max(0, end - c.window)
            window = order[start:end]
            ranked = self._rank_window(prefix, items, window)
            named[ranked] = True
            order[start:end] = ranked + [x for x in window if x not in ranked]
            if start == 0:
                break
            end -= c.step
        return np.asarray(order), named

    def _prefix(self, user: int, items: np.ndarray) -> str:
        """The history block, shrunk to leave room for the longest window of candidates."""
        c = self.config
        longest = sorted(self.texts(items), key=len, reverse=True)[:c.window]
        probe = self._messages("", longest)
        return self.history_block(user, "\n".join(m["content"] for m in probe),
                                  reserve=c.max_tokens + CHAT_OVERHEAD * len(probe))

    def _messages(self, prefix: str, texts: list[str]) -> list[Any]:
        c, p = self.config, self.prompts
        lines = "\n".join(p.fill("candidate", index=j + 1, text=t) for j, t in enumerate(texts))
        example = " > ".join(f"[{j}]" for j in (3, 1, 2)[:len(texts)])
        return p.messages(history=prefix, n=len(texts), candidates=lines, noun=c.noun, example=example)

    def _fit_window(self, prefix: str, texts: list[str]) -> list[Any]:
        """The window's messages; when they exceed the context window even with the shortest history,
        candidate texts are cut (halving their length, down to 16 characters), never the instruction."""
        msgs = self._messages(prefix, texts)
        budget = self.prompt_budget(self.config.max_tokens)
        if budget is None:
            return msgs

        def size(m: list[Any]) -> int:
            return self.generator.count_tokens("\n".join(x["content"] for x in m)) + CHAT_OVERHEAD * len(m)

        total = size(msgs)
        limit = max((len(t) for t in texts), default=0)
        while size(msgs) > budget and limit > 16:
            limit = max(16, limit // 2)
            msgs = self._messages(prefix, [t if len(t) <= limit else t[:limit - 1] + "…" for t in texts])
        if limit < max((len(t) for t in texts), default=0):
            self.count("prompts_shrunk")
            left = size(msgs) - budget
            still = f"; still {left} tokens over, the backend's truncation policy applies" if left > 0 else ""
            self._warn_once("candidates", f"{self.name}: listwise prompt of {total} tokens exceeds the budget of "
                            f"{budget}: candidate texts cut to {limit} characters{still}")
        return msgs

    def _rank_window(self, prefix: str, items: np.ndarray, window: list[int]) -> list[int]:
        """One LLM call: the window's candidates the model names, best first (duplicates dropped)."""
        c = self.config
        texts = self.texts(items[window])
        msgs = self._fit_window(prefix, texts)
        answer = self.generator.chat(msgs, max_tokens=c.max_tokens)
        grounder = Grounder(texts, [m for m in c.grounding if m != "embedding" or c.encoder],
                            c.fuzzy_threshold, get_encoder(c.encoder) if c.encoder else None,
                            c.embedding_threshold)
        entries = parse_ranking(answer, len(window), grounder)
        valid = [e for e in entries if e is not None]
        uniq = list(dict.fromkeys(valid))
        self.count("outputs")
        self.count("valid_outputs", bool(uniq))
        self.count("entries", len(entries))
        self.count("hallucinated", len(entries) - len(valid))
        self.count("duplicates", len(valid) - len(uniq))
        self.count("named", len(uniq))
        self.count("shown", len(window))
        self.count("first_is_first_shown", bool(uniq) and uniq[0] == 0)
        return [window[j] for j in uniq]

    def extra_metrics(self) -> dict[str, float]:
        s = self.__dict__.get("stats_", {})
        outputs, entries = max(1.0, s.get("outputs", 0.0)), max(1.0, s.get("entries", 0.0))
        return {
            "validity": s.get("valid_outputs", 0.0) / outputs,
            "hallucination_rate": s.get("hallucinated", 0.0) / entries,
            "duplicate_rate": s.get("duplicates", 0.0) / entries,
            "named_rate": s.get("named", 0.0) / max(1.0, s.get("shown", 0.0)),
            "first_position_rate": s.get("first_is_first_shown", 0.0) / outputs,
        }
