"""Retrieve-then-rerank on MovieLens-100K: SASRec's top 20 reordered by an LLM ranker vs SASRec alone.

SASRec (20 epochs) retrieves; the zero-shot likelihood ranker (SmolLM2-135M) reorders its top 20;
full ranking over the catalog (seen items excluded) on a fixed-seed user sample. Cold-start users
are measured by ``bench/llm_rank.py --split cold-users``.

    python bench/llm_rerank.py --users 100
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm_rank import LLM_COMMON, OUT, SMOL, setup

#: fewer epochs than the default 50 (CPU time on a shared machine); the same retriever in both rows
SASREC = {"epochs": 20, "progress": False}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100)
    args = ap.parse_args()
    from llm4rec.eval import FullRanking, early_stopping
    from llm4rec.models import make_model
    from llm4rec.models.llm.rerank import RerankRecommender

    split, users, protocol = setup("ml-100k", args.users, 0)
    known = split.known_for("test")
    llm_params = {**LLM_COMMON, "generator": SMOL}
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sasrec = make_model("sasrec", SASREC).fit(split.train, split.valid, early_stopping(split.train, split.valid))
    fit_s = time.perf_counter() - t0
    ranker = make_model("llm-likelihood", llm_params).fit(split.train, split.valid)
    rows = []
    runs = (("full", "sasrec", sasrec), ("full", "sasrec top-20 + llm-likelihood",
                                         RerankRecommender.from_models(sasrec, ranker, top_n=20)),
            ("sampled", "sasrec", sasrec), ("sampled", "sasrec top-10 + llm-likelihood",
                                            RerankRecommender.from_models(sasrec, ranker, top_n=10)))
    for proto, label, model in runs:
        model.set_history(known)
        if proto == "full":
            res = FullRanking().evaluate(model, split, "test", ks=(1, 5, 10, 20), metrics=("hr", "ndcg"),
                                         users=users, batch_size=20)
        else:
            res = protocol.evaluate(model, split, "test", ks=(1, 5, 10), metrics=("hr", "ndcg"), users=users)
        row = {"protocol": proto, "model": label, "n_users": len(res.users), "eval_s": res.seconds,
               "fit_s": fit_s, **{k: float(np.mean(v)) for k, v in res.per_user.items()}}
        row.update(model.costs())
        rows.append(row)
        print(json.dumps(row), flush=True)
    (OUT / f"rerank-ml-100k-{len(users)}.json").write_text(json.dumps(rows, indent=1))
    from llm_report import write_rerank_report

    write_rerank_report(OUT)


if __name__ == "__main__":
    main()
