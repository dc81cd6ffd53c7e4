"""EASE: embarrassingly shallow autoencoder (Steck, WWW 2019), closed form, dense item-item weights."""

from __future__ import annotations

import logging
import os

import numpy as np
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.models.base import ModelConfig, Recommender
from llm4rec.models.classic._select import validation_ndcg
from llm4rec.registry import MODELS

log = logging.getLogger(__name__)


class EASEConfig(ModelConfig):
    """L2 regularisation (one value, or a grid chosen on the validation split) and memory guard."""

    reg: list[float] = Field([10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0], min_length=1,
                             description="L2 penalty lambda; with several values and a validation split "
                                         "the one with the best valid NDCG@10 is kept")
    max_memory_gb: float | None = Field(None, gt=0, description="refuse catalogs whose dense solve needs "
                                                                "more (default: the memory available now)")


def ease_memory_bytes(n_items: int) -> int:
    """Peak bytes of the dense solve: Gram matrix, a working copy, its inverse and the weights, float64."""
    return 4 * 8 * n_items * n_items


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


@MODELS.register("ease")
class EASE(Recommender):
    """``score(u) = x_u B`` with ``B = I - P diag(1/diag(P))``, ``P = (X^T X + lambda I)^-1``, ``diag(B) = 0``.

    ``X`` is the binary user-item matrix of the inference-time history (train
    during fit, train + valid when the runner scores the test split), so no
    per-user state is learned. The catalog must fit a dense ``n_items^2``
    solve: ``fit`` refuses with the memory estimate when it does not.
    ``selection_`` maps each tried lambda to its valid NDCG@10.
    """

    Config = EASEConfig
    config: EASEConfig
    name = "ease"

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        need = ease_memory_bytes(self.n_items_)
        limit = self.config.max_memory_gb * 2**30 if self.config.max_memory_gb else _available_bytes()
        if limit is not None and need > limit:
            raise ConfigError(f"EASE needs about {need / 2**30:.1f} GiB for a dense {self.n_items_:,} x "
                              f"{self.n_items_:,} item solve, more than the {limit / 2**30:.1f} GiB allowed; "
                              "use itemknn or als for catalogs this large, or raise max_memory_gb")
        x = train.to_csr().astype(np.float64)
        x.data[:] = 1.0
        gram = (x.T @ x).toarray()
        regs = sorted(set(self.config.reg))
        self.selection_: dict[float, float] = {}
        if len(regs) == 1 or valid is None or len(valid) == 0:
            self.reg_ = regs[len(regs) // 2] if len(regs) > 1 else regs[0]
        else:
            seen = train.to_csr()
            best = -1.0
            for reg in regs:
                self.weights_ = _solve(gram, reg)
                ndcg = validation_ndcg(lambda u: (seen[u] @ self.weights_), seen, valid)
                self.selection_[reg] = ndcg
                if ndcg > best:
                    best, self.reg_ = ndcg, reg
            log.info("ease: lambda=%g chosen on valid (NDCG@10 %s)", self.reg_,
                     ", ".join(f"{r:g}: {v:.4f}" for r, v in self.selection_.items()))
        self.weights_ = _solve(gram, self.reg_)

    def _on_history(self, history: Interactions) -> None:
        x = history.to_csr()
        x.data[:] = 1.0
        self._user_items = x

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self._user_items[users] @ self.weights_, dtype=np.float32)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights_, "reg": np.float64(self.reg_)}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights_, self.reg_ = state["weights"], float(state["reg"])


def _solve(gram: np.ndarray, reg: float) -> np.ndarray:
    """EASE weights for one lambda (float32); items nobody interacted with get zero rows and columns."""
    g = gram.copy()
    g[np.diag_indices_from(g)] += reg
    p = np.linalg.inv(g)
    b = p / (-np.diag(p))
    b[np.diag_indices_from(b)] = 0.0
    return b.astype(np.float32)
