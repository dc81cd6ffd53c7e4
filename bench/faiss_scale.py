"""FAISS flat / IVF / HNSW at scale: recall@10 against exact search and query latency, synthetic items.

    python bench/faiss_scale.py --sizes 100000,1000000

Items are L2-normalised vectors drawn around 1000 random centres (clustered, like text embeddings);
queries are 1000 fresh vectors from the same mixture. Uses llm4rec.models.embed.ann.ANNIndex (one
thread). Writes the "FAISS at scale" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section


def mixture(n: int, d: int, centres: np.ndarray, rng: np.random.Generator, spread: float = 1.0) -> np.ndarray:
    x = centres[rng.integers(0, len(centres), n)] + spread * rng.standard_normal((n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--hnsw-max", type=int, default=100_000, help="largest size that builds HNSW")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    import faiss

    from llm4rec.models.embed.ann import ANNIndex, recall_vs_exact

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, args.dim)).astype(np.float32)
    queries = mixture(args.queries, args.dim, centres, rng)
    rows = ["| items | index | build s | query ms (batch of 1000, per query) | query ms (one at a time) | "
            "recall@10 vs exact |", "|---|---|---|---|---|---|"]
    for n in (int(x) for x in args.sizes.split(",")):
        items = mixture(n, args.dim, centres, rng)
        exact = None
        for kind, knob, values in (("flat", None, [None]), ("ivf", "nprobe", [8, 32]),
                                   ("hnsw", "efSearch", [64, 128])):
            if kind == "hnsw" and n > args.hnsw_max:
                rows.append(f"| {n:,} | hnsw | not built (above --hnsw-max; build time grows ~n log n) | | | |")
                continue
            index = ANNIndex(kind).build(items)
            for value in values:
                if knob == "nprobe":
                    index.index_.nprobe = value
                elif knob == "efSearch":
                    index.index_.hnsw.efSearch = value
                t = time.perf_counter()
                ids, _ = index.search(queries, 10)
                batch_ms = (time.perf_counter() - t) / len(queries) * 1000
                t = time.perf_counter()
                for q in queries[:100]:
                    index.search(q[None], 10)
                single_ms = (time.perf_counter() - t) / 100 * 1000
                if kind == "flat":
                    exact = ids
                label = kind + ("" if knob is None else f" {knob}={value}")
                rows.append(f"| {n:,} | {label} | {index.build_seconds_:.1f} | {batch_ms:.3f} | {single_ms:.3f} | "
                            f"{recall_vs_exact(ids, exact):.3f} |")
                print(rows[-1], flush=True)
            del index
    body = (f"Synthetic catalog: L2-normalised {args.dim}-d vectors around 1000 random centres (noise as large "
            f"as the centre), {args.queries} queries from the same mixture, inner-product search with "
            "`llm4rec.models.embed.ann.ANNIndex` (FAISS, one thread; IVF with nlist = sqrt(n), HNSW with M = 32, "
            "efConstruction = 80; nprobe / efSearch varied on the same index). Recall@10 is the share of the "
            "exact (flat) top 10 that the index returns. Shared 2-core machine: latencies are a ceiling.\n\n"
            + "\n".join(rows) + "\n")
    print(body)
    if not args.no_write:
        write_section("faiss-scale", "FAISS at scale: flat / IVF / HNSW on synthetic catalogs", body,
                      command=f"python bench/faiss_scale.py --sizes {args.sizes} --hnsw-max {args.hnsw_max}")


if __name__ == "__main__":
    main()
