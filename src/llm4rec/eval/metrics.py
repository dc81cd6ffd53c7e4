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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

RANKING_METRICS: tuple[str, ...] = ("hr", "recall", "ndcg", "mrr", "map", "precision")


def _check_names(metrics: Sequence[str]) -> None:
    unknown = [m for m in metrics if m not in RANKING_METRICS]
    if unknown:
        raise ValueError(f"unknown ranking metrics {unknown}; valid: {', '.join(RANKING_METRICS)}")


def _check_ks(ks: Sequence[int]) -> list[int]:
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"cut-offs must be positive integers; got {ks}")
    return ks


def _discount(k_max: int) -> np.ndarray:
    """``1 / log2(j + 1)`` for 1-based positions ``j = 1..k_max``."""
    return 1.0 / np.log2(np.arange(2, k_max + 2, dtype=np.float64))


def ranking_metrics(hits: np.ndarray, n_relevant: np.ndarray, ks: Sequence[int] = (5, 10, 20),
                    metrics: Sequence[str] = RANKING_METRICS) -> dict[str, np.ndarray]:
    """Per-user ranking metrics for every ``metric@k``, keyed like ``"ndcg@10"`` (float64 arrays).

    ``hits`` may have fewer columns than a cut-off (a short list): missing
    positions count as misses. Every user needs ``n_relevant >= 1`` and at least
    as many relevant items as hits.
    """
    _check_names(metrics)
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
    n_hits = hits.cumsum(axis=1, dtype=np.float64)  # hits within the first j positions
    if hits.shape[0] and (n_hits[:, -1] > n_rel).any():
        raise ValueError("a user has more hits than relevant items")
    pos = np.arange(1, k_max + 1, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    if "ndcg" in metrics:
        disc = _discount(k_max)
        dcg = (hits * disc).cumsum(axis=1)
        ideal = np.concatenate([[0.0], disc.cumsum()])  # ideal[m]: DCG of m relevant items on top
    if "mrr" in metrics:
        first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, np.inf)  # 1-based first hit position
    if "map" in metrics:
        ap_sum = (hits * n_hits / pos).cumsum(axis=1)
    for k in ks:
        c = k - 1
        for m in metrics:
            if m == "hr":
                v = (n_hits[:, c] > 0).astype(np.float64)
            elif m == "recall":
                v = n_hits[:, c] / n_rel
            elif m == "precision":
                v = n_hits[:, c] / k
            elif m == "ndcg":
                v = dcg[:, c] / ideal[np.minimum(n_rel, k).astype(np.int64)]
            elif m == "mrr":
                v = np.where(first <= k, 1.0 / first, 0.0)
            else:  # map
                v = ap_sum[:, c] / np.minimum(n_rel, k)
            out[f"{m}@{k}"] = v
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
    _check_names(metrics)
    ks = _check_ks(ks)
    lo = np.asarray(n_higher, dtype=np.float64)[:, None]
    ties = np.asarray(n_ties, dtype=np.float64)[:, None]
    k_max = max(ks)
    j = np.arange(k_max, dtype=np.float64)[None, :]
    prob = ((j >= lo) & (j <= lo + ties)) / (ties + 1.0)  # P(target at 0-based position j)
    p_in = prob.cumsum(axis=1)  # P(target within the first j + 1)
    weighted = {"ndcg": (prob * _discount(k_max)).cumsum(axis=1),
                "mrr": (prob / (j + 1.0)).cumsum(axis=1)} if {"ndcg", "mrr", "map"} & set(metrics) else {}
    out: dict[str, np.ndarray] = {}
    for k in ks:
        c = k - 1
        for m in metrics:
            if m in ("hr", "recall"):
                v = p_in[:, c]
            elif m == "precision":
                v = p_in[:, c] / k
            elif m == "ndcg":
                v = weighted["ndcg"][:, c]
            else:  # mrr and map coincide for one relevant item: 1 / position
                v = weighted["mrr"][:, c]
            out[f"{m}@{k}"] = v.copy()
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
