"""Quality of the classic baselines: leave-one-out, full ranking, NDCG@10 / HR@10 with 95% CIs.

Runs the ready configs through the same runner users call (``llm4rec run``) and writes the
``classic-quality`` section of docs/benchmarks.md. Usage::

    python bench/classic_quality.py                      # configs/ml100k-classic.toml and ml1m-classic.toml
    python bench/classic_quality.py configs/ml100k-classic.toml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _report import write_section
from llm4rec.eval.config import load_run_config
from llm4rec.eval.results import Record
from llm4rec.eval.runner import run

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [ROOT / "configs" / "ml100k-classic.toml", ROOT / "configs" / "ml1m-classic.toml"]
#: SASRec on ML-100K under this protocol in Table 1 of LlamaRec (Yue et al., 2023)
REFERENCE = {"ml-100k": {"ndcg@10": 0.0522, "hr@10": 0.0993}}


def rows_for(config: Path, out_root: Path, reuse: bool = False) -> list[str]:
    """Table rows for one config; ``reuse`` reads an existing (possibly partial) results.json instead."""
    cfg = load_run_config(config)
    if reuse:
        records = [Record(**r) for r in json.loads((out_root / cfg.name / "results.json").read_text())]
    else:
        records = run(cfg, out_root / cfg.name, overwrite=True).records
    recs = {(r.model, r.protocol, r.metric if r.k is None else f"{r.metric}@{r.k}"): r for r in records}
    rows = []
    for spec in cfg.models:
        m = spec.display
        cells = []
        for metric in ("ndcg@10", "hr@10"):
            r = recs.get((m, "full", metric))
            cells.append("not finished" if r is None else f"{r.value:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}]")
        fit = recs.get((m, "cost", "fit_seconds"))
        ev = recs.get((m, "cost", "eval_seconds[full]"))
        n = recs.get((m, "full", "ndcg@10"))
        rows.append(f"| {cfg.dataset.name} | {m} | {cells[0]} | {cells[1]} | "
                    f"{'' if fit is None else f'{fit.value:.1f}'} | {'' if ev is None else f'{ev.value:.2f}'} | "
                    f"{'' if n is None else n.n_users} |")
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-classic")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    ap.add_argument("--reuse", action="store_true",
                    help="format the existing results.json under --out (a partial run shows 'not run')")
    args = ap.parse_args(argv)
    header = ["| dataset | model | NDCG@10 [95% CI] | HR@10 [95% CI] | fit s | eval s | test users |",
              "|---|---|---|---|---:|---:|---:|"]
    rows = [row for c in args.configs for row in rows_for(c, args.out, args.reuse)]
    table = "\n".join(header + rows)
    print(table)
    ref = REFERENCE["ml-100k"]
    body = (
        "Leave-one-out by time (valid = second-last, test = last interaction per user), full ranking over "
        "the whole catalog with the user's train + valid items excluded; every model trained on train "
        "with early stopping on valid NDCG@10 (the defaults in `llm4rec models`), then given train + valid "
        "as history for the test ranking. CIs: percentile bootstrap over users, 1000 resamples.\n\n"
        f"{table}\n\nReference (LlamaRec, Table 1, ML-100K, same protocol): SASRec NDCG@10 {ref['ndcg@10']}, "
        f"HR@10 {ref['hr@10']}.\n")
    if args.reuse:
        body += ("\nFormatted from an existing results.json (`--reuse`); models marked 'not finished' had not "
                 "completed when it was read.\n")
    if not args.no_write:
        cmd = "python bench/classic_quality.py " + ("--reuse " if args.reuse else "") + " ".join(
            str(c.relative_to(ROOT)) if c.is_absolute() else str(c) for c in args.configs)
        names = "+".join(load_run_config(c).dataset.name for c in args.configs)
        write_section(f"classic-quality-{names}", f"Classic baselines ({names}): leave-one-out, full ranking",
                      body, cmd)


if __name__ == "__main__":
    sys.exit(main())
