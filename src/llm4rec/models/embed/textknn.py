"""Zero-shot text KNN: rank items by the similarity of their text embedding to the user's history.

No training: the catalog is encoded once (by any :mod:`llm4rec.lm` encoder) and
a user is represented by the (optionally recency-weighted) mean of the
embeddings of their last ``max_history`` items, or scored by the maximum
similarity of a candidate to any of those items (``pooling = "max"``). Because
only text is used, items never seen in training (cold items) are scored like
any other.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.models.base import Recommender
from llm4rec.models.embed.text import TextConfig, TextFeatures, history_matrix
from llm4rec.registry import MODELS


class TextKNNConfig(TextConfig):
    """Pooling of the history embeddings into a user score."""

    pooling: Literal["mean", "recency", "max"] = Field(
        "mean", description="mean: cosine to the mean history embedding; recency: mean weighted "
                            "0.5**(age/half_life); max: max cosine to any history item")
    half_life: float = Field(10.0, gt=0, description="recency pooling: items until a weight halves")
    max_history: int = Field(50, ge=0, description="most recent history items used (0: all)")


@MODELS.register("textknn")
class TextKNN(TextFeatures, Recommender):
    """User-to-item (or item-to-item, ``max``) cosine similarity in a frozen encoder's space."""

    Config: ClassVar[type[TextKNNConfig]] = TextKNNConfig
    config: TextKNNConfig
    name: ClassVar[str] = "textknn"

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        self._encode_items(train)

    def _on_history(self, history: Interactions) -> None:
        c = self.config
        if c.pooling == "max":
            self._offsets = history.user_offsets()
            self._items = history.item.astype(np.int64)
            return
        w = history_matrix(history, c.max_history, c.pooling, c.half_life)
        self.user_emb_ = np.asarray(w @ self.item_text_, dtype=np.float32)

    def query_vectors(self, users: np.ndarray) -> np.ndarray:
        """Pooled user embeddings (``score = query_vectors @ item_vectors().T``; not for ``max`` pooling)."""
        return self.user_emb_[users]

    def item_vectors(self) -> np.ndarray:
        """The catalog embeddings; no columns under ``max`` pooling (not an inner-product scorer)."""
        return self.item_text_ if self.config.pooling != "max" else self.item_text_[:, :0]

    def _score(self, users: np.ndarray) -> np.ndarray:
        if self.config.pooling != "max":
            return self.user_emb_[users] @ self.item_text_.T
        out = np.zeros((len(users), self.n_items_), np.float32)
        for row, u in enumerate(users):
            lo, hi = self._offsets[u], self._offsets[u + 1]
            if self.config.max_history:
                lo = max(lo, hi - self.config.max_history)
            if hi > lo:
                out[row] = (self.item_text_[self._items[lo:hi]] @ self.item_text_.T).max(axis=0)
        return out

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        if self.config.pooling == "max":
            return super()._score_items(users, items)
        return np.einsum("ud,ucd->uc", self.user_emb_[users], self.item_text_[items])
