"""Retrieve-then-rerank (LlamaRec): any Recommender retrieves the top N, an LLM ranker reorders them.

``score(users)`` (full ranking): the retriever's top ``top_n`` unseen items are reordered by the
LLM and placed above every other item, which keeps the retriever's order below them (all scores
finite). ``score(users, candidates)`` (sampled protocols): the same among the given candidates.
Scores therefore depend on the candidate set (the top N is taken within it): candidate scores
are not a slice of full-catalog scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import Field
from scipy.stats import rankdata

from llm4rec.data.interactions import Interactions
from llm4rec.models.base import ModelConfig, ModelTags, Recommender, mask_rows
from llm4rec.models.llm.base import LLMRanker
from llm4rec.models.registry import make_model
from llm4rec.registry import MODELS


def rerank_top(items: np.ndarray, scores: np.ndarray, pickable: np.ndarray, top_n: int,
               rank: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Scores of ``items`` (one row per user) after reranking each row's top ``top_n``.

    The retriever's ``scores`` are squashed into [-2, -1] per row; the ``top_n`` items with the highest
    ``pickable`` (the retriever's scores, seen items masked; ties: lower column first) are passed, in
    that order, to ``rank(top_items)`` (rows x top_n item ids -> higher is better) and get
    1 + rank / top_n in [1, 2]: above every other item, which keeps the retriever's order below them.
    """
    n = min(top_n, items.shape[1])
    lo, hi = scores.min(axis=1, keepdims=True), scores.max(axis=1, keepdims=True)
    out = (scores - lo) / np.maximum(hi - lo, 1e-12) - 2.0
    if n == 0 or len(items) == 0:
        return out.astype(np.float32)
    top = top_columns(pickable, n)
    llm = np.asarray(rank(np.take_along_axis(items, top, axis=1)))
    ranks = rankdata(llm, axis=1)  # ties (e.g. unnamed items of a listwise ranker) stay tied
    np.put_along_axis(out, top, 1.0 + ranks / n, axis=1)
    return out.astype(np.float32)


def top_columns(pickable: np.ndarray, n: int) -> np.ndarray:
    """Per row, the columns of the ``n`` highest ``pickable`` values, best first (ties: lower column first):
    the items :func:`rerank_top` hands to the LLM, in that order."""
    return np.argsort(-pickable, axis=1, kind="stable")[:, :n]


class RerankConfig(ModelConfig):
    """A retriever and an LLM ranker, each a registered model with its parameters."""

    retriever: str = Field("sasrec", description="registered model that retrieves candidates")
    retriever_params: dict[str, Any] = Field(default_factory=dict)
    ranker: str = Field("llm-likelihood", description="registered LLM ranker that reorders them")
    ranker_params: dict[str, Any] = Field(default_factory=dict)
    top_n: int = Field(20, ge=1, description="items the LLM reorders per user")


@MODELS.register("llm-rerank")
class RerankRecommender(Recommender):
    """``llm-rerank``: retriever top-N, reordered by an LLM ranker (LlamaRec-style two stages)."""

    Config = RerankConfig
    name = "llm-rerank"
    config: RerankConfig

    @classmethod
    def from_models(cls, retriever: Recommender, ranker: LLMRanker, top_n: int = 20) -> RerankRecommender:
        """Combine an already fitted retriever and LLM ranker (no refit), e.g. a trained SASRec."""
        for m in (retriever, ranker):
            m.check_fitted()
        if (retriever.n_users_, retriever.n_items_) != (ranker.n_users_, ranker.n_items_):
            raise ValueError("retriever and ranker are fitted on different id universes")
        model = cls(retriever=retriever.name, retriever_params=retriever.config.model_dump(),
                    ranker=ranker.name, ranker_params=ranker.config.model_dump(), top_n=top_n)
        model.retriever_, model.ranker_ = retriever, ranker
        model.n_users_, model.n_items_ = retriever.n_users_, retriever.n_items_
        model.set_history(ranker.history_log_)
        return model

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        c = self.config
        self.retriever_ = make_model(c.retriever, c.retriever_params).fit(train, valid, self.training_options)
        self.ranker_ = make_model(c.ranker, c.ranker_params)
        if not isinstance(self.ranker_, LLMRanker):
            raise TypeError(f"ranker {c.ranker!r} is not an LLM ranker")
        self.ranker_.fit(train, valid, self.training_options)

    def _on_history(self, history: Interactions) -> None:
        for sub in (self.retriever_, self.ranker_):
            if getattr(sub, "history_log_", None) is not history:
                sub.set_history(history)

    def _score(self, users: np.ndarray) -> np.ndarray:
        scores = np.asarray(self.retriever_.score(users), dtype=np.float64)
        pickable = scores.copy()
        mask_rows(pickable, self.history_, users)  # never spend the LLM on seen items
        return self._rerank(users, np.broadcast_to(np.arange(self.n_items_), scores.shape), scores, pickable)

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        scores = np.asarray(self.retriever_.score(users, items), dtype=np.float64)
        return self._rerank(users, items, scores, scores)

    def _rerank(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray, pickable: np.ndarray
                ) -> np.ndarray:
        return rerank_top(items, scores, pickable, self.config.top_n, lambda top: self.ranker_.score(users, top))

    _SUBS = (("retriever_", "retriever"), ("ranker_", "ranker"))

    def _get_state(self) -> dict[str, np.ndarray]:
        """Both stages' states, as arrays (no pickles) under prefixed keys; their models and
        parameters are the config's (registered names), so loading imports nothing a file names."""
        state: dict[str, np.ndarray] = {}
        for attr, _ in self._SUBS:
            sub: Recommender = getattr(self, attr)
            state.update({f"{attr}.{k}": v for k, v in sub.state_dict().items()})
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        """Each stage rebuilt by its public ``from_state``; its history is set with this model's."""
        c = self.config
        for attr, field in self._SUBS:
            blank = make_model(getattr(c, field), getattr(c, f"{field}_params"))
            sub = type(blank).from_state(blank.config, {k[len(attr) + 1:]: v for k, v in state.items()
                                                        if k.startswith(f"{attr}.")},
                                         n_users=self.n_users_, n_items=self.n_items_)
            setattr(self, attr, sub)
        if not isinstance(self.ranker_, LLMRanker):
            raise ValueError(f"ranker {c.ranker!r} is not an LLM ranker")

    def tags(self) -> ModelTags:
        stages = (self.retriever_.tags(), self.ranker_.tags()) if hasattr(self, "ranker_") else ()
        return replace(super().tags(), candidate_dependent=True, explains=True,
                       deterministic=all(t.deterministic for t in stages),
                       needs_text=any(t.needs_text for t in stages),
                       uses_generator=any(t.uses_generator for t in stages) or not stages,
                       scores_from_history=bool(stages) and all(t.scores_from_history for t in stages))

    def costs(self) -> dict[str, float]:
        return self.ranker_.costs()

    def explain(self, user: int, item: int) -> str:
        return self.ranker_.explain(user, item)
