"""Vectorised recommendation metrics: top-K ranking, AUC / GAUC / logloss, coverage and popularity.

Ranking metrics take a boolean hit matrix ``hits (n_users, K_max)`` (``hits[u, j]``:
the item at position ``j`` of ``u``'s ranked list is relevant) and
``n_relevant (n_users,)`` (how many relevant items ``u`` has in total, ranked or
not). Every function returns one value per user so confidence intervals can be
bootstrapped over users; several cut-offs are computed in one pass.

Definitions at cut-off ``k`` (``rel_j`` = hit at 1-based position ``j``,
``R`` = ``n_relevant``):

- ``hr@k``        1 if any of the top ``k`` is relevant.
- ``recall@k``    ``sum_{j<=k} rel_j / R`` (divided by ``R``, not ``min(R, k)``: a
  user with more relevant items than ``k`` cannot reach 1; with one target per
  user, as in leave-one-out, recall equals HR).
- ``precision@k`` ``sum_{j<=k} rel_j / k`` (``k`` even if the list is shorter).
- ``ndcg@k``      binary-gain DCG ``sum_{j<=k} rel_j / log2(j + 1)`` over the ideal
  DCG of ``min(R, k)`` relevant items at the top.
- ``mrr@k``       ``1 / j`` of the first relevant position ``j <= k``, else 0.
- ``map@k``       ``sum_{j<=k} precision@j * rel_j / min(R, k)`` (AP truncated at ``k``).

Every metric is a :class:`Metric` in :data:`llm4rec.registry.METRICS`; a ranking metric is one
function decorated with :func:`ranking_metric` (plug-ins: the ``llm4rec.metrics`` entry points).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from scipy.stats import rankdata

from llm4rec.registry import METRICS


@dataclass(frozen=True)
class Metric:
    """A metric a run config may name (``[eval] metrics``), registered in :data:`llm4rec.registry.METRICS`.

    ``kind`` says who computes it: ``"ranking"`` metrics are per-user values at each cut-off,
    computed by every ranking protocol (full and sampled) from ``at_k`` (on the hit matrix) and
    ``expected_at_k`` (one target per row, in expectation over ties; derived from ``at_k`` when
    not given); ``"list"`` metrics (coverage, popularity) come from the full ranking's top-K lists
    and ``"pointwise"`` ones (AUC, GAUC, logloss) from labelled pairs.
    """

    name: str
    kind: Literal["ranking", "list", "pointwise"]
    at_k: Callable[[Ranking, int], np.ndarray] | None = None
    expected_at_k: Callable[[ExpectedRanking, int], np.ndarray] | None = None


def ranking_metric(name: str, expected: Callable[[ExpectedRanking, int], np.ndarray] | None = None
                   ) -> Callable[[Callable[[Ranking, int], np.ndarray]], Callable[[Ranking, int], np.ndarray]]:
    """Register ``fn(ranking, k) -> per-user values`` as the ranking metric ``name`` (a plug-in needs only this)."""
    def decorate(fn: Callable[[Ranking, int], np.ndarray]) -> Callable[[Ranking, int], np.ndarray]:
        METRICS.register(name, Metric(name, "ranking", fn, expected))
        return fn

    return decorate


for _name, _kind in (("coverage", "list"), ("popularity", "list"), ("auc", "pointwise"), ("gauc", "pointwise"),
                     ("logloss", "pointwise")):
    METRICS.register(_name, Metric(_name, _kind))  # type: ignore[arg-type]


def ranking_metric_names() -> tuple[str, ...]:
    return tuple(n for n, m in METRICS.items() if m.kind == "ranking")


def _check_names(metrics: Sequence[str]) -> list[Metric]:
    found = [METRICS.get(m) if m in METRICS else None for m in metrics]
    unknown = [m for m, f in zip(metrics, found, strict=True) if f is None or f.kind != "ranking"]
    if unknown:
        raise ValueError(f"unknown ranking metrics {unknown}; valid: {', '.join(ranking_metric_names())}")
    return [f for f in found if f is not None]


def _check_ks(ks: Sequence[int]) -> list[int]:
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"cut-offs must be positive integers; got {ks}")
    return ks


def _discount(k_max: int) -> np.ndarray:
    """``1 / log2(j + 1)`` for 1-based positions ``j = 1..k_max``."""
    return 1.0 / np.log2(np.arange(2, k_max + 2, dtype=np.float64))


class Ranking:
    """What ranking metrics read: ``hits (n_users, k_max)``, ``n_rel`` and cumulative sums of them (lazy)."""

    def __init__(self, hits: np.ndarray, n_rel: np.ndarray) -> None:
        self.hits, self.n_rel = hits, n_rel
        self.k_max = hits.shape[1]
        self.n_hits = hits.cumsum(axis=1, dtype=np.float64)  # hits within the first j positions
        self.pos = np.arange(1, self.k_max + 1, dtype=np.float64)

    @cached_property
    def dcg(self) -> np.ndarray:
        return (self.hits * _discount(self.k_max)).cumsum(axis=1)

    @cached_property
    def ideal(self) -> np.ndarray:
        """``ideal[m]``: DCG of ``m`` relevant items on top."""
        return np.concatenate([[0.0], _discount(self.k_max).cumsum()])

    @cached_property
    def first(self) -> np.ndarray:
        """1-based position of the first hit (``inf`` without one)."""
        return np.where(self.hits.any(axis=1), self.hits.argmax(axis=1) + 1, np.inf)

    @cached_property
    def ap_sum(self) -> np.ndarray:
        return (self.hits * self.n_hits / self.pos).cumsum(axis=1)


class ExpectedRanking:
    """One target per row at a 0-based position uniform on ``n_higher .. n_higher + n_ties``."""

    def __init__(self, n_higher: np.ndarray, n_ties: np.ndarray, k_max: int) -> None:
        lo = np.asarray(n_higher, dtype=np.float64)[:, None]
        ties = np.asarray(n_ties, dtype=np.float64)[:, None]
        self.k_max = k_max
        self.j = np.arange(k_max, dtype=np.float64)[None, :]
        self.prob = ((self.j >= lo) & (self.j <= lo + ties)) / (ties + 1.0)  # P(target at position j)
        self.p_in = self.prob.cumsum(axis=1)  # P(target within the first j + 1)

    @cached_property
    def ndcg(self) -> np.ndarray:
        return (self.prob * _discount(self.k_max)).cumsum(axis=1)

    @cached_property
    def reciprocal(self) -> np.ndarray:
        return (self.prob / (self.j + 1.0)).cumsum(axis=1)

    def generic(self, at_k: Callable[[Ranking, int], np.ndarray], k: int) -> np.ndarray:
        """Any metric in expectation: every metric of one relevant item is linear in its one-hot hits."""
        eye = Ranking(np.eye(self.k_max, dtype=bool), np.ones(self.k_max))
        return self.prob @ np.asarray(at_k(eye, k), dtype=np.float64)


@ranking_metric("hr", expected=lambda e, k: e.p_in[:, k - 1])
def hit_rate(r: Ranking, k: int) -> np.ndarray:
    """1 if any of the top ``k`` is relevant."""
    return (r.n_hits[:, k - 1] > 0).astype(np.float64)


@ranking_metric("recall", expected=lambda e, k: e.p_in[:, k - 1])
def recall(r: Ranking, k: int) -> np.ndarray:
    return r.n_hits[:, k - 1] / r.n_rel


@ranking_metric("ndcg", expected=lambda e, k: e.ndcg[:, k - 1])
def ndcg(r: Ranking, k: int) -> np.ndarray:
    return r.dcg[:, k - 1] / r.ideal[np.minimum(r.n_rel, k).astype(np.int64)]


@ranking_metric("mrr", expected=lambda e, k: e.reciprocal[:, k - 1])
def mrr(r: Ranking, k: int) -> np.ndarray:
    return np.where(r.first <= k, 1.0 / r.first, 0.0)


@ranking_metric("map", expected=lambda e, k: e.reciprocal[:, k - 1])  # one relevant item: 1 / position
def mean_ap(r: Ranking, k: int) -> np.ndarray:
    return r.ap_sum[:, k - 1] / np.minimum(r.n_rel, k)


@ranking_metric("precision", expected=lambda e, k: e.p_in[:, k - 1] / k)
def precision(r: Ranking, k: int) -> np.ndarray:
    return r.n_hits[:, k - 1] / k


RANKING_METRICS: tuple[str, ...] = ("hr", "recall", "ndcg", "mrr", "map", "precision")  # the built-in ones


def ranking_metrics(hits: np.ndarray, n_relevant: np.ndarray, ks: Sequence[int] = (5, 10, 20),
                    metrics: Sequence[str] = RANKING_METRICS) -> dict[str, np.ndarray]:
    """Per-user ranking metrics for every ``metric@k``, keyed like ``"ndcg@10"`` (float64 arrays).

    ``hits`` may have fewer columns than a cut-off (a short list): missing
    positions count as misses. Every user needs ``n_relevant >= 1`` and at least
    as many relevant items as hits.
    """
    found = _check_names(metrics)
    ks = _check_ks(ks)
    hits = np.asarray(hits, dtype=bool)
    n_rel = np.asarray(n_relevant, dtype=np.float64)
    if hits.ndim != 2 or n_rel.shape != (hits.shape[0],):
        raise ValueError(f"hits must be (n_users, K) and n_relevant (n_users,); got {hits.shape} and "
                         f"{n_rel.shape}")
    k_max = max(ks)
    if hits.shape[1] < k_max:  # short lists: pad with misses
        hits = np.pad(hits, ((0, 0), (0, k_max - hits.shape[1])))
    hits = hits[:, :k_max]
    if hits.shape[0] and n_rel.min() < 1:
        raise ValueError("every user needs at least one relevant item (n_relevant >= 1)")
    ranking = Ranking(hits, n_rel)
    if hits.shape[0] and (ranking.n_hits[:, -1] > n_rel).any():
        raise ValueError("a user has more hits than relevant items")
    out: dict[str, np.ndarray] = {}
    for k in ks:
        for m in found:
            assert m.at_k is not None
            out[f"{m.name}@{k}"] = m.at_k(ranking, k)
    return out


def expected_single_target_metrics(n_higher: np.ndarray, n_ties: np.ndarray, ks: Sequence[int] = (5, 10, 20),
                                   metrics: Sequence[str] = RANKING_METRICS) -> dict[str, np.ndarray]:
    """Ranking metrics for one relevant item per row, in expectation over random tie-breaking.

    The target is beaten by ``n_higher`` candidates and ties with ``n_ties``
    others, so under uniformly random tie-breaking its 0-based position is
    uniform on ``n_higher .. n_higher + n_ties``. With a single relevant item
    every metric above is linear in the one-hot hit vector, so averaging over
    that position gives the exact expectation (with ``n_ties = 0`` it equals
    :func:`ranking_metrics` on the one-hot hits). A model that scores every
    candidate alike thus gets the chance level (HR@1 = 1 / n_candidates), never 1.
    """
    found = _check_names(metrics)
    ks = _check_ks(ks)
    expected = ExpectedRanking(n_higher, n_ties, max(ks))
    out: dict[str, np.ndarray] = {}
    for k in ks:
        for m in found:
            v = m.expected_at_k(expected, k) if m.expected_at_k else expected.generic(m.at_k, k)  # type: ignore[arg-type]
            out[f"{m.name}@{k}"] = np.array(v, dtype=np.float64)
    return out


# ---------------------------------------------------------------------------- AUC family
def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC: P(a random positive outscores a random negative), ties count 1/2; NaN with one class."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)  # average ranks: a tie adds 1/2
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def group_auc(groups: np.ndarray, labels: np.ndarray,
              scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUC within each group (user), vectorised; ties count 1/2.

    Returns ``(ids, aucs, sizes)``: the distinct group ids (ascending), their AUC
    (NaN for a group whose labels are all of one class) and their label counts.
    """
    groups = np.asarray(groups)
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    ids, g = np.unique(groups, return_inverse=True)
    order = np.lexsort((scores, g))
    gs, ss, ls = g[order], scores[order], labels[order]
    n = len(gs)
    # average rank of each element within its group (ties within a group share the mean rank)
    new_block = np.ones(n, bool)
    new_block[1:] = (gs[1:] != gs[:-1]) | (ss[1:] != ss[:-1])
    block = np.cumsum(new_block) - 1
    block_start = np.flatnonzero(new_block)
    block_end = np.append(block_start[1:], n)  # exclusive
    group_start = np.zeros(len(ids), np.int64)
    group_start[1:] = np.cumsum(np.bincount(gs, minlength=len(ids)))[:-1]
    avg_rank = (block_start + block_end + 1) / 2.0 - group_start[gs[block_start]]  # 1-based, within group
    rank = avg_rank[block]
    n_pos = np.bincount(gs, weights=ls, minlength=len(ids))
    n_all = np.bincount(gs, minlength=len(ids)).astype(np.float64)
    n_neg = n_all - n_pos
    rank_sum = np.bincount(gs, weights=rank * ls, minlength=len(ids))
    with np.errstate(invalid="ignore", divide="ignore"):
        aucs = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    aucs[(n_pos == 0) | (n_neg == 0)] = np.nan
    return ids, aucs, n_all


def gauc(groups: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """Group AUC: per-user AUC averaged with weights = the user's number of labelled impressions.

    ``GAUC = sum_u n_u * AUC_u / sum_u n_u`` over users that have both a positive
    and a negative label (others have no AUC and are left out), the usual
    definition of industrial CTR work (Zhou et al., DIN, 2018).
    """
    _, aucs, weights = group_auc(groups, labels, scores)
    ok = ~np.isnan(aucs)
    return float(np.sum(weights[ok] * aucs[ok]) / np.sum(weights[ok])) if ok.any() else float("nan")


def logloss(labels: np.ndarray, probs: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """Binary cross-entropy of each (label, probability) pair; probabilities clipped to ``[eps, 1-eps]``."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probs, dtype=np.float64), eps, 1.0 - eps)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def is_probability(scores: np.ndarray) -> bool:
    """Whether every score is a finite value in ``[0, 1]`` (so logloss is meaningful)."""
    s = np.asarray(scores)
    return bool(s.size) and bool(np.isfinite(s).all()) and float(s.min()) >= 0.0 and float(s.max()) <= 1.0


# ---------------------------------------------------------------------------- beyond accuracy
def coverage(top_items: np.ndarray, n_items: int, k: int) -> float:
    """Catalog coverage@k: distinct items in anyone's top ``k`` / ``n_items`` (negative ids = empty slots)."""
    top = np.asarray(top_items)[:, :k]
    seen = np.zeros(n_items, bool)
    seen[top[top >= 0]] = True
    return int(seen.sum()) / n_items if n_items else float("nan")


def average_popularity(top_items: np.ndarray, item_counts: np.ndarray, k: int) -> np.ndarray:
    """Per user: mean training interaction count of the items in their top ``k`` (negative ids skipped).

    Higher means a stronger popularity bias; NaN for a user with an empty list.
    """
    top = np.asarray(top_items)[:, :k]
    valid = top >= 0
    counts = np.asarray(item_counts, dtype=np.float64)[np.where(valid, top, 0)] * valid
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts.sum(axis=1) / valid.sum(axis=1)
