"""MINT-style query generation: the LLM summarises the history into a natural-language query and a
sentence encoder retrieves catalog items for it (cosine similarity).

One generation per user and one encoding of the catalog make full-catalog scoring cheap, so this
model supports ``score(users)`` directly (``full_catalog`` does not apply). Generated queries are
kept in ``queries_`` (per user, for inspection); an empty generation falls back to the titles.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from llm4rec.data.interactions import Interactions
from llm4rec.models.base import ModelTags
from llm4rec.models.llm.backends import DEFAULT_ENCODER, check_encoder_spec, get_encoder
from llm4rec.models.llm.base import LLMRanker, LLMRankerConfig
from llm4rec.registry import MODELS


class QueryConfig(LLMRankerConfig):
    encoder: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_ENCODER),
                                    description="encoder block for queries and items")
    query_tokens: int = Field(32, ge=4, description="length of the generated query")

    @field_validator("encoder")
    @classmethod
    def _check_encoder(cls, v: dict[str, Any]) -> dict[str, Any]:
        check_encoder_spec(v)
        return v


@MODELS.register("llm-query")
class QueryRecommender(LLMRanker):
    """``llm-query``: LLM-written query, encoder retrieval."""

    Config = QueryConfig
    name = "llm-query"
    kind = "query"
    config: QueryConfig

    def tags(self) -> ModelTags:
        return replace(super().tags(), candidates_only=False)  # one generation per user scores the catalog

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        super()._fit(train, valid)
        self.item_vecs_ = get_encoder(self.config.encoder).encode(list(self.item_full_))

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**super()._get_state(), "item_vecs": self.item_vecs_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        super()._set_state(state)
        self.item_vecs_ = state["item_vecs"]

    def query(self, user: int) -> str:
        """The generated query of ``user`` (cached by the backend)."""
        c = self.config
        items = "\n".join(f"- {t}" for t in self.texts(self.history_items(user)))
        text = self.generator.chat(self.prompts.messages(noun=c.noun, items=items), max_tokens=c.query_tokens)
        text = " ".join(text.split()).strip("\"' ")
        self.count("queries")
        if not text:
            self.count("empty_queries")
            text = "; ".join(self.texts(self.history_items(user)))
        self.__dict__.setdefault("queries_", {})[int(user)] = text
        return text

    def _user_vecs(self, users: np.ndarray) -> np.ndarray:
        with self.track(len(users)):
            queries = [self.query(int(u)) for u in users]
        if not queries:
            return np.zeros((0, self.item_vecs_.shape[1]), np.float32)
        return get_encoder(self.config.encoder).encode(queries)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._user_vecs(users) @ self.item_vecs_.T

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        q = self._user_vecs(users)
        return np.einsum("ud,ukd->uk", q, self.item_vecs_[items]) if len(users) else np.zeros(items.shape)

    def extra_metrics(self) -> dict[str, float]:
        s = self.__dict__.get("stats_", {})
        return {"empty_query_rate": s.get("empty_queries", 0.0) / max(1.0, s.get("queries", 0.0))}
