"""Paradigm 2 benchmark: CTR AUC / logloss of DCNv2 and DIN with no side features, the catalog-text
control and LLM-generated item knowledge, per model seed (resumable: finished (model, seed) pairs are
skipped), and the Markdown table of docs/benchmarks.md.

    python bench/tokens_ctr.py run --config configs/tokens-ml100k-ctr-items.toml --seeds 42 --models dcnv2-none
    python bench/tokens_ctr.py report --config configs/tokens-ml100k-ctr-items.toml

Every (model, seed) is one ``llm4rec run`` of the config restricted to that model with ``seed`` set,
written to ``runs/tokens_ctr/<config>/<label>-seed<s>/``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

RUNS = Path("runs") / "tokens_ctr"


def run(config: str, seeds: list[int], models: set[str] | None) -> None:
    from llm4rec.eval.config import load_run_config
    from llm4rec.eval.runner import run as run_config

    base = load_run_config(config)
    for spec in base.models:
        if models and spec.display not in models:
            continue
        for seed in seeds:
            out = RUNS / base.name / f"{spec.display}-seed{seed}"
            if (out / "results.json").exists():
                print(f"skip {out} (done)")
                continue
            one = spec.model_copy(update={"params": {**spec.params, "seed": seed, "progress": False}})
            cfg = base.model_copy(update={"models": [one], "output": base.output.model_copy(update={"dir": str(out)})})
            t0 = time.perf_counter()
            run_config(cfg, out, overwrite=True)
            print(f"{spec.display} seed {seed}: {time.perf_counter() - t0:.0f} s -> {out}", flush=True)


def report(config: str) -> str:
    from llm4rec.eval.config import load_run_config

    base = load_run_config(config)
    lines = ["| model | side | seeds | AUC | GAUC | logloss | fit s |", "|---|---|---:|---:|---:|---:|---:|"]
    for spec in base.models:
        vals: dict[str, list[float]] = {"auc": [], "gauc": [], "logloss": [], "fit_seconds": []}
        for res in sorted((RUNS / base.name).glob(f"{spec.display}-seed*/results.json")):
            for r in json.loads(res.read_text()):
                if r["metric"] in vals and r["value"] is not None:
                    vals[r["metric"]].append(float(r["value"]))
        if not vals["auc"]:
            continue

        def fmt(xs: list[float], digits: int = 4) -> str:
            if len(xs) < 2:
                return f"{xs[0]:.{digits}f}" if xs else "-"
            return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"

        side = spec.params.get("side", "none")
        lines.append(f"| {spec.name} | {side} | {len(vals['auc'])} | {fmt(vals['auc'])} | {fmt(vals['gauc'])} | "
                     f"{fmt(vals['logloss'])} | {fmt(vals['fit_seconds'], 0)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["run", "report"])
    ap.add_argument("--config", default="configs/tokens-ml100k-ctr-items.toml")
    ap.add_argument("--seeds", default="42")
    ap.add_argument("--models", default="")
    a = ap.parse_args()
    if a.what == "run":
        run(a.config, [int(s) for s in a.seeds.split(",")], set(filter(None, a.models.split(","))) or None)
    else:
        print(report(a.config))


if __name__ == "__main__":
    main()
