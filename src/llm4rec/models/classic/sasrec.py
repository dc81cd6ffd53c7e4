"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018)."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from llm4rec.models.classic._seq import SequenceConfig, SequenceNet, SequentialRecommender, TransformerEncoder
from llm4rec.registry import MODELS


class SASRecConfig(SequenceConfig):
    """SASRec hyper-parameters (sequence and training-loop fields are inherited)."""

    layers: int = Field(2, ge=1)
    heads: int = Field(1, ge=1)
    ff_mult: int = Field(1, ge=1, description="feed-forward width as a multiple of hidden")
    loss: Literal["ce", "bce"] = Field("ce", description="ce: full softmax over items; "
                                                         "bce: one uniform negative per position (paper)")


@MODELS.register("sasrec")
class SASRec(SequentialRecommender):
    """Causal self-attention over a user's last ``max_len`` items; score = last hidden state . item embedding.

    Trained next-item style on every position of every training window
    (inputs ``s[:-1]``, targets ``s[1:]``).
    """

    Config: ClassVar[type[SASRecConfig]] = SASRecConfig
    config: SASRecConfig
    name: ClassVar[str] = "sasrec"

    def _build_net(self) -> SequenceNet:
        c = self.config
        return TransformerEncoder(self.n_items_, c.max_len, c.hidden, c.layers, c.heads, c.dropout,
                                  causal=True, ff_mult=c.ff_mult)

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self._next_item_loss(batch[0], self.config.loss)
