"""Ray jobs vs one process on this machine: catalog encoding, LLM candidate scoring, sharded evaluation.

    python bench/ray_overhead.py

Each job runs single-process, then on a local Ray cluster (num_cpus=2; cold = cluster and actors
started inside the timing, warm = a second run on the live cluster), and checks that the outputs are
equal. Writes the "Ray: overhead vs one process" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--llm-users", type=int, default=8)
    ap.add_argument("--llm-candidates", type=int, default=10)
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    import ray

    from llm4rec import jobs
    from llm4rec.data import load_dataset
    from llm4rec.data.split import leave_one_out
    from llm4rec.eval.protocols import FullRanking
    from llm4rec.lm.config import make_encoder
    from llm4rec.models import make_model

    rows = []
    ds100 = load_dataset("ml-100k")
    texts = ds100.catalog.text()
    enc = {"backend": "sentence-transformers", "model": "minilm", "cache_mode": "off"}
    single, t_single = timed(lambda: make_encoder(enc).encode(texts))
    _, t_start = timed(lambda: jobs.init(num_cpus=2))
    cold, t_cold = timed(lambda: jobs.encode_texts(texts, enc, workers=2, batch_size=256))
    warm, t_warm = timed(lambda: jobs.encode_texts(texts, enc, workers=2, batch_size=256))
    same = np.allclose(cold, single, atol=1e-5) and np.allclose(warm, single, atol=1e-5)
    rows.append(("encode ML-100K catalog (1682 texts, MiniLM)", t_single, t_cold + t_start, t_warm, same))

    gen = {"backend": "llama-cpp", "model": "smollm2-135m", "n_ctx": 1024, "n_threads": 1, "cache_mode": "off"}
    ranker = make_model("llm-likelihood", {"generator": gen, "progress": False, "max_history": 10})
    ranker.fit(ds100.interactions)
    rng = np.random.default_rng(0)
    users = rng.choice(ds100.n_users, args.llm_users, replace=False)
    cands = rng.choice(ds100.n_items, (args.llm_users, args.llm_candidates))
    s_scores, t_single = timed(lambda: ranker.score(users, cands))
    c_scores, t_cold = timed(lambda: jobs.score_candidates(ranker, users, cands, workers=2, batch_size=2))
    w_scores, t_warm = timed(lambda: jobs.score_candidates(ranker, users, cands, workers=2, batch_size=2))
    same = np.allclose(c_scores, s_scores, rtol=1e-4, atol=1e-3) and np.allclose(w_scores, s_scores, rtol=1e-4,
                                                                                   atol=1e-3)
    rows.append((f"LLM scoring, SmolLM2 llama.cpp ({args.llm_users} users x {args.llm_candidates} candidates)",
                 t_single, t_cold, t_warm, same))

    ds = load_dataset(args.dataset)
    split = leave_one_out(ds)
    model = make_model("itemknn").fit(split.train, split.valid)
    model.set_history(split.known_for("test"))
    metrics = ("hr", "ndcg", "mrr")
    single_res, t_single = timed(lambda: FullRanking().evaluate(model, split, "test", ks=(10,), metrics=metrics))
    cold_res, t_cold = timed(lambda: jobs.evaluate_sharded(FullRanking(), model, split, "test", ks=(10,),
                                                           metrics=metrics, shards=2))
    warm_res, t_warm = timed(lambda: jobs.evaluate_sharded(FullRanking(), model, split, "test", ks=(10,),
                                                           metrics=metrics, shards=4))
    same = all(np.array_equal(single_res.per_user[k], r.per_user[k]) for r in (cold_res, warm_res)
               for k in single_res.per_user)
    n_eval = len(single_res.users)
    rows.append((f"full-ranking evaluation, ItemKNN on {args.dataset} ({n_eval} users; 2 shards, then 4)",
                 t_single, t_cold, t_warm, same))
    ray.shutdown()

    table = ["| job | one process s | Ray cold s | Ray warm s | warm / one process | equal outputs |",
             "|---|---|---|---|---|---|"]
    for name, a, b, c, ok in rows:
        table.append(f"| {name} | {a:.2f} | {b:.2f} | {c:.2f} | {c / a:.2f}x | {'yes' if ok else 'NO'} |")
    body = ("Local Ray cluster (`ray.init(num_cpus=2)`) on the 2-core machine shared with other jobs. *Cold* "
            "includes starting the actors (and, for encoding, the cluster); *warm* reuses the live cluster. On 2 "
            "cores Ray can at best halve a job; the ratio shows what its scheduling, serialisation and actor "
            "start-up cost here. Outputs are compared with the single-process run.\n\n" + "\n".join(table) + "\n"
            "\nThe 100M-interaction plan, from the per-shard costs of a real sharded run, is in the section "
            "\"Ray: sharded evaluation at scale\" (bench/ray_scale.py).\n")
    print(body)
    if not args.no_write:
        write_section("ray-overhead", "Ray: overhead vs one process (encoding, LLM scoring, sharded evaluation)",
                      body, command="python bench/ray_overhead.py")


if __name__ == "__main__":
    main()
