"""UniSRec-style text-based sequential recommender (Hou et al., "Towards Universal Sequence
Representation Learning for Recommender Systems", KDD 2022).

Items are frozen text embeddings passed through parametric whitening and a
mixture-of-experts adaptor (:class:`~llm4rec.models.embed.layers.MoEAdaptor`),
optionally plus an item-ID embedding (``item_repr = "both"``, the transductive
setting); ``item_repr = "text"`` is the inductive setting: no item IDs, so the
model scores items it never saw and transfers across catalogs. The sequence
encoder is SASRec's causal transformer
(:class:`~llm4rec.models.classic.sequential.TransformerEncoder`), the loss SASRec's
next-item loss over the tied item table; with ``cosine`` (default), sequence and
item vectors are L2-normalised and logits are cosine / temperature (as in UniSRec).

Transfer: ``pretrained`` names a folder written by :meth:`Recommender.save` of
a UniSRec fitted on another dataset (same encoder, ``hidden``, ``layers``,
``heads``, ``max_len``, ``n_experts``). Its adaptor and transformer weights
initialise this model (item-ID embeddings are never transferred);
``finetune = "adaptor"`` then trains only the item side (adaptor and IDs), as
UniSRec's parameter-efficient fine-tuning does; ``"none"`` trains nothing
(zero-shot transfer to the new catalog).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.models.classic.sasrec import SASRec, SASRecConfig
from llm4rec.models.classic.sequential import PAD, SequenceNet, TransformerEncoder
from llm4rec.models.embed.layers import ItemTable, MoEAdaptor
from llm4rec.models.embed.text import TextConfig, TextFeatures
from llm4rec.models.training import Validator
from llm4rec.registry import MODELS

log = logging.getLogger(__name__)


class UniSRecConfig(SASRecConfig, TextConfig):
    """SASRec fields plus the text adaptor and transfer settings."""

    item_repr: Literal["text", "both"] = Field(
        "text", description="text: adaptor(text) only (inductive, transferable); both: + item-ID embedding")
    id_dropout: float = Field(0.0, ge=0, lt=1, description="item_repr both: share of items whose ID part is "
                                                         "dropped per training step (text must rank alone)")
    n_experts: int = Field(8, ge=1, description="MoE adaptor experts (parametric whitening each)")
    adaptor_dropout: float = Field(0.2, ge=0, lt=1, description="dropout on the text embedding")
    cosine: bool = Field(True, description="L2-normalise sequence and item vectors; logits = cosine / temperature")
    temperature: float = Field(0.07, gt=0, description="softmax temperature of the cosine logits")
    pretrained: str | None = Field(None, description="folder of a saved UniSRec to initialise from (transfer)")
    finetune: Literal["all", "adaptor", "none"] = Field(
        "all", description="with `pretrained`: train everything, only the item side (adaptor, IDs), "
                           "or nothing (zero-shot transfer)")
    negatives: Literal["train", "all"] = Field(
        "train", description="negatives of the next-item loss: items seen in training only (an item that "
                             "arrives later is never pushed down before it exists), or the whole catalog")
    hidden: int = 64
    max_len: int = 50
    epochs: int = 50
    eval_steps: int = 0  # validate every epoch (the transfer benchmarks were measured so)


class _TextTransformer(TransformerEncoder):
    """SASRec's encoder whose item table is :class:`ItemTable` over text (token 0 stays padding)."""

    def __init__(self, text: np.ndarray, c: UniSRecConfig) -> None:
        n_items = len(text)
        super().__init__(n_items, c.max_len, c.hidden, c.layers, c.heads, c.dropout, causal=True,
                         ff_mult=c.ff_mult)
        ids = None
        if c.item_repr == "both":
            ids = nn.Embedding(n_items + 1, c.hidden, padding_idx=PAD)
            nn.init.zeros_(ids.weight)  # an item starts at (and, never trained, stays at) its text vector
        self.item = ItemTable(text, MoEAdaptor(text.shape[1], c.hidden, c.n_experts, c.adaptor_dropout), ids,
                              pad=True, id_dropout=c.id_dropout)
        self.inv_sqrt_t = 1.0 / math.sqrt(c.temperature) if c.cosine else None

    def _out(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.inv_sqrt_t is None else F.normalize(x, dim=-1) * self.inv_sqrt_t

    def encode(self, seq: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        return self._out(super().encode(seq, last_only))

    def item_weights(self) -> torch.Tensor:
        return self._out(super().item_weights())


@MODELS.register("unisrec")
class UniSRec(TextFeatures, SASRec):
    """Text (+ID) item vectors through a MoE adaptor, encoded by SASRec's causal transformer."""

    Config: ClassVar[type[UniSRecConfig]] = UniSRecConfig
    config: UniSRecConfig
    name: ClassVar[str] = "unisrec"

    #: parameters that never transfer between datasets (per-item IDs of the source catalog)
    _local_prefixes: ClassVar[tuple[str, ...]] = ("item.ids.",)

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        if self.config.pretrained:
            self._check_source(Path(self.config.pretrained))
        self._encode_items(train)
        super()._fit(train, valid)

    def _build_net(self) -> SequenceNet:
        return _TextTransformer(self.item_text_, self.config)

    def _prepare(self, train: Interactions) -> None:
        if self.config.pretrained:
            self._load_pretrained(Path(self.config.pretrained))
        super()._prepare(train)
        if self.config.negatives == "train":
            self._negative_pool = torch.from_numpy(np.flatnonzero(train.item_counts() > 0))

    def _check_source(self, folder: Path) -> None:
        """The source model must exist and share this model's encoder (the same text space)."""
        if not (folder / "state.npz").exists():
            raise ConfigError(f"pretrained model folder {folder} holds no saved model (state.npz)")
        source = UniSRecConfig.load(folder / "config.toml")
        if _identity(source.encoder) != _identity(self.config.encoder):
            raise ConfigError(f"pretrained model {folder} used encoder {source.encoder!r}; this one uses "
                              f"{self.config.encoder!r} -- their text spaces differ")

    def _load_pretrained(self, folder: Path) -> None:
        """Copy the source model's transferable weights into ``net_``; freeze per ``finetune``."""
        with np.load(folder / "state.npz", allow_pickle=False) as z:
            weights = {k[len("state.net."):]: torch.from_numpy(z[k]) for k in z.files
                       if k.startswith("state.net.")}
        own = self.net_.state_dict()
        moved = {k: v for k, v in weights.items() if not k.startswith(self._local_prefixes)}
        bad = [k for k, v in moved.items() if k not in own or own[k].shape != v.shape]
        if bad:
            raise ConfigError(f"pretrained model {folder} does not fit this architecture (mismatched: {bad[:4]}); "
                              "use the same hidden, layers, heads, ff_mult, max_len and n_experts")
        self.net_.load_state_dict(moved, strict=False)
        log.info("unisrec: initialised %d tensors from %s", len(moved), folder)
        if self.config.finetune != "all":
            for name, p in self.net_.named_parameters():
                p.requires_grad_(self.config.finetune == "adaptor" and name.startswith("item."))

    def _train_loop(self, rng: np.random.Generator, validator: Validator | None) -> None:
        if self.config.pretrained and self.config.finetune == "none":  # zero-shot: keep the source weights
            self.fit_log_, self.best_epoch_ = [], 0
            return
        super()._train_loop(rng, validator)

    def n_trainable(self) -> int:
        """Parameters updated by the last fit (for cost tables)."""
        return sum(p.numel() for p in self.net_.parameters() if p.requires_grad)


def _identity(encoder: object) -> dict[str, object]:
    """The encoder settings that change embeddings (not caching, batching or device)."""
    dump = encoder.model_dump()  # type: ignore[attr-defined]
    return {k: v for k, v in dump.items()
            if k not in ("cache_mode", "cache_path", "price", "batch_size", "device")}
