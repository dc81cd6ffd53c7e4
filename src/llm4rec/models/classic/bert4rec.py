"""BERT4Rec: bidirectional transformer with cloze (masked-item) training (Sun et al., CIKM 2019)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from llm4rec.models.classic._seq import PAD, SequenceConfig, SequenceNet, SequentialRecommender, TransformerEncoder
from llm4rec.registry import MODELS


class BERT4RecConfig(SequenceConfig):
    """BERT4Rec hyper-parameters (sequence and training-loop fields are inherited)."""

    layers: int = Field(2, ge=1)
    heads: int = Field(2, ge=1)
    ff_mult: int = Field(4, ge=1, description="feed-forward width as a multiple of hidden")
    mask_prob: float = Field(0.2, gt=0, le=1, description="share of items replaced by [MASK] in training")
    dropout: float = Field(0.1, ge=0, lt=1)
    patience: int = Field(8, ge=1, description="cloze training makes validation noisier: wait longer")


@MODELS.register("bert4rec")
class BERT4Rec(SequentialRecommender):
    """Bidirectional self-attention trained to recover randomly masked items (CE over the catalog).

    Each epoch draws fresh masks (at least one per window). At inference a
    [MASK] token is appended to the user's last ``max_len - 1`` items and its
    hidden state is scored against the item embeddings.
    """

    Config: ClassVar[type[BERT4RecConfig]] = BERT4RecConfig
    config: BERT4RecConfig
    name: ClassVar[str] = "bert4rec"
    window_overlap: ClassVar[int] = 0  # cloze windows need no input/target shift

    @property
    def _mask_token(self) -> int:
        return self.n_items_ + 1

    def _build_net(self) -> SequenceNet:
        c = self.config
        return TransformerEncoder(self.n_items_, c.max_len, c.hidden, c.layers, c.heads, c.dropout,
                                  causal=False, ff_mult=c.ff_mult, extra_tokens=1)

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        seq = batch[0]
        real = seq != PAD
        masked = real & (torch.rand(seq.shape) < self.config.mask_prob)
        none = ~masked.any(1)
        masked[none, -1] = True  # the last position is always real (windows are right-aligned)
        h = self.net_.encode(seq.masked_fill(masked, self._mask_token))[masked]
        return F.cross_entropy(h @ self.net_.item_weights().T, seq[masked] - 1)

    def _history_tokens(self, users: np.ndarray, length: int | None = None) -> np.ndarray:
        tokens = super()._history_tokens(users, self.config.max_len - 1)
        return np.hstack([tokens, np.full((len(users), 1), self._mask_token, tokens.dtype)])
