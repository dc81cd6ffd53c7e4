"""Rankers built on log-probabilities (``Generator.score``): likelihood and pointwise.

Both score each (user, item) pair independently of the other candidates, so candidate scores
equal full-catalog scores and the order of candidates cannot bias them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from llm4rec.models.llm.base import LLMRanker, LLMRankerConfig
from llm4rec.prompts.library import PromptSet
from llm4rec.registry import MODELS


class LikelihoodConfig(LLMRankerConfig):
    """``score = log p(candidate text | history prompt)`` (summed, or per token)."""

    normalize: Literal["sum", "mean"] = Field("sum", description="sum of token log-probs, or their mean")
    calibrate: bool = Field(False, description="subtract log p(candidate | task prompt without history) "
                                               "(removes the model's prior for short / common titles)")


@MODELS.register("llm-likelihood")
class LikelihoodRanker(LLMRanker):
    """Zero-shot likelihood ranking: how likely the LLM finds each candidate as the next item.

    The history prompt is evaluated once per user; every candidate continuation reuses its KV
    state (``Generator.score``). With ``calibrate`` the history-free prior of each item is
    subtracted (cached per item, so it costs one pass over the catalog's candidates overall).
    """

    Config = LikelihoodConfig
    name = "llm-likelihood"
    kind = "likelihood"
    config: LikelihoodConfig

    def _item_logprobs(self, context: str, items: np.ndarray) -> np.ndarray:
        p = self.prompts
        conts = [p.fill("continuation", item=t) for t in self.texts(items)]
        res = self.generator.score(context, conts)
        return res.mean_logprobs if self.config.normalize == "mean" else res.logprobs

    def _rank_user(self, user: int, items: np.ndarray) -> np.ndarray:
        p = self.prompts
        task = p.fill("prompt", noun=self.config.noun)
        longest = max((p.fill("continuation", item=t) for t in self.texts(items)), key=len, default="")
        scores = self._item_logprobs(self.history_block(user, task + longest), items)
        if self.config.calibrate:
            scores = scores - self._item_logprobs(task, items)
        return scores


class PointwiseConfig(LLMRankerConfig):
    """Answer a question per candidate; ``score`` = expected value of the answer choices."""

    template: str = Field("yes_no", description="pointwise template: 'yes_no' (P(Yes)) or 'rating' (1-5)")


@MODELS.register("llm-pointwise")
class PointwiseRanker(LLMRanker):
    """Pointwise ranking (TALLRec-style question, zero-shot): ``P(Yes)`` or the expected rating.

    The probabilities are renormalised over the template's answer choices, read from the
    log-probs of each choice after the question (no free-text parsing, always valid).
    """

    Config = PointwiseConfig
    name = "llm-pointwise"
    kind = "pointwise"
    config: PointwiseConfig

    def _rank_user(self, user: int, items: np.ndarray) -> np.ndarray:
        p: PromptSet = self.prompts
        t = p.template
        choices, values = list(t["choices"]), np.asarray(t["values"], dtype=np.float64)
        texts = self.texts(items)
        longest = max(texts, key=len, default="")
        prefix = self.history_block(user, p.fill("prompt", noun=self.config.noun, item=longest) + max(choices, key=len))
        out = np.empty(len(items), np.float64)
        for j, text in enumerate(texts):
            lp = self.generator.score(prefix + p.fill("prompt", noun=self.config.noun, item=text), choices).logprobs
            prob = np.exp(lp - lp.max())
            out[j] = float(values @ (prob / prob.sum()))
        return out
