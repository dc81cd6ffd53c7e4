"""Text-feature matrix factorisation: BPR-MF whose item vectors come from text, IDs, or both.

``item_repr = "id"`` is plain BPR-MF (no encoder is loaded), ``"text"`` makes
each item vector (and bias) a learned linear projection of the item's frozen
text embedding -- so items never seen in training get a meaningful vector --
and ``"both"`` adds a per-item ID embedding (initialised at zero, so an unseen
item falls back to its text vector). Everything else (loss, sampling, early
stopping, persistence) is :class:`~llm4rec.models.classic.bpr.BPRMF`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field
from torch import nn

from llm4rec.data.interactions import Interactions
from llm4rec.models.classic.bpr import BPRMF, BPRConfig
from llm4rec.models.embed.layers import ItemTable
from llm4rec.models.embed.text import TextConfig, TextFeatures
from llm4rec.registry import MODELS


class TextMFConfig(BPRConfig, TextConfig):
    """BPR-MF fields plus the item representation and the text encoder."""

    item_repr: Literal["id", "text", "both"] = Field(
        "both", description="id: ID embedding (plain BPR-MF); text: projection of the text embedding; "
                            "both: their sum")
    id_dropout: float = Field(0.0, ge=0, lt=1, description="item_repr both: share of items whose ID part is "
                                                         "dropped per training step (text must rank alone)")
    # TextMF keeps the BPR-MF settings its results were measured with (BPR-MF's changed in issue 16)
    reg: float = Field(1e-4, ge=0, description="L2 penalty on the embeddings of each (u, i, j) triple")
    eval_every: int = Field(5, ge=1)
    patience: int = Field(4, ge=1)
    negatives: Literal["train", "all"] = Field(
        "train", description="draw negatives among items seen in training (train) or the whole catalog")


@MODELS.register("textmf")
class TextMF(TextFeatures, BPRMF):
    """``score(u, i) = p_u . q_i + b_i`` with ``q_i = W t_i`` (text), ``e_i`` (ID) or ``W t_i + e_i``."""

    Config: ClassVar[type[TextMFConfig]] = TextMFConfig
    config: TextMFConfig
    name: ClassVar[str] = "textmf"

    @property
    def uses_text(self) -> bool:  # type: ignore[override]
        return self.config.item_repr != "id"

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        self._encode_items(train)
        super()._fit(train, valid)

    def _build_net(self) -> nn.Module:
        net = super()._build_net()
        c, text = self.config, self.item_text_
        use_text, use_ids = c.item_repr != "id", c.item_repr != "text"
        ids: nn.Embedding | None = None
        bias_ids: nn.Embedding | None = None
        if use_ids:
            item, bias = net.item, net.bias  # BPR's initialisation (random vectors, zero biases)
            assert isinstance(item, nn.Embedding) and isinstance(bias, nn.Embedding)
            ids, bias_ids = item, bias
            if use_text:
                nn.init.zeros_(ids.weight)  # "both": an item starts at (and, unseen, stays at) its text vector
        net.item = ItemTable(text, nn.Linear(text.shape[1], c.factors, bias=False) if use_text else None, ids,
                             id_dropout=c.id_dropout)
        net.bias = ItemTable(text, nn.Linear(text.shape[1], 1, bias=False) if use_text else None, bias_ids,
                             id_dropout=c.id_dropout)
        return net

    def _prepare(self, train: Interactions) -> None:
        super()._prepare(train)
        self._in_train = train.item_counts() > 0

    def _sample_negatives(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """BPR's unseen-item draws, redrawn (rejection) until they are items seen in training."""
        neg = super()._sample_negatives(users, rng)
        if self.config.negatives == "all":
            return neg
        for _ in range(20):
            bad = np.flatnonzero(~self._in_train[neg])
            if not len(bad):
                break
            neg[bad] = super()._sample_negatives(users[bad], rng)
        return neg
