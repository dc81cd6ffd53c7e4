"""GRU4Rec: session-based recommendation with recurrent neural networks (Hidasi et al., 2016)."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from llm4rec.models.classic._seq import PAD, SequenceConfig, SequenceNet, SequentialRecommender
from llm4rec.registry import MODELS


class GRU4RecConfig(SequenceConfig):
    """GRU4Rec hyper-parameters (sequence and training-loop fields are inherited)."""

    layers: int = Field(1, ge=1)
    loss: Literal["ce", "bpr"] = Field("ce", description="ce: full softmax over items; bpr: plain BPR "
                                                         "against n_negatives uniform negatives")
    n_negatives: int = Field(64, ge=1, description="uniform negatives per position for loss='bpr'")
    lr: float = Field(5e-3, gt=0)


class _GRUNet(SequenceNet):
    def __init__(self, n_items: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.n_items = n_items
        self.item = nn.Embedding(n_items + 1, hidden, padding_idx=PAD)
        self.drop = nn.Dropout(dropout)
        self.gru = nn.GRU(hidden, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        nn.init.normal_(self.item.weight, std=0.02)
        with torch.no_grad():
            self.item.weight[PAD].zero_()

    def item_weights(self) -> torch.Tensor:
        return self.item.weight[1:self.n_items + 1]

    def encode(self, seq: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        out, _ = self.gru(self.drop(self.item(seq)))
        return self.drop(out[:, -1:] if last_only else out)

    forward = encode


@MODELS.register("gru4rec")
class GRU4Rec(SequentialRecommender):
    """A GRU over the user's last ``max_len`` items; score = last hidden state . item embedding (tied).

    Trained next-item style on every position (inputs ``s[:-1]``, targets
    ``s[1:]``). Unlike the session-parallel mini-batches of the paper, users'
    sequences are left-padded windows; the padding prefix (zero embeddings)
    only shifts the initial GRU state. ``loss="bpr"`` is plain BPR averaged
    over ``n_negatives`` uniform negatives (not BPR-max).
    """

    Config: ClassVar[type[GRU4RecConfig]] = GRU4RecConfig
    config: GRU4RecConfig
    name: ClassVar[str] = "gru4rec"

    def _build_net(self) -> SequenceNet:
        c = self.config
        return _GRUNet(self.n_items_, c.hidden, c.layers, c.dropout)

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self._next_item_loss(batch[0], self.config.loss, self.config.n_negatives)
