"""Content-based popularity: how popular an item's text says it is (a cold-start baseline).

A ridge regression from the frozen text embedding of an item to ``log(1 + its training
interactions)``, fitted on the items seen in training, scores every item -- seen or not --
by its predicted popularity, the same list for every user. It separates what a text model
gains on cold items from personalisation from what text alone says about popularity
(release year, genre, a famous title).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.models.classic.pop import Pop
from llm4rec.models.embed.text import TextConfig, TextFeatures
from llm4rec.registry import MODELS


class TextPopConfig(TextConfig):
    """The encoder (see :class:`TextConfig`) and the ridge penalty."""

    alpha: float = Field(1.0, gt=0, description="ridge penalty of the text -> log-popularity regression")


@MODELS.register("textpop")
class TextPop(TextFeatures, Pop):
    """Pop whose counts are predicted from item text for every item (non-personalised)."""

    Config: ClassVar[type[TextPopConfig]] = TextPopConfig  # type: ignore[assignment]
    config: TextPopConfig
    name: ClassVar[str] = "textpop"

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        x = self._encode_items(train).astype(np.float64)
        counts = train.item_counts()
        seen = counts > 0
        y = np.log1p(counts[seen].astype(np.float64))
        x_mean, y_mean = x[seen].mean(axis=0), y.mean()
        xc = x[seen] - x_mean
        w = np.linalg.solve(xc.T @ xc + self.config.alpha * np.eye(x.shape[1]), xc.T @ (y - y_mean))
        self.popularity_ = ((x - x_mean) @ w + y_mean).astype(np.float32)
