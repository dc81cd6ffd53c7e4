"""Tuned ranker over a retriever (LlamaRec style) on ML-100K leave-one-out, full ranking.

Rows, all on the same seeded test users (``bench/llm_rank.setup``: ML-100K leave-one-out, user draw
seed 0) and the same catalog (seen items excluded):

- SASRec (20 epochs, early stopping on validation NDCG@10): the retriever;
- SASRec top 20 + zero-shot ``llm-likelihood`` (SmolLM2-135M through llama.cpp), with ``--zero-shot``;
- ``llm-llamarec``: SASRec top 20 under letters, SmolLM2-135M tuned (``--methods lora`` / ``prompt``) on
  ``--train-users`` training users, every letter scored at the answer position;
- ``llm-llara`` (``--methods hybrid``): the same with a projected SASRec item token beside each title.

``--protocol full`` (default) writes the tuned-ranker table; ``--protocol sampled`` (20 candidates: the
test item and 19 seeded negatives) the LLaRA table (text-only ``lora`` vs ``hybrid``, HR@1 by the verbalizer,
and LLaRA's generation measures: validity and HR@1 of the greedy answer, ``generate_choices``).

Metrics with 95% bootstrap CIs, the paired permutation test of each reranker against SASRec on the same
users, and training / inference costs. The tuned rankers use the fitted SASRec of the first row as their
retriever (``use_retriever``).

    python bench/llamarec.py --users 100 --train-users 128 --zero-shot
    python bench/llamarec.py --protocol sampled --methods lora hybrid --max-history 10
    python bench/llamarec.py --report          # rewrite the docs section from runs/bench-llamarec-full.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _report import write_section

SASREC = {"epochs": 20, "progress": False}
HF = {"backend": "hf", "model": "smollm2-135m", "batch_size": 16}
SMOL = {"backend": "llama-cpp", "model": "smollm2-135m", "n_threads": 1}
METHOD = {"lora": {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.05},
          "prompt": {"method": "prompt", "n_virtual_tokens": 20,
                     "init_text": "Choose the movie the user will watch next. Answer with its letter."},
          "hybrid": {"method": "hybrid", "r": 8, "alpha": 16, "dropout": 0.05, "projector_hidden": 128,
                     "curriculum": 0.5}}
LR = {"lora": 1e-3, "prompt": 3e-2, "hybrid": 1e-3}  # few steps: higher than LlamaRec's 1e-4
KS = (1, 5, 10, 20)
REFERENCE = {"full": "LlamaRec (Llama-2-7B, LoRA, all training users): ML-100K NDCG@10 0.0759 vs its retriever's "
                     "0.0705",
             "sampled": "LLaRA (Llama-2-7B, hybrid, curriculum): ML-100K HitRatio@1 0.4526 among 20 candidates, "
                        "validity 0.9789"}
METRICS = {"full": ("ndcg@10", "hr@10"), "sampled": ("hr@1", "ndcg@10")}
GENERATION = {"validity": "validity x100 [95% CI]", "gen_hr@1": "HR@1 by generation x100 [95% CI]"}


def llamarec_params(method: str, train_users: int, epochs: int, seed: int, max_history: int) -> dict:
    return {"generator": HF, "retriever": "sasrec", "retriever_params": SASREC, "top_n": 20,
            "max_history": max_history,
            "max_train_users": train_users, "sample_seed": seed, "method": METHOD[method], "progress": False,
            "train": {"epochs": epochs, "lr": LR[method], "batch_size": 4, "grad_accum": 2, "max_length": 1024,
                      "seed": seed, "save_steps": 8}}


def evaluate(model, split, users, protocol) -> dict:
    from llm4rec.eval import FullRanking

    model.set_history(split.known_for("test"))
    if protocol is None:
        res = FullRanking().evaluate(model, split, "test", ks=KS, metrics=("hr", "ndcg"), users=users,
                                     batch_size=20)
    else:
        res = protocol.evaluate(model, split, "test", ks=KS, metrics=("hr", "ndcg"), users=users)
    return {"users": [int(u) for u in res.users], **{k: [float(x) for x in v] for k, v in res.per_user.items()},
            "eval_seconds": res.seconds}


def generation(model, split, users, protocol, row_users: list[int]) -> dict:
    """Greedy answers among the sampled protocol's candidates, handed over in the order the protocol shows
    them (the prompt then lists them as ``score`` does): per-user validity and HR@1 by generation, in the
    order of ``row_users`` (the verbalizer's rows, checked)."""
    from llm4rec.eval.protocols.base import select_users

    all_users, items = protocol.candidates(split, "test")
    keep = select_users(all_users, users)
    shown = np.take_along_axis(items[keep], protocol.shown_order(split, "test")[keep], axis=1)
    got = model.generate_choices(all_users[keep], shown, targets=items[keep, 0])
    assert got.users.tolist() == row_users, "generation rows differ from the evaluated rows"
    return {"validity": got.valid.astype(float).tolist(),
            "gen_hr@1": got.hits.astype(float).tolist(), "gen_texts": got.texts}


def run(args: argparse.Namespace) -> list[dict]:
    from llm4rec.eval import early_stopping
    from llm4rec.models import make_model
    from llm4rec.models.llm.rerank import RerankRecommender
    from llm_rank import setup

    split, users, sampled = setup("ml-100k", args.users, 0)
    protocol = sampled if args.protocol == "sampled" else None
    options = early_stopping(split.train, split.valid)
    rows = []

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("")

    def done(row: dict) -> None:  # each row is on disk as soon as it is measured
        rows.append(row)
        with args.out.open("a") as f:
            f.write(json.dumps({**row, "command": args.command}) + "\n")
        print(json.dumps({k: v for k, v in row.items() if not isinstance(v, list)}), flush=True)

    t0 = time.perf_counter()
    sasrec = make_model("sasrec", {**SASREC, "epochs": args.sasrec_epochs}).fit(split.train, split.valid, options)
    done({"model": "sasrec", "fit_seconds": time.perf_counter() - t0, **evaluate(sasrec, split, users, protocol)})
    if args.zero_shot:
        ranker = make_model("llm-likelihood", {"generator": SMOL, "max_history": 15, "progress": False})
        ranker.fit(split.train, split.valid)
        model = RerankRecommender.from_models(sasrec, ranker, top_n=20)
        done({"model": "sasrec top-20 + llm-likelihood zero-shot", "fit_seconds": 0.0,
              **evaluate(model, split, users, protocol), **model.costs()})
    for method in args.methods:
        t0 = time.perf_counter()
        name = "llm-llara" if method == "hybrid" else "llm-llamarec"
        model = make_model(name, llamarec_params(method, args.train_users, args.epochs, 0, args.max_history))
        model.use_retriever(sasrec).fit(split.train, split.valid, options)  # the same SASRec as the first row
        fit_s = time.perf_counter() - t0
        model.reset_usage()
        row = {"model": f"{name} {method}", "fit_seconds": fit_s, "train_users": args.train_users, "lr": LR[method],
               "epochs": args.epochs, **evaluate(model, split, users, protocol)}
        if protocol is not None:
            row.update(generation(model, split, users, protocol, row["users"]),
                       generate_tokens=model.config.generate_tokens)
        done({**row, **model.costs()})
    return rows


def ci_cell(values: list[float]) -> str:
    """``mean [low, high]`` x100 with the percentile bootstrap CI over users."""
    from llm4rec.eval.stats import bootstrap_ci

    mean, lo, hi = bootstrap_ci(np.asarray(values), n_boot=1000, seed=0)
    return f"{100 * mean:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]"


def report(rows: list[dict], protocol: str) -> str:
    from llm4rec.eval.stats import paired_test

    main_metric, second = METRICS[protocol]
    base = next((r for r in rows if r["model"] == "sasrec"), None)
    up = {m: m.upper() for m in (main_metric, second)}
    gen_cols = GENERATION if protocol == "sampled" else {}
    lines = [f"| model | {up[main_metric]} x100 [95% CI] | {up[second]} x100 [95% CI] | {up[main_metric]} diff vs "
             "SASRec [95% CI] | p | fit s | inference s/user | inference tokens/user |"
             + "".join(f" {head} |" for head in gen_cols.values()), "|---" * (8 + len(gen_cols)) + "|"]
    verdicts = []
    for r in rows:
        cells = [ci_cell(r[m]) for m in (main_metric, second)]
        gen = [ci_cell(r[m]) if m in r else "-" for m in gen_cols]
        if base is not None and r is not base:
            assert r["users"] == base["users"]
            t = paired_test(np.asarray(r[main_metric]), np.asarray(base[main_metric]), n_boot=2000, seed=0)
            diff, p = f"{100 * t.diff:+.2f} [{100 * t.low:+.2f}, {100 * t.high:+.2f}]", f"{t.p_value:.3f}"
            if r["model"].startswith(("llm-llamarec", "llm-llara")):
                verdicts.append(f"{r['model']}: {'MET' if t.diff > 0 and t.p_value < 0.05 else 'NOT MET'} "
                                f"(diff {100 * t.diff:+.2f}, p = {t.p_value:.3f})")
        else:
            diff, p = "-", "-"
        lines.append(f"| {r['model']} | {cells[0]} | {cells[1]} | {diff} | {p} | {r.get('fit_seconds', 0):.0f} | "
                     f"{r.get('lm_seconds_per_user', 0):.2f} | {r.get('lm_tokens_per_user', 0):.0f} |"
                     + "".join(f" {c} |" for c in gen))
    tuned = [r for r in rows if r["model"].startswith(("llm-llamarec", "llm-llara"))]
    cost = ["| model | training users drawn (of: target in SASRec top 20 / eligible) | trainable params | steps | "
            "train s | s/step | train tokens/s | adapter bytes |", "|---" * 8 + "|"]
    for r in tuned:
        cost.append(f"| {r['model']} | {r['train_users']} (of {r.get('llamarec_target_in_top', 0):.0f} / "
                    f"{r.get('llamarec_eligible_users', 0):.0f}) | {r.get('tune_trainable_params', 0):,.0f} | "
                    f"{r.get('tune_steps', 0):.0f} | {r.get('tune_train_seconds', 0):.0f} | "
                    f"{r.get('tune_seconds_per_step', 0):.2f} | {r.get('tune_tokens_per_second', 0):.0f} | "
                    f"{r.get('tune_saved_bytes', 0):,.0f} |")
    n = len(base["users"]) if base else 0
    epochs = tuned[0]["epochs"] if tuned else "-"
    lr = tuned[0].get("lr", "-") if tuned else "-"
    setting = ("Full ranking over the ML-100K catalog (seen items excluded)" if protocol == "full" else
               "20 candidates per user: the test item and 19 seeded uniform negatives (sampled protocol, seed 0, "
               "identical for every model; LLaRA's own code redraws them unseeded)")
    target = ("the tuned ranker improves its retriever with p < 0.05" if protocol == "full" else
              "hybrid prompts above text-only and SASRec (HR@1)")
    gen_tokens = next((r["generate_tokens"] for r in tuned if "generate_tokens" in r), "-")
    gen_note = ("" if not gen_cols else f"""
HR@1 is the verbalizer's (the letter with the highest probability at the answer position, never invalid);
*validity* and *HR@1 by generation* are LLaRA's measures: the tuned model decodes {gen_tokens} tokens greedily
and unconstrained from the same prompt, and its answer counts as valid when it starts with one of the shown
letters (`A`, ` (B)`, `C.`; `llm4rec.models.llm.tuned.parse_choice`), as a hit when that letter is the test
item's (an invalid answer is a miss).""")
    return f"""{setting}; leave-one-out test item of {n} seeded ML-100K users (`bench/llm_rank.setup`, user
draw seed 0). The tuned rankers rerank SASRec's top 20 (the *same* fitted SASRec as the first row) and keep
its order below them. CIs: percentile bootstrap over users (1000 resamples); p: paired sign-flip permutation
test on per-user {main_metric} against SASRec (2000 flips). Reference: {REFERENCE[protocol]}.{gen_note}

{chr(10).join(lines)}

Target ({target}): **{'; '.join(verdicts) or 'not measured'}**.

Tuning (SmolLM2-135M float32 through transformers, single CPU thread, {epochs} epoch(s), batch 4 x 2
accumulation, max 1024 tokens, lr {lr}, no early stopping). LlamaRec / LLaRA train on every training
user whose target the retriever ranks in its top 20 (LlamaRec) or on all training users (LLaRA), with
Llama-2-7B; here a seeded draw of those users, so these rows measure the recipe at a tiny budget, not
the papers' models:

{chr(10).join(cost)}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--train-users", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-history", type=int, default=20)
    ap.add_argument("--sasrec-epochs", type=int, default=SASREC["epochs"])
    ap.add_argument("--protocol", choices=("full", "sampled"), default="full",
                    help="full: the tuned-ranker table; sampled (20 candidates): the LLaRA table")
    ap.add_argument("--methods", nargs="*", default=["lora"], choices=sorted(METHOD),
                    help="lora / prompt: llm-llamarec; hybrid: llm-llara")
    ap.add_argument("--zero-shot", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="default runs/bench-llamarec-<protocol>.jsonl")
    ap.add_argument("--report", action="store_true", help="only rewrite the docs section from --out")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    out = args.out = args.out or Path(f"runs/bench-llamarec-{args.protocol}.jsonl")
    command = args.command = "python " + " ".join(sys.argv[:1] + [a for a in sys.argv[1:] if a != "--report"])
    if not args.report:
        run(args)
    rows = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
    command = rows[0].get("command", command) if rows else command
    body = report(rows, args.protocol)
    print(body)
    if args.protocol == "full":
        write_section("llamarec", "Tuned ranker over SASRec (LlamaRec style), ML-100K full ranking", body, command)
    else:
        write_section("llara", "Hybrid ID + text prompts (LLaRA style) vs text-only, 20 candidates, ML-100K", body,
                      command)


if __name__ == "__main__":
    main()
