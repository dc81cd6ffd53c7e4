"""Validation scoring inside ``fit`` without the evaluator (models never import ``llm4rec.eval``).

Used by models that choose a hyper-parameter on the validation split in
closed form (EASE's regularisation): mean NDCG@k of ``valid`` items over the
catalog with the training items excluded, the full-ranking protocol's rule.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from llm4rec.data.interactions import Interactions
from llm4rec.models.base import mask_rows, top_k


def validation_ndcg(score: Callable[[np.ndarray], np.ndarray], seen: sp.csr_matrix, valid: Interactions,
                    k: int = 10, batch_size: int = 1024) -> float:
    """Mean NDCG@``k`` over the users in ``valid``; ``score(users)`` returns ``(len(users), n_items)`` scores."""
    users = np.unique(valid.user)
    if not len(users):
        return 0.0
    targets = valid.to_csr()
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        scores = np.array(score(batch), dtype=np.float32)
        mask_rows(scores, seen, batch)
        idx, _ = top_k(scores, k)
        tgt = targets[batch]
        hits = np.asarray(tgt[np.arange(len(batch))[:, None], idx].todense()) > 0
        dcg = (hits * discounts[:idx.shape[1]]).sum(1)
        ideal = np.cumsum(discounts)[np.minimum(np.diff(tgt.indptr), k) - 1]
        total += float((dcg / ideal).sum())
    return total / len(users)
