"""FAISS retrieval: flat equals exact search, HNSW/IVF recall is high on clustered data, seen items skipped."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("faiss")

from llm4rec.models.base import top_k
from llm4rec.models.embed.ann import ANNIndex, recall_vs_exact


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(20, 32))
    items = centers[rng.integers(0, 20, 2000)] + 0.3 * rng.normal(size=(2000, 32))
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    queries = items[rng.integers(0, 2000, 50)] + 0.1 * rng.normal(size=(50, 32))
    return items.astype(np.float32), queries.astype(np.float32)


def test_flat_index_is_exact_and_excludes_seen(data):
    items, queries = data
    seen = sp.random(50, 2000, density=0.01, format="csr", random_state=0)
    ids, scores = ANNIndex("flat").build(items).search(queries, 10, exclude=seen)
    full = queries @ items.T
    full[seen.nonzero()] = -np.inf
    exact_ids, exact_scores = top_k(full, 10)
    np.testing.assert_allclose(scores, exact_scores, rtol=1e-5)
    assert recall_vs_exact(ids, exact_ids) == 1.0
    assert not any(set(row) & set(seen[i].indices) for i, row in enumerate(ids))


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_recall(kind, data):
    items, queries = data
    exact, _ = ANNIndex("flat").build(items).search(queries, 10)
    approx, scores = ANNIndex(kind, nprobe=16).build(items).search(queries, 10)
    assert recall_vs_exact(approx, exact) > 0.8
    assert (np.diff(scores, axis=1) <= 1e-6).all()
