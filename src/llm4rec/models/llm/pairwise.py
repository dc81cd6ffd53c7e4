"""Pairwise ranking: "which would I enjoy more, A or B?" read from log p(" A") vs log p(" B").

Each comparison is asked in both orders and the two log-odds are combined (PRP, Qin et al.), which
cancels a constant preference for the first or second slot; ``costs`` reports how often both
orders agree (``order_consistency``) and how often the model says "A" (``first_choice_rate``).
Candidates start in a seeded random order and are sorted by bottom-up adjacent-swap passes
(PRP-sliding) until ``max_comparisons`` is spent or a pass changes nothing, so the top of the list
is the best sorted part.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from llm4rec.models.llm.base import LLMRanker, LLMRankerConfig
from llm4rec.registry import MODELS


class PairwiseConfig(LLMRankerConfig):
    max_comparisons: int = Field(40, ge=1, description="comparison budget per user (each = 2 LLM calls "
                                                        "when both_orders)")
    both_orders: bool = Field(True, description="ask (a, b) and (b, a) and combine them")


@MODELS.register("llm-pairwise")
class PairwiseRanker(LLMRanker):
    """``llm-pairwise``: budgeted sorting by LLM pairwise preferences."""

    Config = PairwiseConfig
    name = "llm-pairwise"
    kind = "pairwise"
    config: PairwiseConfig
    set_dependent = True

    def _log_odds(self, prefix: str, a: str, b: str) -> float:
        """log p(" A") - log p(" B") for the question with ``a`` shown first."""
        p = self.prompts
        lp = self.generator.score(prefix + p.fill("prompt", noun=self.config.noun, a=a, b=b),
                                  list(p.template["choices"])).logprobs
        self.count("answers")
        self.count("first_choice", lp[0] > lp[1])
        return float(lp[0] - lp[1])

    def prefers(self, prefix: str, a: str, b: str) -> bool:
        """Whether the LLM prefers ``a`` over ``b`` (both orders combined when configured)."""
        d = self._log_odds(prefix, a, b)
        self.count("comparisons")
        if self.config.both_orders:
            d2 = self._log_odds(prefix, b, a)
            self.count("consistent", (d > 0) == (d2 < 0))
            d -= d2
        return d > 0

    def _rank_user(self, user: int, items: np.ndarray) -> np.ndarray:
        c = self.config
        n = len(items)
        order = list(np.random.default_rng([c.seed, int(user)]).permutation(n))
        texts = self.texts(items)
        a, b = ([*sorted(texts, key=len, reverse=True), "", ""])[:2]
        p = self.prompts
        prefix = self.history_block(user, p.fill("prompt", noun=c.noun, a=a, b=b)
                                    + max(p.template["choices"], key=len))
        budget = c.max_comparisons
        changed = True
        top = 0  # positions above `top` are final after a full pass
        while budget > 0 and changed and top < n - 1:
            changed = False
            for i in range(n - 1, top, -1):
                if budget == 0:
                    break
                budget -= 1
                if self.prefers(prefix, texts[order[i]], texts[order[i - 1]]):
                    order[i - 1], order[i] = order[i], order[i - 1]
                    changed = True
            top += 1
        scores = np.empty(n, np.float64)
        scores[order] = n - np.arange(n)
        return scores

    def extra_metrics(self) -> dict[str, float]:
        s = self.__dict__.get("stats_", {})
        out = {"first_choice_rate": s.get("first_choice", 0.0) / max(1.0, s.get("answers", 0.0)),
               "comparisons_per_user": s.get("comparisons", 0.0) / max(1.0, self.__dict__.get(
                   "usage_", {}).get("users", 0.0))}
        if self.config.both_orders:
            out["order_consistency"] = s.get("consistent", 0.0) / max(1.0, s.get("comparisons", 0.0))
        return out
