"""Shared machinery of the evaluation protocols (one module per protocol: :mod:`.full`,
:mod:`.sampled`, :mod:`.pointwise`).

Each protocol is a typed config (``kind`` discriminates them in a run TOML) with
``evaluate(model, split, part)``. Targets of a user are their distinct items in
``split.part(part)`` that are not already in ``split.known_for(part)`` (an item
the model has seen is excluded from every ranking, so it cannot be a target).

The caller sets the model's inference-time history (``model.set_history(
split.known_for(part))``) before evaluating; protocols only read scores.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PrivateAttr

from llm4rec.config import Config
from llm4rec.data.interactions import Interactions
from llm4rec.data.split import Split
from llm4rec.errors import ConfigError
from llm4rec.eval import metrics as M
from llm4rec.eval.results import ProtocolResult
from llm4rec.eval.sampling import contains, sample_negatives, unique_pair_keys
from llm4rec.models.base import Recommender
from llm4rec.registry import METRICS

ALL_METRICS: tuple[str, ...] = (*M.RANKING_METRICS, "coverage", "popularity", "auc", "gauc", "logloss")  # built-in
DEFAULT_METRICS: tuple[str, ...] = ALL_METRICS
PART_CODE = {"train": 0, "valid": 1, "test": 2}
CELLS_PER_BATCH = 8_000_000  # scores held per batch (float32: 32 MB)


def resolve_metrics(metrics: Iterable[str], ks: Iterable[int]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Check metric names (lower-cased, de-duplicated) and cut-offs; :class:`ConfigError` lists valid ones."""
    names = tuple(dict.fromkeys(str(m).lower() for m in metrics))
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metrics {unknown}; valid: {', '.join(METRICS.names())}")
    ks = tuple(sorted(set(int(k) for k in ks)))
    if not ks or ks[0] < 1:
        raise ConfigError(f"cut-offs ks must be positive integers; got {list(ks)}")
    return names, ks


def targets(split: Split, part: str, known: Interactions | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) targets of ``part`` not already known before it, sorted by user then item.

    ``known`` defaults to ``split.known_for(part)`` (pass it when already built).
    """
    n_items = split.n_items
    known = split.known_for(part) if known is None else known
    keys = unique_pair_keys([split.part(part)], n_items)
    keys = keys[~contains(unique_pair_keys([known], n_items), keys)]
    return keys // n_items, keys % n_items


def select_users(all_users: np.ndarray, users: np.ndarray | None) -> np.ndarray:
    """Boolean mask over ``all_users``: those in the optional subset ``users``."""
    if users is None:
        return np.ones(len(all_users), bool)
    return np.isin(all_users, np.asarray(users, dtype=np.int64))


def batches(n: int, size: int, progress: bool, desc: str) -> Iterable[slice]:
    starts = range(0, n, max(1, size))
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=desc, unit="batch")
    for s in starts:
        yield slice(s, min(n, s + size))


def finite_scores(scores: np.ndarray, shape: tuple[int, ...], who: str) -> np.ndarray:
    """A writable float32 copy; NaN (an unscorable item) becomes -inf so it ranks last, never first."""
    s = np.array(scores, dtype=np.float32)
    if s.shape != shape:
        raise ValueError(f"{who}.score returned shape {s.shape}; expected {shape}")
    s[np.isnan(s)] = -np.inf
    return s


# ---------------------------------------------------------------------------- protocols
class EvalProtocol(Config):
    """Base of the protocols: ``evaluate`` a fitted model on one part of a split."""

    kind: str
    label: str | None = Field(None, description="name shown in results (default: built from the parameters)")

    #: kinds of :class:`~llm4rec.eval.metrics.Metric` this protocol computes, and further metric names;
    #: other valid names passed to ``evaluate`` are skipped
    metric_kinds: ClassVar[tuple[str, ...]] = ()
    extra_metrics: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def supports(cls, metric: str) -> bool:
        """Whether this protocol computes the registered metric ``metric``."""
        return metric in cls.extra_metrics or METRICS.get(metric).kind in cls.metric_kinds

    _cache: dict[tuple, tuple] = PrivateAttr(default_factory=dict)

    def _cached(self, split: Split, part: str, what: str, build: Callable[[], Any]) -> Any:
        """Memoise ``build()`` per split object (identity), part and parameter values."""
        key = (id(split), part, what, self.model_dump_json(exclude={"label"}))
        hit = self._cache.get(key)
        if hit is None or hit[0] is not split:
            hit = (split, build())
            self._cache[key] = hit
        return hit[1]

    @property
    def display(self) -> str:
        return self.label or self._default_label()

    def _default_label(self) -> str:
        return self.kind

    def evaluate(self, model: Recommender, split: Split, part: str = "test", *,
                 ks: Sequence[int] = (5, 10, 20), metrics: Sequence[str] = DEFAULT_METRICS,
                 batch_size: int | None = None, users: np.ndarray | None = None,
                 progress: bool = False) -> ProtocolResult:
        """Score ``model`` on ``split.part(part)`` and compute ``metrics`` at cut-offs ``ks``.

        ``users`` restricts the evaluation to a subset of user ids; ``batch_size``
        is the number of users (rows) scored per call (default: sized to memory).
        Valid metric names this protocol does not compute (see :meth:`supports`)
        are skipped, so one metric list can serve every protocol of a run.
        """
        if part not in ("valid", "test"):
            raise ConfigError(f"protocols evaluate 'valid' or 'test', not {part!r}")
        names, ks = resolve_metrics(metrics, ks)
        self._prepare(split, part)  # candidates / pairs, shared by every model: not part of its cost
        start = time.perf_counter()
        result = self._evaluate(model, split, part, ks, [m for m in names if self.supports(m)],
                                batch_size, users, progress)
        result.seconds = time.perf_counter() - start
        result.part = part
        return result

    def _prepare(self, split: Split, part: str) -> Any:
        """Hook: build (and cache, see ``_cached``) what every model is evaluated on."""

    @abstractmethod
    def _evaluate(self, model: Recommender, split: Split, part: str, ks: tuple[int, ...], names: list[str],
                  batch_size: int | None, users: np.ndarray | None, progress: bool) -> ProtocolResult: ...


class NegativeSampling(EvalProtocol):
    """Base of the sampled protocols: negatives are items of the split's data the user never interacted with.

    Admissible negatives of a user are the items with at least one interaction in
    train, valid or test (items a filter such as k-core emptied are never drawn),
    minus every item the user has in any part or in :attr:`Split.unused` (rows the
    split left out or a filter removed: an item rated before filtering is no negative).
    """

    n_negatives: int = Field(100, ge=1)
    sampler: Literal["uniform", "popularity"] = "uniform"
    seed: int = 0

    def _rng(self, part: str, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, PART_CODE[part], stream])

    def _negatives(self, split: Split, part: str, row_users: np.ndarray) -> np.ndarray:
        parts = [split.train, split.valid, split.test]
        exclude = unique_pair_keys(parts + ([split.unused] if split.unused is not None else []), split.n_items)
        weights: np.ndarray | None
        if self.sampler == "popularity":
            weights = split.train.item_counts()
        else:  # uniform over the items present in the split's data (None: all of them, the plain uniform draw)
            present = np.zeros(split.n_items, bool)
            for p in parts:
                present[p.item] = True
            weights = None if present.all() else present.astype(np.float64)
        return sample_negatives(row_users, self.n_negatives, exclude, split.n_items, weights,
                                self._rng(part, 0))
