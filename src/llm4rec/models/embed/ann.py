"""Approximate nearest-neighbour retrieval over item embeddings with FAISS (optional extra ``ann``).

Inner-product search (cosine on L2-normalised vectors). ``flat`` is exact and
is the reference; ``hnsw`` and ``ivf`` trade recall for speed.
:func:`recall_vs_exact` measures that trade on real queries.

    index = ANNIndex("hnsw").build(item_vectors)
    ids, scores = index.search(user_vectors, k=10, exclude=seen_csr)
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from llm4rec.errors import ConfigError

Kind = Literal["flat", "hnsw", "ivf"]


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigError("ANN retrieval needs faiss: pip install 'llm4rec[ann]'") from exc
    return faiss


class ANNIndex:
    """A FAISS inner-product index: ``flat`` (exact), ``hnsw`` (graph) or ``ivf`` (inverted lists)."""

    def __init__(self, kind: Kind = "hnsw", *, hnsw_m: int = 32, ef_construction: int = 80, ef_search: int = 64,
                 nlist: int | None = None, nprobe: int = 8, seed: int = 0) -> None:
        if kind not in ("flat", "hnsw", "ivf"):
            raise ConfigError(f"unknown ANN index kind {kind!r}; use flat, hnsw or ivf")
        self.kind, self.hnsw_m, self.ef_construction, self.ef_search = kind, hnsw_m, ef_construction, ef_search
        self.nlist, self.nprobe, self.seed = nlist, nprobe, seed

    def build(self, vectors: np.ndarray, threads: int | None = None) -> ANNIndex:
        """Index the rows of ``vectors`` (row ``i`` = item ``i``).

        ``threads = 1`` builds deterministically (a multi-threaded HNSW build depends on timing).
        """
        faiss = _faiss()
        before = faiss.omp_get_max_threads()
        if threads:
            faiss.omp_set_num_threads(threads)
        try:
            return self._build(faiss, vectors)
        finally:
            faiss.omp_set_num_threads(before)

    def _build(self, faiss: Any, vectors: np.ndarray) -> ANNIndex:
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = x.shape
        start = time.perf_counter()
        if self.kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
            index.hnsw.efSearch = self.ef_search
        else:
            nlist = self.nlist or max(1, int(np.sqrt(n)))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = self.seed
            index.train(x)
            index.nprobe = min(self.nprobe, nlist)
        index.add(x)
        self.index_, self.n_items_, self.build_seconds_ = index, n, time.perf_counter() - start
        return self

    def search(self, queries: np.ndarray, k: int, exclude: sp.csr_matrix | None = None,
               rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item ids and scores per query, best first; ``exclude[rows[i]]`` items are skipped.

        Missing results (fewer than ``k`` reachable items) are ``-1`` with score ``-inf``.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32)
        rows = np.arange(len(q)) if rows is None else np.asarray(rows)
        extra = 0 if exclude is None or not len(q) else int(np.diff(exclude.indptr)[rows].max())
        width = min(self.n_items_, k + extra)
        scores, ids = self.index_.search(q, width)
        if exclude is not None:
            for i, r in enumerate(rows):
                seen = exclude.indices[exclude.indptr[r]:exclude.indptr[r + 1]]
                drop = np.isin(ids[i], seen)
                ids[i, drop], scores[i, drop] = -1, -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        ids, scores = np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)
        scores[ids < 0] = -np.inf
        return ids.astype(np.int64), scores.astype(np.float32)


def recall_vs_exact(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-k ids (``-1`` ignored) that the approximate top-k also returns."""
    hits, total = 0, 0
    for a, e in zip(approx, exact, strict=True):
        e = e[e >= 0]
        hits += np.isin(e, a).sum()
        total += len(e)
    return hits / max(total, 1)
