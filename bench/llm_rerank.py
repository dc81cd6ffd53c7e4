"""Retrieve-then-rerank and cold start on MovieLens-100K (LLM rankers vs SASRec and Pop).

- rerank: SASRec's (20 epochs) top 20 reordered by the zero-shot likelihood ranker (SmolLM2-135M), full
  ranking over the catalog (seen items excluded) vs SASRec alone, on a fixed-seed user sample;
- cold start: the same sampled users with their training history cut to their 4 most recent
  items (+ the valid item = 5 known interactions); Pop and SASRec are refit on that log, the LLM
  reads the 5 items; each target among the same 19 negatives as in ``bench/llm_rank.py``.

    python bench/llm_rerank.py --users 100
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm_rank import LLM_COMMON, OUT, SMOL, setup

#: fewer epochs than the default 50 (CPU time on a shared machine); the same retriever in both rows
SASREC = {"epochs": 20, "progress": False}


def _metrics(n_higher: np.ndarray, n_ties: np.ndarray) -> dict[str, float]:
    from llm4rec.eval import metrics as M

    res = M.expected_single_target_metrics(n_higher, n_ties, (1, 5, 10), ["hr", "ndcg"])
    return {k: float(np.mean(v)) for k, v in res.items()}


def eval_candidates(model, protocol, split, users: np.ndarray) -> dict[str, float]:
    """Sampled-candidate metrics with the candidates (and shown order) of ``split``'s protocol."""
    row_users, items = protocol.candidates(split, "test")
    order = protocol.shown_order(split, "test")
    keep = np.isin(row_users, users)
    row_users, items, order = row_users[keep], items[keep], order[keep]
    shown = np.take_along_axis(items, order, axis=1)
    s_shown = model.score(row_users, shown)
    scores = np.empty_like(s_shown)
    np.put_along_axis(scores, order, s_shown, axis=1)
    return _metrics((scores[:, 1:] > scores[:, :1]).sum(1), (scores[:, 1:] == scores[:, :1]).sum(1))


def cold_split(split, users: np.ndarray, keep: int = 4):
    """``split`` with the train history of ``users`` cut to their ``keep`` most recent items."""
    tr = split.train
    off = tr.user_offsets()
    pos = np.arange(len(tr)) - np.repeat(off[:-1], np.diff(off))
    n_of_row = np.repeat(np.diff(off), np.diff(off))
    drop = np.isin(tr.user, users) & (pos < n_of_row - keep)
    return replace(split, train=tr.subset(~drop))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--parts", default="rerank,cold")
    args = ap.parse_args()
    from llm4rec.eval.protocols import FullRanking
    from llm4rec.models import make_model
    from llm4rec.models.llm.rerank import RerankRecommender

    split, users, protocol = setup("ml-100k", args.users, 0)
    known = split.known_for("test")
    llm_params = {**LLM_COMMON, "generator": SMOL}
    OUT.mkdir(parents=True, exist_ok=True)
    if "rerank" in args.parts:
        t0 = time.perf_counter()
        sasrec = make_model("sasrec", SASREC).fit(split.train, split.valid)
        fit_s = time.perf_counter() - t0
        ranker = make_model("llm-likelihood", llm_params).fit(split.train, split.valid)
        rerank = RerankRecommender.from_models(sasrec, ranker, top_n=20)
        rows = []
        for label, model in (("sasrec", sasrec), ("sasrec top-20 + llm-likelihood", rerank)):
            model.set_history(known)
            res = FullRanking().evaluate(model, split, "test", ks=(1, 5, 10, 20), metrics=("hr", "ndcg"),
                                         users=users, batch_size=20)
            row = {"model": label, "n_users": len(res.users), "eval_s": res.seconds, "fit_s": fit_s,
                   **{k: float(np.mean(v)) for k, v in res.per_user.items()}}
            if hasattr(model, "lm_usage"):
                row.update(model.lm_usage())
            rows.append(row)
            print(json.dumps(row), flush=True)
        (OUT / f"rerank-ml-100k-{len(users)}.json").write_text(json.dumps(rows, indent=1))
    if "cold" in args.parts:
        cold = cold_split(split, users)
        cold_known = cold.known_for("test")
        rows = []
        for label, name, params in (("pop", "pop", {}), ("sasrec", "sasrec", SASREC),
                                    ("llm-likelihood (SmolLM2)", "llm-likelihood", llm_params),
                                    ("llm-likelihood recency (SmolLM2)", "llm-likelihood",
                                     {**llm_params, "recency": True})):
            model = make_model(name, params).fit(cold.train, cold.valid)
            model.set_history(cold_known)
            t0 = time.perf_counter()
            row = {"model": label, "n_users": len(users), **eval_candidates(model, protocol, split, users),
                   "eval_s": time.perf_counter() - t0}
            if hasattr(model, "lm_usage"):
                row.update(model.lm_usage())
            rows.append(row)
            print(json.dumps(row), flush=True)
        (OUT / f"cold-ml-100k-{len(users)}.json").write_text(json.dumps(rows, indent=1))
    from llm_report import write_rerank_report

    write_rerank_report(OUT)


if __name__ == "__main__":
    main()
