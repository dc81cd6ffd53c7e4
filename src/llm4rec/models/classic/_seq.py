"""Shared code of the sequential models (SASRec, BERT4Rec, GRU4Rec).

Item ids are shifted by +1 inside the networks: token 0 is padding (and
BERT4Rec's mask token is ``n_items + 1``). Sequences are left-padded to a
fixed length so the most recent item is always the last position.

* :class:`SequentialRecommender` reads inference-time sequences from
  ``_on_history`` (train after fit, train + valid after ``set_history``),
  cuts training sequences into windows and scores a user by the last hidden
  state against the (tied) item embeddings.
* :class:`TransformerEncoder` is the self-attention stack of SASRec (causal)
  and BERT4Rec (bidirectional).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterator
from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from llm4rec.data.interactions import Interactions
from llm4rec.models.classic._torch import Batch, TorchConfig, TorchRecommender, minibatches

PAD = 0


class SequenceConfig(TorchConfig):
    """Fields shared by the sequential models."""

    max_len: int = Field(50, ge=1, description="most recent items a user is represented by")
    hidden: int = Field(64, ge=1, description="embedding / hidden size")
    dropout: float = Field(0.2, ge=0, lt=1)
    all_windows: bool = Field(True, description="train on every max_len window of a long sequence, "
                                                "not only the most recent one")
    epochs: int = Field(200, ge=1, description="maximum passes: a cap, not the budget (early stopping ends "
                                               "training; a WARNING says when the cap cut a still-rising run)")
    eval_steps: int = Field(30, ge=0, description="validations at least this many optimiser steps apart, so "
                                                  "small data (few batches per epoch) gets a patience of "
                                                  "several epochs")


# ---------------------------------------------------------------------- sequence batching
def window_bounds(offsets: np.ndarray, size: int, overlap: int, min_len: int,
                  all_windows: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of training windows over a flat, user-sorted token array.

    Windows of at most ``size`` tokens are cut from the end of each user's
    sequence backwards, consecutive windows sharing ``overlap`` tokens
    (``overlap=1`` for next-item targets, so every target keeps its input).
    Sequences shorter than ``min_len`` give no window.
    """
    starts, ends = [], []
    stride = size - overlap
    for lo, hi in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
        if hi - lo < min_len:
            continue
        end = hi
        while True:
            start = max(lo, end - size)
            starts.append(start)
            ends.append(end)
            if start == lo or not all_windows or end - stride - lo < min_len:
                break
            end -= stride
    return np.asarray(starts, np.int64), np.asarray(ends, np.int64)


def gather_left_padded(tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """``(len(starts), length)`` matrix of ``tokens[start:end]`` right-aligned, left-padded with 0."""
    idx = ends[:, None] - length + np.arange(length)
    valid = idx >= starts[:, None]
    return np.where(valid, tokens[np.clip(idx, 0, max(len(tokens) - 1, 0))] if len(tokens) else PAD, PAD)


# ---------------------------------------------------------------------- transformer
class TransformerBlock(nn.Module):
    """Pre-layer-norm block: multi-head self-attention and a GELU feed-forward, each with a residual."""

    def __init__(self, hidden: int, heads: int, dropout: float, ff_mult: int) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
        self.heads, self.dropout = heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.ff = nn.Sequential(nn.Linear(hidden, ff_mult * hidden), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(ff_mult * hidden, hidden))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """``(B, L, H) -> (B, L, H)``; ``last_only``: only the last position's output ``(B, 1, H)``
        (keys and values still come from every position; queries, projection and feed-forward
        run once per row instead of ``L`` times)."""
        b, n, h = x.shape
        y, dh = self.norm1(x), h // self.heads
        if last_only:
            w, bias = self.qkv.weight, self.qkv.bias
            q = F.linear(y[:, -1:], w[:h], bias[:h]).view(b, 1, self.heads, dh).transpose(1, 2)
            k, v = F.linear(y, w[h:], bias[h:]).view(b, n, 2, self.heads, dh).permute(2, 0, 3, 1, 4)
            keep, x, n = keep[..., -1:, :], x[:, -1:], 1
        else:
            q, k, v = self.qkv(y).view(b, n, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=keep,
                                             dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.out(att.transpose(1, 2).reshape(b, n, h)))
        return x + self.drop(self.ff(self.norm2(x)))


class SequenceNet(nn.Module):
    """What :class:`SequentialRecommender` needs from its network (subclasses implement both)."""

    def encode(self, seq: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """Hidden states ``(B, L, H)`` of a left-padded token matrix ``(B, L)`` (``last_only``: ``(B, 1, H)``)."""
        raise NotImplementedError

    def item_weights(self) -> torch.Tensor:
        """Output vectors of the catalog items, ``(n_items, H)``."""
        raise NotImplementedError


class TransformerEncoder(SequenceNet):
    """Item + learned positional embeddings, a stack of :class:`TransformerBlock` and a final layer norm.

    ``causal=True`` lets position ``t`` attend to positions ``<= t`` (SASRec),
    ``False`` to the whole sequence (BERT4Rec). Padding keys are masked; every
    position may attend to itself, so all-padding rows stay finite.
    """

    def __init__(self, n_items: int, max_len: int, hidden: int, layers: int, heads: int, dropout: float,
                 causal: bool, ff_mult: int = 4, extra_tokens: int = 0) -> None:
        super().__init__()
        self.n_items = n_items
        item = nn.Embedding(n_items + 1 + extra_tokens, hidden, padding_idx=PAD)
        #: the input (and tied output) item table: an embedding here, a text-based table in UniSRec
        self.item: nn.Module = item
        self.pos = nn.Embedding(max_len, hidden)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(TransformerBlock(hidden, heads, dropout, ff_mult) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        self.causal, self.max_len, self.scale = causal, max_len, math.sqrt(hidden)
        nn.init.normal_(item.weight, std=0.02)
        nn.init.normal_(self.pos.weight, std=0.02)
        with torch.no_grad():
            item.weight[PAD].zero_()

    def item_weights(self) -> torch.Tensor:
        """Output embeddings of the catalog items (tied to the input embeddings), ``(n_items, hidden)``."""
        weight = self.item.weight
        assert isinstance(weight, torch.Tensor)  # the embedding's parameter, or the text table's rows
        return weight[1:self.n_items + 1]

    def encode(self, seq: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """Hidden states ``(B, L, hidden)`` of a left-padded token matrix ``(B, L)``, ``L <= max_len``;
        ``last_only``: only the last position's, ``(B, 1, hidden)`` (cheaper; for scoring)."""
        n = seq.shape[1]
        x = self.item(seq) * self.scale + self.pos.weight[self.max_len - n:]
        x = self.drop(x)
        keep = (seq != PAD)[:, None, None, :]
        eye = torch.eye(n, dtype=torch.bool, device=seq.device)
        if self.causal:
            keep = keep & torch.ones(n, n, dtype=torch.bool, device=seq.device).tril()
        keep = keep | eye
        for i, block in enumerate(self.blocks):
            x = block(x, keep, last_only=last_only and i == len(self.blocks) - 1)
        return self.norm(x)

    forward = encode


# ---------------------------------------------------------------------- base model
class SequentialRecommender(TorchRecommender):
    """Base of the sequential models: history sequences, training windows, last-position scoring.

    Subclasses build a :class:`SequenceNet` (``encode(tokens) -> (B, L, H)``,
    ``item_weights() -> (n_items, H)``) and define ``_loss``.
    """

    config: SequenceConfig
    net_: SequenceNet

    @abstractmethod
    def _build_net(self) -> SequenceNet: ...
    window_overlap: ClassVar[int] = 1  # next-item models: inputs s[:-1], targets s[1:]
    #: item indices that may serve as negatives in ``_next_item_loss`` (None: the whole catalog)
    _negative_pool: torch.Tensor | None = None

    @property
    def _window_size(self) -> int:
        return self.config.max_len + self.window_overlap

    def _on_history(self, history: Interactions) -> None:
        # the base class persists the time-ordered log, so this is time-ordered after load() too
        self._hist_tokens, self._hist_offsets = history.item.astype(np.int64) + 1, history.user_offsets()

    def _prepare(self, train: Interactions) -> None:
        self._train_tokens = train.item.astype(np.int64) + 1
        self._starts, self._ends = window_bounds(train.user_offsets(), self._window_size, self.window_overlap,
                                                 1 + self.window_overlap, self.config.all_windows)

    def _n_batches(self) -> int:
        return -(-len(self._starts) // self.config.batch_size)

    def _batches(self, rng: np.random.Generator) -> Iterator[Batch]:
        for idx in minibatches(len(self._starts), self.config.batch_size, rng):
            win = gather_left_padded(self._train_tokens, self._starts[idx], self._ends[idx],
                                     self._window_size)
            yield (torch.from_numpy(win),)

    def _history_tokens(self, users: np.ndarray, length: int | None = None) -> np.ndarray:
        """The last ``length`` (default ``max_len``) history tokens of ``users``, left-padded.

        A user with an empty history gets an all-padding row (a defined, user-independent score).
        """
        return gather_left_padded(self._hist_tokens, self._hist_offsets[users], self._hist_offsets[users + 1],
                                  self.config.max_len if length is None else length)

    def _forward_scores(self, users: np.ndarray) -> torch.Tensor:
        h = self.net_.encode(torch.from_numpy(self._history_tokens(users)), last_only=True)[:, -1]
        return h @ self.net_.item_weights().T

    def _next_item_loss(self, win: torch.Tensor, loss: Literal["ce", "bce", "bpr"],
                        n_negatives: int = 1) -> torch.Tensor:
        """Next-item loss over all non-padding positions of windows ``win`` (B, max_len + 1).

        ``ce``: softmax over the whole catalog. ``bce``: target vs ``n_negatives``
        uniform negatives, binary cross-entropy (SASRec paper). ``bpr``: mean
        ``-log sigmoid(pos - neg)`` over ``n_negatives`` uniform negatives.
        Negatives are uniform over the catalog (a rare hit on a positive is kept), or over
        ``_negative_pool`` (item indices, holding every target) when a subclass sets it: ``ce``
        then normalises over the pool only.
        """
        inp, tgt = win[:, :-1], win[:, 1:]
        h = self.net_.encode(inp)
        keep = (inp != PAD) & (tgt != PAD)
        h, tgt = h[keep], tgt[keep] - 1
        weights, pool = self.net_.item_weights(), self._negative_pool
        if loss == "ce":
            logits = h @ weights.T
            if pool is not None:
                outside = torch.ones(self.n_items_, dtype=torch.bool)
                outside[pool] = False
                logits = logits.masked_fill(outside, float("-inf"))  # targets are training items: inside
            return F.cross_entropy(logits, tgt)
        pos = (h * weights[tgt]).sum(-1, keepdim=True)
        if pool is None:
            neg_ids = torch.randint(0, self.n_items_, (len(tgt), n_negatives))
        else:
            neg_ids = pool[torch.randint(0, len(pool), (len(tgt), n_negatives))]
        neg = torch.einsum("nh,nkh->nk", h, weights[neg_ids])
        if loss == "bce":
            return -(F.logsigmoid(pos).mean() + F.logsigmoid(-neg).mean())
        return -F.logsigmoid(pos - neg).mean()

    @abstractmethod
    def _loss(self, batch: Batch) -> torch.Tensor: ...
