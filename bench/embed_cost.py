"""Cost of adapting a language encoder: frozen vs prompt tuning vs end-to-end fine-tuning (ML-100K).

Reads the run folders of ``configs/embed-twotower.toml`` (full ranking, 300 users)
and ``configs/embed-prompt4nr.toml`` (target + 19 sampled negatives, 100 users)
-- run them first with ``llm4rec run`` (or pass ``--run``) -- and tabulates
parameters trained, training seconds and accuracy next to each other. UniSRec's
adaptor (frozen encoder, trained MoE + transformer) is added from
``configs/embed-ml100k-seq.toml`` for scale.

    python bench/embed_cost.py [--run]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section
from llm4rec.eval.config import load_run_config
from llm4rec.eval.runner import run
from llm4rec.models import make_model

CONFIGS = ["configs/embed-twotower.toml", "configs/embed-prompt4nr.toml", "configs/embed-ml100k-seq.toml"]
ACCURACY = {"full": ("ndcg", 10), "sampled": ("ndcg", 10)}


def unisrec_params(label: str, cfg_path: str) -> int:
    """Trainable parameters of a UniSRec as configured (built, not trained): its public fitted sizes
    (ML-100K ids, 384-d MiniLM item texts) set by hand, then ``build_network()``."""
    spec = next(m for m in load_run_config(cfg_path).models if m.display == label)
    model = make_model(spec.name, spec.params)
    model.n_users_, model.n_items_ = 943, 1682
    model.item_text_ = np.zeros((1682, 384), np.float32)
    return sum(p.numel() for p in model.build_network().parameters() if p.requires_grad)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", action="store_true", help="run the configs first (otherwise read runs/)")
    args = ap.parse_args()
    rows = []
    for path in CONFIGS:
        cfg = load_run_config(path)
        folder = cfg.output_dir()
        if args.run:
            run(cfg, overwrite=True)
        if not (folder / "results.json").exists():
            print(f"skipping {path}: no results in {folder}", file=sys.stderr)
            continue
        records = json.loads((folder / "results.json").read_text())
        for spec in cfg.models:
            label = spec.display
            if "seq" in path and not label.startswith("unisrec"):
                continue
            mine = [r for r in records if r["model"] == label]
            if not mine:
                continue
            cost = {r["metric"]: r["value"] for r in mine if r["protocol"] == "cost"}
            acc = next((r for r in mine if r["protocol"].split("-")[0] in ACCURACY
                        and (r["metric"], r["k"]) == ACCURACY[r["protocol"].split("-")[0]]), None)
            params = cost.get("params_trained")
            if label.startswith("unisrec"):
                params = unisrec_params(label, path)
            protocol = {"full": "full ranking", "sampled": "1 + 19 sampled"}.get(acc["protocol"].split("-")[0], "") \
                if acc else ""
            rows.append(f"| {label} | {path.split('/')[-1]} | {int(params or 0):,} | "
                        f"{cost.get('finetune_seconds', float('nan')):.0f} | "
                        f"{cost.get('seconds_per_epoch', float('nan')):.0f} | {cost.get('fit_seconds', 0):.0f} | "
                        + (f"{acc['value']:.4f} [{acc['ci_low']:.4f}, {acc['ci_high']:.4f}] ({protocol}, "
                           f"{acc['n_users']} users)" if acc else "") + " |")
    body = ("Encoder all-MiniLM-L6-v2 (22.7M parameters) everywhere. `fit s` is the whole fit (encoding the "
            "catalog included; frozen encodings replay from the lm cache); `tune s` and `s/epoch` cover the "
            "gradient steps only (one epoch). Wall times on a 2-core machine shared with other jobs: read them as "
            "upper bounds. Accuracy rows use different protocols (full ranking vs sampled) and are comparable "
            "only within one config.\n\n"
            "| model | config | params trained | tune s | s/epoch | fit s | NDCG@10 [95% CI] |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    write_section("embed-cost", "LLM embeddings: cost of frozen vs prompt-tuned vs fine-tuned encoders",
                  body, "python bench/embed_cost.py" + (" --run" if args.run else ""))


if __name__ == "__main__":
    main()
