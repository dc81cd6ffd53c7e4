"""CTR models with side features (paradigm 2): DCNv2 and DIN, with KAR's knowledge fusion.

Both score a (user, item) pair as a click / like probability: labels are ``rating >=
label_threshold`` of the training interactions (plus ``negatives`` sampled unseen items per
interaction, label 0; needed for implicit data, where every interaction is a positive). Inputs:

- a user ID embedding, an item ID embedding, the user's history (the ``max_len`` items before the
  interaction in training; the last ``max_len`` of the inference history when scoring);
- optional dense side features (:mod:`llm4rec.models.tokens.features`): an item vector (knowledge
  about the item) and a user vector (the user's preference profile), encoded texts turned into
  ``side_dim``-wide augmented vectors by KAR's hybrid-expert adaptor (``adaptor = "kar"``) or a linear
  map (``"linear"``). The item's augmented vector joins its ID embedding wherever the item appears
  (target and history); the user's joins the user ID embedding.

``dcnv2`` (Wang et al., WWW 2021): ``[user, item, mean(history)]`` through full-rank cross layers
and a parallel deep MLP. ``din`` (Zhou et al., KDD 2018): the history pooled by an activation unit
conditioned on the target item, then an MLP over ``[user, item, pooled]``.

Scores are probabilities (sigmoid), so the pointwise protocol reports AUC, GAUC and logloss; under
``llm4rec run`` the models early-stop on validation AUC of the same labels (``validation_request``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.models.base import ModelTags
from llm4rec.models.classic.torch_base import Batch, TorchConfig, TorchRecommender
from llm4rec.models.tokens.features import SideConfig, side_matrices
from llm4rec.models.tokens.layers import (
    CrossNetV2,
    DINAttention,
    HybridExpertAdaptor,
    LinearAdaptor,
    mlp,
    mlp_width,
)
from llm4rec.registry import MODELS

log = logging.getLogger(__name__)

#: floats of the largest (pairs x history x width) tensor one scoring chunk builds
CELLS_PER_CHUNK = 1 << 23


class CTRConfig(TorchConfig, SideConfig):
    """Hyper-parameters shared by the CTR models (training loop: :class:`TorchConfig`; side features:
    :class:`SideConfig`)."""

    epochs: int = Field(20, ge=1)
    batch_size: int = Field(1024, ge=1)
    patience: int = Field(2, ge=1)
    score_batch_size: int = Field(64, ge=1)
    embed_dim: int = Field(16, ge=1, description="ID embedding size")
    max_len: int = Field(20, ge=1, description="history items the model reads")
    label_threshold: float = Field(4.0, description="label = rating >= threshold")
    negatives: int = Field(0, ge=0, description="sampled unseen items per interaction, label 0 (implicit data)")
    mlp: list[int] = Field(default_factory=lambda: [64, 32], description="hidden sizes of the deep part")
    dropout: float = Field(0.1, ge=0, lt=1)
    adaptor: Literal["kar", "linear"] = Field("kar", description="fusion of side vectors: KAR's hybrid experts "
                                                                 "or one linear map per side")
    side_dim: int = Field(16, ge=1, description="width of an augmented (adapted side) vector")
    n_shared_experts: int = Field(2, ge=0)
    n_experts: int = Field(2, ge=0, description="dedicated experts per side")
    expert_hidden: int = Field(64, ge=1)
    val_users: int | None = Field(None, ge=1, description="users of the validation AUC (None: all)")


class _CTRNet(nn.Module):
    """Embeddings, side adaptor and the user / item representations both models share."""

    item_side: torch.Tensor  # buffers (when the side is used): (n_items + 1, D) with a zero padding row
    user_side: torch.Tensor  # (n_users, D)

    def __init__(self, n_users: int, n_items: int, cfg: CTRConfig, item_side: np.ndarray | None,
                 user_side: np.ndarray | None) -> None:
        super().__init__()
        d = cfg.embed_dim
        self.user = nn.Embedding(n_users, d)
        self.item = nn.Embedding(n_items + 1, d, padding_idx=0)  # ids shifted by one, 0 pads histories
        nn.init.normal_(self.user.weight, std=0.05)
        nn.init.normal_(self.item.weight, std=0.05)
        with torch.no_grad():
            self.item.weight[0].zero_()
        sides = [s for s, m in (("item", item_side), ("user", user_side)) if m is not None]
        widths = [m.shape[1] for m in (item_side, user_side) if m is not None]
        if len(set(widths)) > 1:
            raise ConfigError(f"item and user side vectors differ in width {widths}: use one encoder")
        self.adaptor: nn.Module | None = None
        if sides:
            self.adaptor = (HybridExpertAdaptor(widths[0], cfg.side_dim, sides, cfg.n_shared_experts, cfg.n_experts,
                                                cfg.expert_hidden, cfg.dropout) if cfg.adaptor == "kar"
                            else LinearAdaptor(widths[0], cfg.side_dim, sides))
        self.has_item_side, self.has_user_side = item_side is not None, user_side is not None
        if item_side is not None:
            padded = np.concatenate([np.zeros((1, item_side.shape[1]), np.float32), item_side])
            self.register_buffer("item_side", torch.tensor(padded, dtype=torch.float32), persistent=False)
        if user_side is not None:
            self.register_buffer("user_side", torch.tensor(user_side, dtype=torch.float32), persistent=False)
        self.d_item = d + (cfg.side_dim if self.has_item_side else 0)
        self.d_user = d + (cfg.side_dim if self.has_user_side else 0)

    def item_table(self) -> torch.Tensor:
        """Every item's representation ``(n_items + 1, d_item)`` (row 0, the padding, is zero): the adaptor
        runs once per item and forward pass, not once per occurrence in a batch of histories."""
        out = self.item.weight
        if self.has_item_side:
            assert self.adaptor is not None
            aug = self.adaptor(self.item_side, "item")
            aug = torch.cat([torch.zeros_like(aug[:1]), aug[1:]])
            out = torch.cat([out, aug], dim=-1)
        return out

    def user_repr(self, users: torch.Tensor) -> torch.Tensor:
        out = self.user(users)
        if self.has_user_side:
            assert self.adaptor is not None
            out = torch.cat([out, self.adaptor(self.user_side[users], "user")], dim=-1)
        return out

    def forward(self, users: torch.Tensor, items: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, C)`` of ``users`` (B,), candidate ``items`` (B, C, shifted) and ``hist`` (B, L, shifted)."""
        raise NotImplementedError


class _DCNv2Net(_CTRNet):
    def __init__(self, n_users: int, n_items: int, cfg: CTRConfig, item_side: np.ndarray | None,
                 user_side: np.ndarray | None, n_cross: int) -> None:
        super().__init__(n_users, n_items, cfg, item_side, user_side)
        d0 = self.d_user + 2 * self.d_item
        self.cross = CrossNetV2(d0, n_cross)
        self.deep = mlp(d0, cfg.mlp, cfg.dropout)
        self.out = nn.Linear(d0 + mlp_width(d0, cfg.mlp), 1)

    def forward(self, users: torch.Tensor, items: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
        b, c = items.shape
        table = self.item_table()
        h = table[hist]  # (B, L, d)
        mask = (hist != 0).unsqueeze(-1).to(h.dtype)
        pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, d)
        x0 = torch.cat([self.user_repr(users).unsqueeze(1).expand(b, c, -1), table[items],
                        pooled.unsqueeze(1).expand(b, c, -1)], dim=-1)
        logits: torch.Tensor = self.out(torch.cat([self.cross(x0), self.deep(x0)], dim=-1)).squeeze(-1)
        return logits


class _DINNet(_CTRNet):
    def __init__(self, n_users: int, n_items: int, cfg: CTRConfig, item_side: np.ndarray | None,
                 user_side: np.ndarray | None, attention: list[int]) -> None:
        super().__init__(n_users, n_items, cfg, item_side, user_side)
        self.attention = DINAttention(self.d_item, attention)
        d0 = self.d_user + 2 * self.d_item
        self.deep = mlp(d0, cfg.mlp, cfg.dropout, out=1)

    def forward(self, users: torch.Tensor, items: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
        b, c = items.shape
        table = self.item_table()
        target = table[items]  # (B, C, d)
        pooled = self.attention(table[hist], hist != 0, target)
        x = torch.cat([self.user_repr(users).unsqueeze(1).expand(b, c, -1), target, pooled], dim=-1)
        logits: torch.Tensor = self.deep(x).squeeze(-1)
        return logits


def last_items(history: Interactions, max_len: int) -> np.ndarray:
    """``(n_users, max_len)`` int64: each user's last ``max_len`` items, shifted by one, left-padded with 0."""
    out = np.zeros((history.n_users, max_len), np.int64)
    off = history.user_offsets()
    for u in range(history.n_users):
        seq = history.item[max(off[u], off[u + 1] - max_len):off[u + 1]]
        if len(seq):
            out[u, max_len - len(seq):] = seq.astype(np.int64) + 1
    return out


def preceding_items(train: Interactions, max_len: int) -> np.ndarray:
    """``(len(train), max_len)`` int32: for every row the user's ``max_len`` items before it (shifted by one,
    left-padded with 0): the history of a training example, never its own item or later ones."""
    n = len(train)
    off = train.user_offsets()
    first = np.repeat(off[:-1], np.diff(off))
    rows = np.arange(n)
    out = np.zeros((n, max_len), np.int32)
    for j in range(1, max_len + 1):  # column max_len - j holds the item j steps back
        src = rows - j
        ok = src >= first
        out[ok, max_len - j] = train.item[src[ok]].astype(np.int32) + 1
    return out


class CTRRecommender(TorchRecommender):
    """Base of :class:`DCNv2` and :class:`DIN`: labels, examples, side features, batched pair scoring."""

    Config: ClassVar[type[CTRConfig]] = CTRConfig
    config: CTRConfig

    # ------------------------------------------------------------------ side features and data
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        item_side, user_side, self.side_stats_ = side_matrices(train, self.config)
        self.item_side_ = None if item_side is None else np.array(item_side, dtype=np.float32)
        self.user_side_ = None if user_side is None else np.array(user_side, dtype=np.float32)
        super()._fit(train, valid)

    def _on_history(self, history: Interactions) -> None:
        self.hist_ = last_items(history, self.config.max_len)

    def _prepare(self, train: Interactions) -> None:
        cfg = self.config
        implicit = len(train) > 0 and bool(np.all(train.rating == train.rating[0]))
        # an implicit log (one rating value) makes every interaction a positive; negatives then come from sampling
        labels = (np.ones(len(train), np.float32) if implicit
                  else (train.rating >= cfg.label_threshold).astype(np.float32))
        users, items = train.user.astype(np.int64), train.item.astype(np.int64)
        hist_rows = np.arange(len(train))
        if cfg.negatives:
            rng = np.random.default_rng(cfg.seed + 1)
            k = cfg.negatives
            neg = rng.integers(0, train.n_items, size=len(train) * k)
            users = np.concatenate([users, np.repeat(users, k)])
            items = np.concatenate([items, neg])
            labels = np.concatenate([labels, np.zeros(len(neg), np.float32)])
            hist_rows = np.concatenate([hist_rows, np.repeat(hist_rows, k)])
        if labels.min() == labels.max():
            raise ConfigError(f"{self.name}: every training label is {int(labels[0])} (label_threshold "
                              f"{cfg.label_threshold:g} on these ratings); set negatives >= 1 or another threshold")
        self._users, self._items, self._labels = users, items, labels
        self._hist_rows, self._train_hist = hist_rows, preceding_items(train, cfg.max_len)

    def _n_batches(self) -> int:
        return -(-len(self._labels) // self.config.batch_size)

    def _batches(self, rng: np.random.Generator) -> Iterator[Batch]:
        order = rng.permutation(len(self._labels))
        for s in range(0, len(order), self.config.batch_size):
            idx = order[s:s + self.config.batch_size]
            yield (torch.from_numpy(self._users[idx]), torch.from_numpy(self._items[idx] + 1).unsqueeze(1),
                   torch.from_numpy(self._train_hist[self._hist_rows[idx]].astype(np.int64)),
                   torch.from_numpy(self._labels[idx]))

    def _loss(self, batch: Batch) -> torch.Tensor:
        users, items, hist, labels = batch
        logits = self.net_(users, items, hist).squeeze(1)
        return nn.functional.binary_cross_entropy_with_logits(logits, labels)

    # ------------------------------------------------------------------ scoring
    def _pair_scores(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Probabilities of ``users`` x candidate ``items`` (2-D), chunked to bound memory."""
        out = np.empty(items.shape, np.float32)
        width = 4 * getattr(self.net_, "d_item", 1)
        step_items = max(1, CELLS_PER_CHUNK // max(1, len(users) * self.config.max_len * width))
        u = torch.from_numpy(users.astype(np.int64))
        h = torch.from_numpy(self.hist_[users])
        for s in range(0, items.shape[1], step_items):
            cand = torch.from_numpy(items[:, s:s + step_items].astype(np.int64) + 1)
            out[:, s:s + step_items] = torch.sigmoid(self.net_(u, cand, h)).numpy()
        return out

    def _forward_scores(self, users: np.ndarray) -> torch.Tensor:
        items = np.broadcast_to(np.arange(self.n_items_), (len(users), self.n_items_))
        return torch.from_numpy(self._pair_scores(users, items))

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        was_training = self.net_.training
        self.net_.eval()
        out = np.empty(items.shape, np.float32)
        step = self.config.score_batch_size
        with torch.no_grad():
            for i in range(0, len(users), step):
                out[i:i + step] = self._pair_scores(users[i:i + step], items[i:i + step])
        self.net_.train(was_training)
        return out

    # ------------------------------------------------------------------ description and persistence
    def validation_request(self) -> dict[str, Any]:
        """Early stopping on validation AUC of the training labels (read by ``llm4rec run``)."""
        return {"metric": "auc", "label_threshold": self.config.label_threshold, "max_users": self.config.val_users,
                "seed": self.config.seed}

    def tags(self) -> ModelTags:
        return replace(super().tags(), needs_text=self.config.side != "none")

    def costs(self) -> dict[str, float]:
        return {k: float(v) for k, v in getattr(self, "side_stats_", {}).items()}

    def _get_state(self) -> dict[str, np.ndarray]:
        state = super()._get_state()
        for name in ("item_side_", "user_side_"):
            if getattr(self, name, None) is not None:
                state[name.rstrip("_")] = getattr(self, name)
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.item_side_ = np.array(state["item_side"], np.float32) if "item_side" in state else None
        self.user_side_ = np.array(state["user_side"], np.float32) if "user_side" in state else None
        super()._set_state(state)


class DCNv2Config(CTRConfig):
    n_cross: int = Field(2, ge=1, description="cross layers")


@MODELS.register("dcnv2")
class DCNv2(CTRRecommender):
    """Deep & Cross Network V2 over ``[user, item, mean(history)]`` (+ KAR side vectors); see the module."""

    Config: ClassVar[type[DCNv2Config]] = DCNv2Config
    config: DCNv2Config
    name: ClassVar[str] = "dcnv2"

    def _build_net(self) -> nn.Module:
        return _DCNv2Net(self.n_users_, self.n_items_, self.config, self.item_side_, self.user_side_,
                         self.config.n_cross)


class DINConfig(CTRConfig):
    attention: list[int] = Field(default_factory=lambda: [32], description="hidden sizes of the activation unit")


@MODELS.register("din")
class DIN(CTRRecommender):
    """Deep Interest Network: target-conditioned attention over the history (+ KAR side vectors)."""

    Config: ClassVar[type[DINConfig]] = DINConfig
    config: DINConfig
    name: ClassVar[str] = "din"

    def _build_net(self) -> nn.Module:
        return _DINNet(self.n_users_, self.n_items_, self.config, self.item_side_, self.user_side_,
                       self.config.attention)
