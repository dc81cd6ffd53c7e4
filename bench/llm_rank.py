"""LLMRank protocol on MovieLens: zero-shot LLM rankers vs ID-based baselines (1 target + 19 negatives).

Leave-one-out by time; a fixed-seed sample of test users; each target ranked among 19 random
unseen negatives (identical for every model, shown in a seeded random order); NDCG@10, HR@1,
HR@5 with exact expectations over ties. Every variant is stored in ``runs/llm_bench/`` so the
report can be assembled from runs made at different times; LLM calls go through the
record/replay cache, so a rerun costs nothing.

    python bench/llm_rank.py --variants baselines,smol-likelihood --users 200
    python bench/llm_rank.py --split cold-users --variants baselines,smol-likelihood   # new users
    python bench/llm_rank.py --report          # write the docs/benchmarks.md sections
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

OUT = Path(__file__).resolve().parent.parent / "runs" / "llm_bench"
SMOL = {"backend": "llama-cpp", "model": "smollm2-135m", "n_threads": 1}
GEMMA = {"backend": "llama-cpp", "model": "gemma3-270m", "n_threads": 1}
LLM_COMMON: dict[str, Any] = {"max_history": 15, "progress": False}

#: name -> (registered model, params, note)
VARIANTS: dict[str, tuple[str, dict[str, Any], str]] = {
    "random": ("random", {}, ""),
    "pop": ("pop", {}, ""),
    "bpr": ("bpr", {}, ""),
    "sasrec": ("sasrec", {}, ""),
    "smol-likelihood": ("llm-likelihood", {"generator": SMOL}, "titles, zero-shot"),
    "smol-likelihood-mean": ("llm-likelihood", {"generator": SMOL, "normalize": "mean"}, "per-token mean"),
    "smol-likelihood-calibrated": ("llm-likelihood", {"generator": SMOL, "calibrate": True},
                                   "minus history-free prior"),
    "smol-likelihood-recency": ("llm-likelihood", {"generator": SMOL, "recency": True}, "recency-focused"),
    "smol-likelihood-icl": ("llm-likelihood", {"generator": SMOL, "icl_demos": 2}, "2 demos, own history"),
    "smol-pointwise": ("llm-pointwise", {"generator": SMOL}, "P(Yes)"),
    "smol-listwise": ("llm-listwise", {"generator": SMOL, "max_tokens": 100}, "generation + parsing"),
    "smol-listwise-order2": ("llm-listwise", {"generator": SMOL, "max_tokens": 100, "seed": 7},
                             "same, another shown order"),
    "gemma-likelihood": ("llm-likelihood", {"generator": GEMMA}, "titles, zero-shot"),
    "gemma-likelihood-recency": ("llm-likelihood", {"generator": GEMMA, "recency": True}, "recency-focused"),
}
BASELINES = ("random", "pop", "bpr", "sasrec")


#: --split -> (split kind, params, file tag); cold-users: 20% of users keep their first 5 + 2 interactions
SPLITS: dict[str, tuple[str, dict[str, Any], str]] = {
    "loo": ("leave_one_out", {}, ""),
    "cold-users": ("cold_start_users", {"max_train": 5, "frac": 0.2, "seed": 0}, "-coldusers"),
}


def setup(dataset: str, n_users: int, seed: int, split_name: str = "loo", split_seed: int | None = None):
    """Split, the evaluated users *in sampling order*, and the sampled-candidates protocol.

    One seeded draw of max(n, 200) users; a run over n users takes its first n, so smaller runs
    are prefixes of larger ones and reuse their cached LLM calls. ``split_seed`` overrides the
    seed of a random split (cold-users).
    """
    from llm4rec.data import load_dataset, make_split
    from llm4rec.eval.protocols import SampledCandidates

    ds = load_dataset(dataset)
    kind, params, _ = SPLITS[split_name]
    if split_seed is not None and "seed" in params:
        params = {**params, "seed": split_seed}
    split = make_split(ds, kind, **params)
    users = np.unique(split.test.user)
    pool = np.random.default_rng(seed).choice(users, min(max(n_users, 200), len(users)), replace=False)
    return split, pool[:n_users], SampledCandidates(n_negatives=19, seed=seed)


def make_variant(name: str, **overrides: Any):
    """The (unfitted) model of a variant."""
    from llm4rec.models import make_model

    model_name, params, _ = VARIANTS[name]
    params = {**(LLM_COMMON if model_name.startswith("llm-") else {}), **params, **overrides}
    return make_model(model_name, params)


def run_variant(name: str, split, users: np.ndarray, protocol, save: Path | None = None, chunk: int = 10,
                **overrides: Any) -> dict[str, Any]:
    """Fit one variant (early stopping on validation NDCG@10) and evaluate it on ``users`` (see
    :func:`evaluate_variant`)."""
    from llm4rec.eval import early_stopping

    model = make_variant(name, **overrides)
    t0 = time.perf_counter()
    model.fit(split.train, split.valid, early_stopping(split.train, split.valid))
    return evaluate_variant(name, model, time.perf_counter() - t0, split, users, protocol, save, chunk)


def evaluate_variant(name: str, model, fit_s: float, split, users: np.ndarray, protocol,
                     save: Path | None = None, chunk: int = 10) -> dict[str, Any]:
    """Evaluate a fitted variant on ``users`` in chunks (in sampling order), saving after each chunk, so
    an interrupted run still reports the users it finished (per-user values are kept)."""
    model_name, _, note = VARIANTS[name]
    model.set_history(split.known_for("test"))
    row: dict[str, Any] = {"variant": name, "model": model_name, "note": note, "fit_s": fit_s, "eval_s": 0.0}
    per_user: dict[str, list[float]] = {}
    done: list[int] = []
    step = chunk if model_name.startswith("llm-") else len(users)
    for s in range(0, len(users), step):
        part = users[s:s + step]
        res = protocol.evaluate(model, split, "test", ks=(1, 5, 10), metrics=("hr", "ndcg"), users=part)
        by_user = {int(u): j for j, u in enumerate(res.users)}
        rows = [by_user[int(u)] for u in part]
        for k, v in res.per_user.items():
            per_user.setdefault(k, []).extend(float(x) for x in np.asarray(v)[rows])
        done.extend(int(u) for u in part)
        row["eval_s"] += res.seconds
        row.update({"n_users": len(done), "users": done, "per_user": per_user})
        row.update({k: float(np.mean(v)) for k, v in per_user.items()})
        row.update(model.costs())
        if save is not None:
            save.write_text(json.dumps(row))
        print(f"  {name}: {len(done)}/{len(users)} users, ndcg@10 {row['ndcg@10']:.4f}", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--variants", default="baselines,smol-likelihood")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="loo", choices=sorted(SPLITS),
                    help="loo: leave-one-out; cold-users: new users with 5 training interactions")
    ap.add_argument("--report", action="store_true", help="only write the Markdown sections")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.report:
        split, users, protocol = setup(args.dataset, args.users, args.seed, args.split)
        tag = f"{args.dataset}{SPLITS[args.split][2]}"
        names = [v for n in args.variants.split(",") for v in (BASELINES if n == "baselines" else [n])]
        for name in names:
            print(f"== {name} ({len(users)} users)", flush=True)
            run_variant(name, split, users, protocol, save=OUT / f"rank-{tag}-{name}.json")
    from llm_report import write_rank_report

    write_rank_report(OUT)


if __name__ == "__main__":
    main()
