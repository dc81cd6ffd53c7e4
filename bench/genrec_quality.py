"""Generative retrieval quality (#13): configs/genrec-ml100k.toml (SASRec + the from-scratch decoder per
item tokenizer), leave-one-out full ranking, NDCG@10 / HR@10 with bootstrap CIs, paired tests against
the best model, generation cost (beams, tokens per item, seconds per user) from the cost table.

    PYTHONPATH=src python bench/genrec_quality.py [--config configs/genrec-ml100k.toml] [--max-users 300]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _report import write_section
from llm4rec.eval import run
from llm4rec.eval.config import load_run_config

NOTE = ("genrec / p5 rank only the items their beam (width 20) writes; the rest share one floor score, so HR/NDCG@20 "
        "count only written items. bigrec grounds its generated title to every catalog item (embedding cosine + "
        "the popularity weight chosen on validation), so it ranks the whole catalog. Seconds per user: cost table.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/genrec-ml100k.toml")
    ap.add_argument("--max-users", type=int, default=None,
                    help="evaluate a seeded user sample (say so); default: the config's eval.max_users")
    ap.add_argument("--models", default=None, help="comma-separated labels: run only these models of the config")
    ap.add_argument("--out", default="runs/genrec-bench")
    ap.add_argument("--resume", action="store_true",
                    help="continue an interrupted run in --out (finished models are not refitted)")
    args = ap.parse_args()
    cfg = load_run_config(args.config)
    if args.max_users is not None:
        cfg.eval.max_users = args.max_users
    if args.models:
        keep = args.models.split(",")
        unknown = sorted(set(keep) - {m.display for m in cfg.models})
        if unknown:
            ap.error(f"--models: {unknown} not in {[m.display for m in cfg.models]}")
        cfg.models = [m for m in cfg.models if m.display in keep]
    run(cfg, Path(args.out), overwrite=not args.resume, resume=args.resume)
    text = (Path(args.out) / "report.md").read_text()
    body = text.split("\n", 2)[2] if text.startswith("# ") else text
    n = cfg.eval.max_users
    sample = f"a seeded sample of {n} test users" if n else "all test users"
    print(body)
    write_section(f"genrec-{cfg.name}", f"Generative recommendation: {cfg.name} ({sample})",
                  body + "\n" + NOTE,
                  f"PYTHONPATH=src python bench/genrec_quality.py --config {args.config}"
                  + (f" --max-users {args.max_users}" if args.max_users else "")
                  + (f" --models {args.models}" if args.models else ""))


if __name__ == "__main__":
    main()
