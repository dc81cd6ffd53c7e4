"""Do the sequential defaults hold on data of other shapes? SASRec / GRU4Rec / BERT4Rec vs ItemKNN.

Shapes: ML-100K, and subsamples of ML-1M (seeded): ``few-users`` (600 random users, all their
interactions: few users, many items, like the 671-user / 9k-item held-out set of issue 16),
``short`` (every user's first 20 interactions), ``long`` (300 random users among those with at least
400 interactions). Ids are re-densified after subsampling (the catalog is the items that occur).
Every model is fitted with its defaults (what ``llm4rec models`` lists) and early stopping on valid
NDCG@10, then ranks the full catalog for the test item (leave-one-out by time, train + valid items
excluded). The check: each sequential model's test NDCG@10 >= ItemKNN's on every shape. Each
(shape, seed, model) result is stored as JSON under ``--out``, so an interrupted run resumes.

    PYTHONPATH=src .venv/bin/python bench/shapes.py                       # all shapes, seed 0
    PYTHONPATH=src .venv/bin/python bench/shapes.py --seeds 0,1,2 --shapes few-users,long
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from _report import write_section
from llm4rec.data import load_dataset
from llm4rec.data.interactions import Interactions
from llm4rec.data.split import leave_one_out
from llm4rec.eval import FullRanking, bootstrap_ci, early_stopping
from llm4rec.models import make_model

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ("ml-100k", "few-users", "short", "long")
SEQUENTIAL = ("sasrec", "gru4rec", "bert4rec")
MODELS = ("itemknn", *SEQUENTIAL)


def compact(inter: Interactions) -> Interactions:
    """The same log over dense ids of the users and items that occur."""
    users, u = np.unique(inter.user, return_inverse=True)
    items, i = np.unique(inter.item, return_inverse=True)
    return Interactions.build(u, i, inter.timestamp, inter.rating, n_users=len(users), n_items=len(items))


def shape(name: str, seed: int) -> Interactions:
    if name == "ml-100k":
        return load_dataset("ml-100k").interactions
    inter = load_dataset("ml-1m").interactions
    rng = np.random.default_rng(seed)
    counts = np.bincount(inter.user, minlength=inter.n_users)
    if name == "few-users":
        keep = rng.choice(np.flatnonzero(counts > 0), 600, replace=False)
        return compact(inter.subset(np.isin(inter.user, keep)))
    if name == "short":
        rank = np.arange(len(inter)) - inter.user_offsets()[inter.user]  # position in the user's history
        return compact(inter.subset(rank < 20))
    if name == "long":
        keep = rng.choice(np.flatnonzero(counts >= 400), 300, replace=False)
        return compact(inter.subset(np.isin(inter.user, keep)))
    raise ValueError(f"unknown shape {name!r}; choose from {SHAPES}")


def quiet(model_name: str) -> dict:
    """``progress = False`` for models that have a progress bar (Pop and ItemKNN have none)."""
    from llm4rec.models import get_model

    return {"progress": False} if "progress" in get_model(model_name).Config.model_fields else {}


def run_one(inter: Interactions, model_name: str, params: dict) -> dict:
    split = leave_one_out(inter)
    model = make_model(model_name, params)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(split.train, split.valid, early_stopping(split.train, split.valid))
    fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    model.set_history(split.known_for("test"))
    values = FullRanking().evaluate(model, split, "test", ks=(10,), metrics=("ndcg",)).per_user["ndcg@10"]
    mean, low, high = bootstrap_ci(values, n_boot=1000, seed=0)
    log = getattr(model, "fit_log_", [])
    return {"ndcg@10": float(mean), "ci": [float(low), float(high)], "fit_s": fit_s, "fit_cpu_s": fit_cpu,
            "epochs": len(log), "steps": log[-1].get("steps") if log else None,
            "best_epoch": getattr(model, "best_epoch_", None), "stop": getattr(model, "stop_reason_", None)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seeds", default="0", help="subsampling seeds (ML-100K has one shape whatever the seed)")
    ap.add_argument("--set", default="{}", help="JSON parameters given to every sequential model (smoke runs)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-shapes")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    overrides = json.loads(args.set)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.shapes.split(","):
        for seed in [0] if name == "ml-100k" else [int(s) for s in args.seeds.split(",")]:
            inter = shape(name, seed)
            lens = np.bincount(inter.user)
            results = {}
            for m in args.models.split(","):
                path = args.out / f"{name}-{seed}-{m}.json"
                if path.exists() and not overrides:
                    results[m] = json.loads(path.read_text())
                else:
                    results[m] = run_one(inter, m, {**quiet(m), **(overrides if m in SEQUENTIAL else {})})
                    if not overrides:  # smoke runs (--set) are never stored as results
                        path.write_text(json.dumps(results[m]))
                r = results[m]
                print(f"{name} seed {seed} {m}: NDCG@10 {r['ndcg@10']:.4f} fit {r['fit_cpu_s']:.0f} CPU-s "
                      f"epochs {r['epochs']} stop {r['stop']}", flush=True)
            knn = results.get("itemknn", {}).get("ndcg@10")
            for m, r in results.items():
                verdict = "" if m not in SEQUENTIAL or knn is None else ("yes" if r["ndcg@10"] >= knn else "**no**")
                rows.append(f"| {name} | {seed} | {inter.n_users:,} x {inter.n_items:,} | {len(inter):,} "
                            f"| {np.median(lens):.0f} | {m} | {r['ndcg@10']:.4f} [{r['ci'][0]:.4f}, "
                            f"{r['ci'][1]:.4f}] | {verdict} | {r['fit_cpu_s']:.0f} | {r['epochs'] or ''} "
                            f"| {r['stop'] or ''} |")
    table = "\n".join(["| shape | seed | users x items | interactions | median history | model "
                       "| test NDCG@10 [95% CI] | >= ItemKNN | fit CPU s | epochs | stopped by |",
                       "|---|---:|---:|---:|---:|---|---|---|---:|---:|---|", *rows])
    print(table)
    if args.no_write or overrides:
        return
    body = (__doc__.split("\n\n")[1].replace("\n", " ") + "\n\n" + table + "\n\nTarget (issue 16): every "
            "sequential model >= ItemKNN on every shape; a **no** marks a shape where it is not met.\n")
    write_section("shapes", "Sequential defaults on data of other shapes (ML-100K, ML-1M subsamples)", body,
                  "PYTHONPATH=src .venv/bin/python bench/shapes.py --shapes " + args.shapes
                  + " --seeds " + args.seeds)


if __name__ == "__main__":
    main()
