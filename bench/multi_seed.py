"""Benchmarks whose split or candidates are random, repeated over several seeds (mean and spread).

Two kinds of jobs, both resumable (finished seeds are skipped; LLM calls replay from the LM cache):

- ``embed``: run TOML configs once per split seed through the standard runner (the same as
  ``llm4rec run FILE`` with ``seeds = [...]``), one folder per seed: ``RUNS/<name>/seed-<s>/``;
- ``llmrank``: the LLMRank protocol of ``bench/llm_rank.py`` (1 target + 19 sampled candidates) with
  the candidate seed (and, for ``--split cold-users``, the split seed) varied; a variant is fitted once
  per split and evaluated on every candidate seed.

``report`` writes the docs/benchmarks.md sections: per seed, mean and sample standard deviation across
seeds, and paired comparisons across seeds (per-seed differences with their per-user p-values, how
many seeds agree on the sign, and a paired t-test over the seeds).

    python bench/multi_seed.py embed --configs configs/embed-ml100k-cold.toml --seeds 42,7,1
    python bench/multi_seed.py llmrank --split loo --seeds 0,1,2 --users 100 --variants baselines,smol-likelihood
    python bench/multi_seed.py llmrank --dataset ml-1m --seeds 0,1,2 --users 50
    python bench/multi_seed.py report
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

RUNS = Path(__file__).resolve().parent.parent / "runs" / "multi_seed"


# ---------------------------------------------------------------------------- jobs
def run_embed(configs: list[str], seeds: list[int], runs: Path, models: set[str] | None) -> None:
    from llm4rec.eval.config import load_run_config
    from llm4rec.eval.runner import run

    for path in configs:
        for seed in seeds:
            cfg = load_run_config(path)
            cfg.split.seed = seed
            if models:
                cfg.models = [m for m in cfg.models if m.display in models]
            out = runs / cfg.name / f"seed-{seed}"
            if _finished(out, [m.display for m in cfg.models]):
                print(f"== {cfg.name} seed {seed}: done already", flush=True)
                continue
            print(f"== {cfg.name} seed {seed} ({time.strftime('%H:%M:%S')})", flush=True)
            run(cfg, out, overwrite=True)  # a partial earlier attempt is replaced


def _finished(out: Path, labels: list[str]) -> bool:
    path = out / "results.json"
    if not path.exists():
        return False
    done = {r["model"] for r in json.loads(path.read_text())}
    return set(labels) <= done


def run_llmrank(split_name: str, seeds: list[int], n_users: int, names: list[str], runs: Path,
                dataset: str = "ml-100k") -> None:
    from llm4rec.eval import early_stopping
    from llm_rank import BASELINES, SPLITS, evaluate_variant, make_variant, setup

    names = [v for n in names for v in (BASELINES if n == "baselines" else [n])]
    folder = runs / f"llmrank-{dataset}{SPLITS[split_name][2]}"
    random_split = "seed" in SPLITS[split_name][1]
    for name in names:
        fitted: dict[int | None, tuple[Any, float]] = {}
        for seed in seeds:
            save = folder / f"seed-{seed}" / f"{name}.json"
            if save.exists() and json.loads(save.read_text()).get("n_users", 0) >= n_users:
                print(f"== {name} seed {seed}: done already", flush=True)
                continue
            save.parent.mkdir(parents=True, exist_ok=True)
            split_seed = seed if random_split else None
            split, users, protocol = setup(dataset, n_users, seed, split_name, split_seed=split_seed)
            if split_seed not in fitted:  # leave-one-out: one fit serves every candidate seed
                model = make_variant(name)
                t0 = time.perf_counter()
                model.fit(split.train, split.valid, early_stopping(split.train, split.valid))
                fitted = {split_seed: (model, time.perf_counter() - t0)}
            model, fit_s = fitted[split_seed]
            print(f"== {name} seed {seed} ({len(users)} users, {time.strftime('%H:%M:%S')})", flush=True)
            evaluate_variant(name, model, fit_s, split, users, protocol, save=save)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("job", choices=["embed", "llmrank", "report"])
    ap.add_argument("--configs", default="configs/embed-ml100k-cold.toml,configs/embed-ml100k-cold-seq.toml")
    ap.add_argument("--models", default="", help="embed: only these model labels (comma-separated)")
    ap.add_argument("--seeds", default="42,7,1")
    ap.add_argument("--split", default="loo", choices=["loo", "cold-users"])
    ap.add_argument("--dataset", default="ml-100k", choices=["ml-100k", "ml-1m"], help="llmrank: the dataset")
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--variants", default="baselines,smol-likelihood")
    ap.add_argument("--runs", type=Path, default=RUNS, help="where the per-seed results live")
    ap.add_argument("--commit", default="", help="report: the commit the runs were made on")
    ap.add_argument("--commit-llm", default="", help="report: the commit of the llmrank runs (default: --commit)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.job == "embed":
        run_embed(args.configs.split(","), seeds, args.runs, set(filter(None, args.models.split(","))))
    elif args.job == "llmrank":
        run_llmrank(args.split, seeds, args.users, args.variants.split(","), args.runs, args.dataset)
    else:
        from multi_seed_report import write_reports

        write_reports(args.runs, args.commit, args.commit_llm)


if __name__ == "__main__":
    main()
