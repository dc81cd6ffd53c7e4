"""FAISS retrieval as a model (``ann``): an embedding model's users searched in a FAISS index of its items.

The wrapped model must score by an inner product, ``query_vectors(users) @ item_vectors().T``
(``textknn`` with mean or recency pooling, ``twotower-ft``). ``score(users)`` asks the index for
each user's top ``top_n`` unseen items: they and the user's seen items carry their exact inner
products, every other item a floor one below the row's lowest, so ``recommend`` is the FAISS
top-k (flat: exact; hnsw/ivf: approximate, see docs/benchmarks.md). ``score(users, candidates)``
is exact (no index needed). Ad-hoc histories work as for the wrapped model.

Saved: the wrapped model's state (its item vectors included) and the index settings. The index is
rebuilt from the saved vectors at load, deterministically (single-threaded); a file is never handed
to FAISS's binary reader, which is not hardened against crafted input.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.models.base import ModelConfig, Recommender
from llm4rec.models.embed.ann import ANNIndex, Kind
from llm4rec.models.registry import make_model
from llm4rec.registry import MODELS


@runtime_checkable
class VectorScorer(Protocol):
    """A model whose scores are ``query_vectors(users) @ item_vectors().T``."""

    def query_vectors(self, users: np.ndarray) -> np.ndarray: ...

    def item_vectors(self) -> np.ndarray: ...


class ANNConfig(ModelConfig):
    """The wrapped embedding model and the FAISS index over its item vectors."""

    model: str = Field("textknn", description="registered model scoring by inner product (textknn, twotower-ft)")
    model_params: dict[str, Any] = Field(default_factory=dict)
    index: Kind = Field("hnsw", description="flat (exact), hnsw or ivf")
    top_n: int = Field(100, ge=1, description="items the index returns per user for full-catalog scoring")
    hnsw_m: int = Field(32, ge=2)
    ef_construction: int = Field(80, ge=1)
    ef_search: int = Field(64, ge=1)
    nlist: int | None = Field(None, ge=1, description="IVF lists (default sqrt(n_items))")
    nprobe: int = Field(8, ge=1)


@MODELS.register("ann")
class ANNRecommender(Recommender):
    """``ann``: full-catalog recommendations of an embedding model through a FAISS index."""

    Config = ANNConfig
    name = "ann"
    config: ANNConfig

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        c = self.config
        self.model_ = make_model(c.model, c.model_params).fit(train, valid, self.training_options)
        self._build()

    def _build(self) -> None:
        if not isinstance(self.model_, VectorScorer) or not self.model_.item_vectors().shape[1]:
            raise ConfigError(f"model {self.config.model!r} does not score by an inner product of user and item "
                              "vectors; ann wraps textknn (mean or recency pooling) or twotower-ft")
        c = self.config
        self.index_ = ANNIndex(c.index, hnsw_m=c.hnsw_m, ef_construction=c.ef_construction, ef_search=c.ef_search,
                               nlist=c.nlist, nprobe=c.nprobe, seed=c.seed).build(self.model_.item_vectors(),
                                                                                 threads=1)

    def _on_history(self, history: Interactions) -> None:
        if getattr(self.model_, "history_log_", None) is not history:
            self.model_.set_history(history)

    def _score(self, users: np.ndarray) -> np.ndarray:
        model: Any = self.model_
        q = np.asarray(model.query_vectors(users), dtype=np.float32)
        ids, vals = self.index_.search(q, self.config.top_n, exclude=self.history_, rows=users)
        items = model.item_vectors()
        out = np.empty((len(users), self.n_items_), np.float32)
        for r, u in enumerate(users):
            seen = self.history_[int(u)].indices
            seen_scores = items[seen] @ q[r]
            found = ids[r] >= 0
            out[r] = min(vals[r][found].min(initial=0.0), seen_scores.min(initial=0.0)) - 1.0
            out[r, ids[r][found]] = vals[r][found]
            out[r, seen] = seen_scores
        return out

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.model_.score(users, items)

    def _get_state(self) -> dict[str, np.ndarray]:
        """The wrapped model's arrays under ``model_.`` (no pickles; its class is the config's name)."""
        return {f"model_.{k}": np.asarray(v) for k, v in self.model_.state_dict().items()}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        inner = make_model(self.config.model, self.config.model_params)
        self.model_ = type(inner).from_state(inner.config, {k[len("model_."):]: v for k, v in state.items()
                                                            if k.startswith("model_.")},
                                             n_users=self.n_users_, n_items=self.n_items_)
        self._build()

    def lm_usage(self) -> dict[str, float]:
        usage = getattr(self.model_, "lm_usage", None)
        return {**(usage() if usage else {}), "ann_build_seconds": self.index_.build_seconds_}
