"""Pointwise: labelled (user, item) pairs scored one at a time (AUC, GAUC, logloss)."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from llm4rec.data.split import Split
from llm4rec.eval import metrics as M
from llm4rec.eval.protocols.base import CELLS_PER_BATCH, NegativeSampling, batches, finite_scores, select_users, targets
from llm4rec.eval.results import ProtocolResult
from llm4rec.eval.sampling import pair_keys
from llm4rec.models.base import Recommender
from llm4rec.registry import PROTOCOLS


@PROTOCOLS.register("pointwise")
class Pointwise(NegativeSampling):
    """Yes/no labels scored one (user, item) pair at a time: AUC, GAUC and logloss (the TALLRec setting).

    By default positives are the part's targets and each gets ``n_negatives``
    sampled negatives (as in :class:`SampledCandidates`). With
    ``label_threshold`` the part's explicit ratings are the labels instead
    (rating >= threshold -> 1, else 0), no sampling. Logloss is reported only
    when every score lies in [0, 1]. ``global_metrics`` holds the pooled
    ``auc``, the impression-weighted ``gauc`` and the mean ``logloss`` over pairs;
    ``per_user`` holds ``user_auc`` (each user's AUC, NaN for a user whose labels
    are all one class; the input to paired tests) and ``user_logloss``.
    """

    kind: Literal["pointwise"] = "pointwise"
    n_negatives: int = Field(1, ge=1, description="negatives per positive (unused with label_threshold)")
    label_threshold: float | None = None

    metric_kinds: ClassVar[tuple[str, ...]] = ("pointwise",)

    def _default_label(self) -> str:
        if self.label_threshold is not None:
            return f"pointwise-rating>={self.label_threshold:g}"
        return f"pointwise-{self.sampler}-{self.n_negatives}"

    def pairs(self, split: Split, part: str = "test") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(users, items, labels)`` sorted by user: the labelled pairs every model is scored on."""
        def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if self.label_threshold is not None:
                inter = split.part(part)
                keys = pair_keys(inter.user, inter.item, split.n_items)
                # one label per (user, item): the last rating in time order
                last = len(keys) - 1 - np.unique(keys[::-1], return_index=True)[1]
                labels = (inter.rating[last] >= self.label_threshold).astype(np.int8)
                return keys[last] // split.n_items, keys[last] % split.n_items, labels
            users, items = targets(split, part)
            negatives = self._negatives(split, part, users)
            n_cols = 1 + negatives.shape[1]
            all_items = np.concatenate([items[:, None], negatives], axis=1).ravel()
            labels = np.zeros((len(users), n_cols), np.int8)
            labels[:, 0] = 1
            return np.repeat(users, n_cols), all_items, labels.ravel()

        return self._cached(split, part, f"pairs{self.label_threshold}", build)

    def _prepare(self, split: Split, part: str) -> None:
        self.pairs(split, part)

    def _evaluate(self, model, split, part, ks, names, batch_size, users, progress) -> ProtocolResult:
        p_users, p_items, labels = self.pairs(split, part)
        keep = select_users(p_users, users)
        p_users, p_items, labels = p_users[keep], p_items[keep], labels[keep]
        scores = score_pairs(model, p_users, p_items, batch_size, progress, f"pointwise ({part})")
        ids, user_auc, _ = M.group_auc(p_users, labels, scores)
        per_user: dict[str, np.ndarray] = {}
        global_metrics: dict[str, float] = {}
        notes: list[str] = []
        if "auc" in names:
            per_user["user_auc"] = user_auc
            global_metrics["auc"] = M.auc(labels, scores)
        if "gauc" in names:
            global_metrics["gauc"] = M.gauc(p_users, labels, scores)
        if "logloss" in names:
            if M.is_probability(scores):
                loss = M.logloss(labels, scores)
                inverse = np.searchsorted(ids, p_users)
                per_user["user_logloss"] = np.bincount(inverse, weights=loss) / np.bincount(inverse)
                global_metrics["logloss"] = float(loss.mean())
            else:
                notes.append(f"{self.display}: logloss skipped: scores are not probabilities in [0, 1]")
        return ProtocolResult(self.display, ids, per_user, global_metrics, 0.0, notes=notes)


def score_pairs(model: Recommender, users: np.ndarray, items: np.ndarray, batch_size: int | None,
                 progress: bool, desc: str) -> np.ndarray:
    """Scores of (user, item) pairs sorted by user: one ``score(users, items)`` call per batch of users.

    Users are batched in order of list length and each list is padded to the
    batch's longest (repeating the user's first item), so padding stays small.
    """
    out = np.empty(len(users), np.float32)
    if len(users) == 0:
        return out
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    lengths = np.diff(np.r_[starts, len(users)])
    by_length = np.argsort(lengths, kind="stable")
    starts, lengths = starts[by_length], lengths[by_length]
    size = batch_size or max(1, CELLS_PER_BATCH // 8 // max(1, int(lengths.max())))
    for sl in batches(len(starts), size, progress, desc):
        first, count = starts[sl], lengths[sl]
        width = int(count.max())
        row = np.repeat(np.arange(len(first)), count)
        col = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        pair = np.repeat(first, count) + col
        grid = np.repeat(items[first][:, None], width, axis=1)
        grid[row, col] = items[pair]
        scores = finite_scores(model.score(users[first], grid), grid.shape, type(model).__name__)
        out[pair] = scores[row, col]
    return out
