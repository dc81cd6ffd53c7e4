"""ALS: implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) through the ``implicit`` library.

``implicit`` is an optional dependency (``pip install 'llm4rec[classic]'``): its
conjugate-gradient solver (CPU, or CUDA when its GPU build is installed and a
card is present) does the fitting; this module adds the contract (typed
config, inference-time histories, save/load).
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.models.base import ModelConfig, Recommender
from llm4rec.registry import MODELS


class ALSConfig(ModelConfig):
    """Factors, L2 penalty, iterations and the confidence given to observed interactions."""

    factors: int = Field(64, ge=1)
    regularization: float = Field(0.05, ge=0, description="L2 penalty on user and item factors")
    iterations: int = Field(15, ge=1)
    alpha: float = Field(2.0, gt=0, description="confidence scale: an observed (u, i) counts alpha x its weight")
    weighting: Literal["binary", "rating", "bm25"] = Field(
        "binary", description="weight of an interaction before alpha: 1, the rating, or BM25 (Okapi) "
                              "which down-weights popular items and heavy users")
    use_gpu: bool | None = Field(None, description="fit on CUDA (None: when implicit's GPU build finds a card)")


def _implicit():
    try:
        import implicit
        import implicit.cpu.als
        import implicit.gpu
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("the 'als' model needs the implicit library: pip install 'llm4rec[classic]'") from exc
    return implicit


def _threads() -> int:
    """Threads for implicit's solver: OMP_NUM_THREADS when set (the shared-machine convention), else all."""
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "0")))
    except ValueError:
        return 0


@MODELS.register("als")
class ALS(Recommender):
    """``score(u, i) = x_u . y_i`` fitted by weighted alternating least squares.

    Item factors are learned in ``fit``; user factors are solved in closed form
    from the inference-time history (train after fit, train + valid when the
    runner scores the test split), so a user's newest interactions count
    without retraining.
    """

    Config = ALSConfig
    config: ALSConfig
    name = "als"

    def _confidence(self, history: Interactions) -> sp.csr_matrix:
        w = self.config.weighting
        x = history.to_csr("rating" if w == "rating" else None)
        if w == "bm25":
            from implicit.nearest_neighbours import bm25_weight

            x = bm25_weight(x, K1=100, B=0.8).tocsr().astype(np.float32)
        return x

    def _solver(self):
        implicit, c = _implicit(), self.config
        gpu = implicit.gpu.HAS_CUDA if c.use_gpu is None else c.use_gpu
        return implicit.als.AlternatingLeastSquares(
            factors=c.factors, regularization=c.regularization, alpha=c.alpha, iterations=c.iterations,
            use_gpu=gpu, num_threads=_threads(), random_state=c.seed)

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        solver = self._solver()
        solver.fit(self._confidence(train), show_progress=False)
        if not isinstance(solver.item_factors, np.ndarray):  # fitted on the GPU
            solver = solver.to_cpu()
        self.item_factors_, self._cpu = np.ascontiguousarray(solver.item_factors, dtype=np.float32), None

    def _cpu_solver(self):
        """A CPU solver around the item factors: solves user factors for any history."""
        if getattr(self, "_cpu", None) is None:
            c = self.config
            self._cpu = _implicit().cpu.als.AlternatingLeastSquares(
                factors=c.factors, regularization=c.regularization, alpha=c.alpha, num_threads=_threads())
            self._cpu.item_factors = self.item_factors_
        return self._cpu

    def _on_history(self, history: Interactions) -> None:
        solver = self._cpu_solver()
        users = np.arange(self.n_users_)
        self._user_factors = np.asarray(solver.recalculate_user(users, self._confidence(history)), np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._user_factors[users] @ self.item_factors_.T

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.einsum("uf,ukf->uk", self._user_factors[users], self.item_factors_[items])

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"item_factors": self.item_factors_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.item_factors_, self._cpu = np.ascontiguousarray(state["item_factors"], np.float32), None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cpu"] = None  # rebuilt from item_factors_ on demand
        return state
