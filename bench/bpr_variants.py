"""BPR-MF variants over model seeds: mean best-valid NDCG@10 (the selection criterion) and test NDCG@10.

How the BPR-MF defaults were chosen (issue 16). Leave-one-out split of the classic configs, full ranking
with train + valid items excluded for test; each fit early-stops on valid NDCG@10 and keeps the
best-valid weights ("_last": no early stopping, last weights; "_xavier" / "_nobias": RecBole's Xavier-normal
init and no item bias, through a subclass). One JSON line per (variant, seed) in --out: resumable.

    PYTHONPATH=src .venv/bin/python bench/bpr_variants.py run ml-100k --seeds 0,1,2
    PYTHONPATH=src .venv/bin/python bench/bpr_variants.py report ml-100k      # writes the bpr-variants section
"""

from __future__ import annotations

import argparse
import json
import statistics as st
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from llm4rec.data import load_dataset
from llm4rec.data.split import leave_one_out
from llm4rec.eval import FullRanking, early_stopping
from llm4rec.models import make_model

ROOT = Path(__file__).resolve().parent.parent


def run_one(split: Any, params: dict[str, Any], seed: int) -> dict[str, Any]:
    p = dict(params)
    xavier, nobias, last = p.pop("_xavier", False), p.pop("_nobias", False), p.pop("_last", False)
    model = make_model("bpr", {"progress": False, "seed": seed, **p})
    if xavier or nobias:
        build = model._build_net

        def _build() -> nn.Module:
            net = build()
            if xavier:
                nn.init.xavier_normal_(net.user.weight)
                nn.init.xavier_normal_(net.item.weight)
            if nobias:
                nn.init.zeros_(net.bias.weight)
                net.bias.weight.requires_grad_(False)
            return net

        model._build_net = _build  # type: ignore[method-assign]
    opts = early_stopping(split.train, split.valid)
    t, c = time.perf_counter(), time.process_time()
    model.fit(split.train, split.valid, None if last else opts)
    fit_s, fit_cpu = time.perf_counter() - t, time.process_time() - c
    curve = [round(e["ndcg@10"], 4) for e in model.fit_log_ if "ndcg@10" in e]
    valid = float(opts.validator(model)) if last else max(curve)  # type: ignore[misc]
    model.set_history(split.known_for("test"))
    test = FullRanking().evaluate(model, split, "test", ks=(10,), metrics=("ndcg",)).per_user["ndcg@10"]
    return {"seed": seed, "params": params, "valid": valid, "test": float(np.mean(test)),
            "best_epoch": model.best_epoch_, "epochs": len(model.fit_log_), "stop": model.stop_reason_,
            "curve": curve, "fit_s": round(fit_s, 1), "fit_cpu": round(fit_cpu, 1)}


def table(rows: list[dict[str, Any]]) -> str:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r["variant"]].append(r)
    lines = ["| variant | params | seeds | mean valid NDCG@10 | mean test NDCG@10 (per seed) | best epoch "
             "| fit CPU s |", "|---|---|---:|---:|---|---|---:|"]
    for v, rs in sorted(groups.items(), key=lambda kv: -st.mean(r["valid"] for r in kv[1])):
        lines.append(f"| {v} | `{json.dumps(rs[0]['params'])}` | {len(rs)} | {st.mean(r['valid'] for r in rs):.4f} "
                     f"| {st.mean(r['test'] for r in rs):.4f} ({', '.join(format(r['test'], '.4f') for r in rs)}) "
                     f"| {', '.join(str(r['best_epoch']) for r in rs)} | {st.mean(r['fit_cpu'] for r in rs):.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["run", "report"])
    ap.add_argument("dataset")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--variants", type=Path, default=ROOT / "bench" / "bpr_variants.json",
                    help="JSON {name: bpr params}")
    ap.add_argument("--out", type=Path, default=None, help="results JSONL (default runs/bpr-variants-DATASET.jsonl)")
    ap.add_argument("--note", default="", help="report: text added under the table")
    args = ap.parse_args()
    out = args.out or ROOT / "runs" / f"bpr-variants-{args.dataset}.jsonl"
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    if args.action == "run":
        done = {(r["variant"], r["seed"]) for r in rows}
        split = leave_one_out(load_dataset(args.dataset), seed=42)
        out.parent.mkdir(parents=True, exist_ok=True)
        for name, params in json.loads(args.variants.read_text()).items():
            for seed in (int(s) for s in args.seeds.split(",")):
                if (name, seed) not in done:
                    rec = {"variant": name, **run_one(split, params, seed)}
                    print(json.dumps(rec), flush=True)
                    with out.open("a") as f:
                        f.write(json.dumps(rec) + "\n")
        return
    from _report import write_section

    body = (__doc__.split("\n\n")[1].replace("\n", " ") + "\n\n" + table(rows) + "\n\n" + args.note).strip()
    write_section(f"bpr-variants-{args.dataset}", f"BPR-MF variants over model seeds ({args.dataset})", body,
                  f"PYTHONPATH=src .venv/bin/python bench/bpr_variants.py run {args.dataset} --seeds {args.seeds} "
                  f"--variants bench/bpr_variants.json")


if __name__ == "__main__":
    main()
