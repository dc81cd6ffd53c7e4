"""Non-personalised baselines: most popular items, and uniform random scores."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from llm4rec.data.interactions import Interactions
from llm4rec.models.base import ModelConfig, ModelTags, Recommender
from llm4rec.registry import MODELS


class PopConfig(ModelConfig):
    """Popularity counted over the training interactions."""


@MODELS.register("pop")
class Pop(Recommender):
    """Scores every item by its number of training interactions (the same list for every user)."""

    Config = PopConfig
    name = "pop"

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        counts = train.item_counts().astype(np.float32)
        self.popularity_ = counts / max(1.0, float(counts.max()))

    def tags(self) -> ModelTags:
        return replace(super().tags(), scores_from_history=True)  # the same list for everyone

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(users), self.n_items_)).copy()

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.popularity_[items]

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.popularity_ = state["popularity"]


class RandomConfig(ModelConfig):
    """Random scores, fixed by ``seed`` for each (user, item) pair."""


@MODELS.register("random")
class Random(Recommender):
    """Uniform random scores: a (user, item) pair always gets the same score for a seed."""

    Config = RandomConfig
    name = "random"

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        pass

    def _hash(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Stateless hash of (seed, user, item) -> [0, 1): batch and single calls agree, nothing to store."""
        x = (users.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
             ^ items.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9) ^ np.uint64(self.config.seed))
        x ^= x >> np.uint64(31)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(29)
        return (x >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)

    def tags(self) -> ModelTags:
        return replace(super().tags(), scores_from_history=True)  # no user state: any history scores alike

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._hash(users[:, None], np.arange(self.n_items_)[None, :])

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._hash(users[:, None], items)
