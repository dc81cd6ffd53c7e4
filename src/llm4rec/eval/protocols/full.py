"""Full ranking: every catalog item is a candidate, known items excluded."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from llm4rec.data.split import Split
from llm4rec.eval import metrics as M
from llm4rec.eval.protocols.base import CELLS_PER_BATCH, EvalProtocol, batches, finite_scores, select_users, targets
from llm4rec.eval.results import ProtocolResult
from llm4rec.eval.sampling import contains, pair_keys
from llm4rec.models.base import mask_rows, top_k
from llm4rec.registry import PROTOCOLS


@PROTOCOLS.register("full")
class FullRanking(EvalProtocol):
    """Rank the whole catalog per user, known items (``split.known_for(part)``) excluded.

    Ties in score are broken by a fixed random order of the items (seeded), so a
    model that scores everything alike gets a random list rather than the lowest
    item ids (ids often correlate with popularity or age); ``tie_break="index"``
    keeps :func:`~llm4rec.models.base.top_k`'s lower-id-first order. Either way the
    order is exact across the cut-off, so metrics at one K do not depend on the
    other ``ks`` requested.
    """

    kind: Literal["full"] = "full"
    tie_break: Literal["random", "index"] = "random"
    seed: int = 0

    metric_kinds: ClassVar[tuple[str, ...]] = ("ranking", "list")

    def _prepare(self, split: Split, part: str) -> tuple[np.ndarray, np.ndarray, Any]:
        """(target keys, targets per user, known-items CSR), cached per split and part."""
        def build() -> tuple[np.ndarray, np.ndarray, Any]:
            known = split.known_for(part)
            t_users, t_items = targets(split, part, known)
            n_rel = np.bincount(t_users, minlength=split.n_users)
            return pair_keys(t_users, t_items, split.n_items), n_rel, known.to_csr()

        return self._cached(split, part, "targets", build)

    def _evaluate(self, model, split, part, ks, names, batch_size, users, progress) -> ProtocolResult:
        n_items = split.n_items
        target_keys, n_rel_all, known_csr = self._prepare(split, part)
        eval_users = np.flatnonzero(n_rel_all)
        eval_users = eval_users[select_users(eval_users, users)]
        n_rel = n_rel_all[eval_users]
        perm = np.random.default_rng(self.seed).permutation(n_items) if self.tie_break == "random" else None
        k_max = min(max(ks), n_items)
        top = np.full((len(eval_users), k_max), -1, np.int64)
        size = batch_size or max(1, min(4096, CELLS_PER_BATCH // max(1, n_items)))
        for sl in batches(len(eval_users), size, progress, f"full ranking ({part})"):
            batch = eval_users[sl]
            scores = finite_scores(model.score(batch), (len(batch), n_items), type(model).__name__)
            mask_rows(scores, known_csr, batch)
            if perm is None:
                idx, vals = top_k(scores, k_max)
            else:
                idx, vals = top_k(scores[:, perm], k_max)
                idx = perm[idx]
            top[sl] = np.where(vals > -np.inf, idx, -1)  # -inf: seen or unscorable, not a recommendation
        hits = (top >= 0) & contains(target_keys, eval_users[:, None] * n_items + top)
        ranking = [m for m in names if m not in ("coverage", "popularity")]
        per_user = M.ranking_metrics(hits, n_rel, ks, ranking) if ranking else {}
        global_metrics: dict[str, float] = {}
        counts = split.train.item_counts()
        for k in ks:
            if "coverage" in names:
                global_metrics[f"coverage@{k}"] = M.coverage(top, n_items, k)
            if "popularity" in names:
                per_user[f"popularity@{k}"] = M.average_popularity(top, counts, k)
        return ProtocolResult(self.display, eval_users, per_user, global_metrics, 0.0)
