"""Item-based k-nearest-neighbours with cosine similarity (Sarwar et al. 2001; Deshpande & Karypis 2004)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.models.base import ModelConfig, Recommender
from llm4rec.registry import MODELS


class ItemKNNConfig(ModelConfig):
    """Neighbourhood size, similarity shrinkage and feedback weighting."""

    k: int = Field(100, ge=1, description="neighbours kept per item")
    shrink: float = Field(0.0, ge=0, description="cosine shrinkage term added to the norm product")
    binary: bool = Field(True, description="treat every interaction as 1 (else use ratings)")


@MODELS.register("itemknn")
class ItemKNN(Recommender):
    """Score(u, j) = sum over the user's history items i of sim(i, j), keeping each item's top-k neighbours."""

    Config: ClassVar[type[ItemKNNConfig]] = ItemKNNConfig
    config: ItemKNNConfig
    name: ClassVar[str] = "itemknn"

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        x = train.to_csr(None if self.config.binary else "rating")
        if self.config.binary:
            x.data[:] = 1.0
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0))).ravel()
        sim = (x.T @ x).tocsr().astype(np.float32)
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        coo = sim.tocoo()
        denom = norms[coo.row] * norms[coo.col] + self.config.shrink
        coo.data = (coo.data / np.maximum(denom, 1e-12)).astype(np.float32)
        self.similarity_ = _keep_top_k_per_column(coo.tocsc(), self.config.k)

    def _on_history(self, history: Interactions) -> None:
        x = history.to_csr(None if self.config.binary else "rating")
        if self.config.binary:
            x.data[:] = 1.0
        self._user_items = x

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self._user_items[users] @ self.similarity_).todense(), dtype=np.float32)

    def _get_state(self) -> dict[str, np.ndarray]:
        s = self.similarity_.tocsc()
        return {"sim_data": s.data, "sim_indices": s.indices, "sim_indptr": s.indptr}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        n = self.n_items_
        self.similarity_ = sp.csc_matrix((state["sim_data"], state["sim_indices"], state["sim_indptr"]),
                                         shape=(n, n))


def _keep_top_k_per_column(m: sp.csc_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every column (the neighbours of each target item)."""
    m.sort_indices()
    counts = np.diff(m.indptr)
    if counts.max(initial=0) <= k:
        return m.tocsr()
    col = np.repeat(np.arange(m.shape[1]), counts)
    order = np.lexsort((-m.data, col))  # per column, largest first
    rank = np.arange(len(order)) - np.repeat(m.indptr[:-1], counts)
    keep = order[rank < k]
    kept = sp.csc_matrix((m.data[keep], (m.indices[keep], col[keep])), shape=m.shape)
    return kept.tocsr()
