"""BPR-MF: matrix factorisation trained with the Bayesian Personalised Ranking loss (Rendle et al., 2009)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field
from torch import nn

from llm4rec.data.interactions import Interactions
from llm4rec.models.classic._torch import Batch, TorchConfig, TorchRecommender, minibatches
from llm4rec.registry import MODELS


class BPRConfig(TorchConfig):
    """BPR-MF hyper-parameters (training-loop fields come from :class:`TorchConfig`)."""

    factors: int = Field(64, ge=1, description="embedding size")
    # defaults chosen on valid NDCG@10 (ML-100K, 3 seeds; issue 16, docs/benchmarks.md "peer-recbole-bpr"):
    # reg 1e-3 and validation every epoch with patience 20 (was 1e-4, every 5 epochs, patience 4)
    reg: float = Field(1e-3, ge=0, description="L2 penalty on the embeddings of each (u, i, j) triple")
    batch_size: int = Field(2048, ge=1)
    lr: float = Field(5e-3, gt=0)
    epochs: int = Field(200, ge=1)
    eval_every: int = Field(1, ge=1)
    patience: int = Field(20, ge=1)
    n_negatives: int = Field(1, ge=1, description="uniform negatives per positive, each a BPR pair (loss averaged)")


class _MF(nn.Module):
    def __init__(self, n_users: int, n_items: int, factors: int) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, factors)
        self.item = nn.Embedding(n_items, factors)
        self.bias = nn.Embedding(n_items, 1)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)
        nn.init.zeros_(self.bias.weight)


@MODELS.register("bpr")
class BPRMF(TorchRecommender):
    """Matrix factorisation ``score(u, i) = p_u . q_i + b_i`` with BPR loss and uniform negatives.

    Each epoch visits every training interaction once, paired with one negative
    item drawn uniformly among the items the user has not interacted with
    (sampled for the whole epoch at once with numpy).
    """

    Config: ClassVar[type[BPRConfig]] = BPRConfig
    config: BPRConfig
    name: ClassVar[str] = "bpr"

    def _build_net(self) -> nn.Module:
        return _MF(self.n_users_, self.n_items_, self.config.factors)

    def _prepare(self, train: Interactions) -> None:
        self._pairs = (train.user.astype(np.int64), train.item.astype(np.int64))
        self._seen_keys = np.unique(self._pairs[0] * self.n_items_ + self._pairs[1])

    def _sample_negatives(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Uniform items not seen by each user (a few vectorised rejection rounds; leftovers keep a draw)."""
        neg = rng.integers(0, self.n_items_, len(users))
        for _ in range(10):
            keys = users * self.n_items_ + neg
            pos = np.searchsorted(self._seen_keys, keys).clip(max=len(self._seen_keys) - 1)
            bad = np.flatnonzero(self._seen_keys[pos] == keys)
            if not len(bad):
                break
            neg[bad] = rng.integers(0, self.n_items_, len(bad))
        return neg

    def _n_batches(self) -> int:
        return -(-len(self._pairs[0]) // self.config.batch_size)

    def _batches(self, rng: np.random.Generator) -> Iterator[Batch]:
        """Shuffled ``(users, positives, negatives)``; negatives are ``(batch, n_negatives)`` when
        ``n_negatives > 1``, else ``(batch,)``."""
        users, items = self._pairs
        k = self.config.n_negatives
        neg = self._sample_negatives(np.repeat(users, k), rng).reshape(len(users), k) if k > 1 else \
            self._sample_negatives(users, rng)
        for idx in minibatches(len(users), self.config.batch_size, rng):
            yield torch.from_numpy(users[idx]), torch.from_numpy(items[idx]), torch.from_numpy(neg[idx])

    def _loss(self, batch: Batch) -> torch.Tensor:
        u, i, j = batch
        net: _MF = self.net_  # type: ignore[assignment]
        pu, qi, qj = net.user(u), net.item(i), net.item(j)
        k = j.shape[1] if j.dim() == 2 else 1
        if j.dim() == 2:  # several negatives per positive: one BPR pair each
            diff = (pu.unsqueeze(1) * (qi.unsqueeze(1) - qj)).sum(-1) + net.bias(i) - net.bias(j).squeeze(-1)
        else:
            diff = (pu * (qi - qj)).sum(-1) + (net.bias(i) - net.bias(j)).squeeze(-1)
        # L2 per (u, i, j) pair: a positive's u and i terms count once, each negative's share 1/k
        reg = self.config.reg * (pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum() / k) / len(u)
        return -nn.functional.logsigmoid(diff).mean() + reg

    def _forward_scores(self, users: np.ndarray) -> torch.Tensor:
        net: _MF = self.net_  # type: ignore[assignment]
        return net.user(torch.from_numpy(users)) @ net.item.weight.T + net.bias.weight.T

