"""Sampled candidates: each target ranked among sampled negatives."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from llm4rec.data.split import Split
from llm4rec.eval import metrics as M
from llm4rec.eval.protocols.base import CELLS_PER_BATCH, NegativeSampling, batches, finite_scores, select_users, targets
from llm4rec.eval.results import ProtocolResult
from llm4rec.registry import PROTOCOLS


@PROTOCOLS.register("sampled")
class SampledCandidates(NegativeSampling):
    """Rank each target among ``n_negatives`` sampled negatives (one row per (user, target)).

    Candidates are fixed by ``seed`` and identical for every model (cached per
    split and part); :meth:`candidates` exposes them with the target in column 0.
    The model sees each row in a seeded random column order, so a position-biased
    scorer (an LLM reading a list) gains nothing from the target's place.

    Ties: the target's position is taken as uniform over its tie block (the
    negatives scoring strictly higher come first, then the ties in random order),
    and metrics are exact expectations over that (see
    :func:`~llm4rec.eval.metrics.expected_single_target_metrics`): constant scores
    give chance level, e.g. HR@1 = 1 / (n_negatives + 1). ``"auc"`` per row is
    ``(#negatives scored lower + 0.5 * #tied) / n_negatives``.
    """

    kind: Literal["sampled"] = "sampled"

    metric_kinds: ClassVar[tuple[str, ...]] = ("ranking",)
    extra_metrics: ClassVar[tuple[str, ...]] = ("auc",)

    def _default_label(self) -> str:
        return f"sampled-{self.sampler}-{self.n_negatives}"

    def candidates(self, split: Split, part: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """``(users, items)``: each row's user and candidates ``(n_rows, 1 + n_negatives)``, target first."""
        def build() -> tuple[np.ndarray, np.ndarray]:
            users, items = targets(split, part)
            negatives = self._negatives(split, part, users)
            return users, np.concatenate([items[:, None], negatives], axis=1)

        return self._cached(split, part, "candidates", build)

    def shown_order(self, split: Split, part: str = "test") -> np.ndarray:
        """Per row, the column order in which candidates are handed to the model (seeded permutation)."""
        def build() -> np.ndarray:
            users, items = self.candidates(split, part)
            return self._rng(part, 1).permuted(np.tile(np.arange(items.shape[1]), (len(users), 1)), axis=1)

        return self._cached(split, part, "order", build)

    def _prepare(self, split: Split, part: str) -> None:
        self.shown_order(split, part)

    def _evaluate(self, model, split, part, ks, names, batch_size, users, progress) -> ProtocolResult:
        row_users, items = self.candidates(split, part)
        order = self.shown_order(split, part)
        keep = select_users(row_users, users)
        row_users, items, order = row_users[keep], items[keep], order[keep]
        n_cand = items.shape[1]
        n_higher = np.empty(len(row_users), np.int64)
        n_ties = np.empty(len(row_users), np.int64)
        size = batch_size or max(1, CELLS_PER_BATCH // max(1, n_cand) // 8)
        for sl in batches(len(row_users), size, progress, f"sampled candidates ({part})"):
            shown = np.take_along_axis(items[sl], order[sl], axis=1)
            s_shown = finite_scores(model.score(row_users[sl], shown), shown.shape, type(model).__name__)
            scores = np.empty_like(s_shown)
            np.put_along_axis(scores, order[sl], s_shown, axis=1)  # back to target-first columns
            target = scores[:, :1]
            n_higher[sl] = (scores[:, 1:] > target).sum(axis=1)
            n_ties[sl] = (scores[:, 1:] == target).sum(axis=1)
        ranking = [m for m in names if m != "auc"]
        per_user = M.expected_single_target_metrics(n_higher, n_ties, ks, ranking) if ranking else {}
        if "auc" in names:
            n_neg = max(1, n_cand - 1)
            per_user["auc"] = (n_neg - n_higher - 0.5 * n_ties) / n_neg
        return ProtocolResult(self.display, row_users, per_user, {}, 0.0)
