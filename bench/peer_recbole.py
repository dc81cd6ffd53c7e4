"""llm4rec vs RecBole 1.2.1, side by side: same data, same split, same protocol, matched hyper-parameters.

What is compared
    ML-100K loaded by llm4rec, leave-one-out by time (valid = second-last,
    test = last interaction of each user), full ranking over the whole catalog
    with every train + valid item of the user excluded, NDCG@10 and HR@10 on
    test. Models: SASRec (full-softmax cross-entropy) and BPR-MF, a fixed
    number of epochs, no early stopping, the same epochs on both sides.

How the peer is fed
    RecBole reads atomic files written by ``llm4rec.data.export_split`` from
    llm4rec's split (dense user / item ids, and the row position within
    llm4rec's (user, time, tie policy)-sorted log as the timestamp, so time ties
    are broken identically). RecBole's
    ``eval_args`` are ``{split: {LS: valid_and_test}, order: TO, mode: full,
    group_by: user}``, nothing is filtered. RecBole runs in its own virtual
    environment (``bench/requirements-peer.txt``; RecBole is never a dependency
    of llm4rec) in a subprocess: this file re-runs itself there with ``--worker``.

One patch is applied to RecBole at run time (``_patch_recbole``): RecBole's
full-sort evaluation does not exclude already-seen items for *sequential*
models (``FullSortEvalDataLoader`` passes ``history_index=None``), while it
does for general models such as BPR. The patch masks each user's train + valid
items in SASRec's scores too, so both toolkits rank under the same protocol
(without it RecBole's SASRec would lose accuracy to seen items). Time spent
masking is counted in RecBole's evaluation time.

Timing: seconds per training epoch are measured around each epoch of the
training loop only (RecBole ``Trainer._train_epoch``; llm4rec's per-epoch
``fit_log_``); seconds per evaluation around one full-ranking pass over the
test users (RecBole ``Trainer.evaluate(test_data, load_best_model=False)``;
llm4rec ``FullRanking().evaluate(model, split, "test")``), median of
``--eval-repeats`` passes. Both use torch on CPU with the same thread count.

Run (about 12 minutes of CPU time with the defaults, two thirds of it RecBole's two SASRec epochs at
about 200 CPU seconds each; on a machine shared with other jobs the wall time is several times that)::

    python3 -m venv .venv-peer
    .venv-peer/bin/pip install -c constraints.txt -r bench/requirements-peer.txt
    PYTHONPATH=src .venv/bin/python bench/peer_recbole.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATASET = "ml100k_llm4rec"

# Matched hyper-parameters: (llm4rec params, RecBole config). Comments say where the toolkits differ.
SASREC_SHARED = dict(hidden=64, layers=2, heads=2, inner=256, dropout=0.2, max_len=50, lr=1e-3, batch_size=256)
BPR_SHARED = dict(factors=64, lr=1e-3, batch_size=2048)


def ours_params(model: str, epochs: int, seed: int) -> dict:
    if model == "sasrec":
        s = SASREC_SHARED
        return dict(hidden=s["hidden"], layers=s["layers"], heads=s["heads"], ff_mult=s["inner"] // s["hidden"],
                    dropout=s["dropout"], max_len=s["max_len"], lr=s["lr"], batch_size=s["batch_size"],
                    loss="ce", epochs=epochs, seed=seed, progress=False)
    s = BPR_SHARED
    return dict(factors=s["factors"], lr=s["lr"], batch_size=s["batch_size"], reg=0.0, epochs=epochs,
                seed=seed, progress=False)


def recbole_config(model: str, epochs: int, seed: int, data_path: Path, n_items: int) -> dict:
    cfg = {
        "data_path": str(data_path), "checkpoint_dir": str(data_path.parent / "saved"),
        "use_gpu": False, "seed": seed, "reproducibility": True, "show_progress": False, "state": "WARNING",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
        "user_inter_num_interval": "[0,inf)", "item_inter_num_interval": "[0,inf)",
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
        "metrics": ["NDCG", "Hit"], "topk": [10], "valid_metric": "NDCG@10",
        "epochs": epochs, "eval_step": 0, "learner": "adam", "weight_decay": 0.0,
        # --early-stopping: RecBole's own defaults (validate every epoch, stop after 10 without improvement)
        "stopping_step": 10,
        # users per evaluation batch: 1024 for both toolkits (RecBole counts rows = users x items for
        # general models, users for sequential ones)
        "eval_batch_size": 1024 * (n_items + 1),
    }
    if model == "sasrec":
        s = SASREC_SHARED
        cfg.update({"hidden_size": s["hidden"], "n_layers": s["layers"], "n_heads": s["heads"],
                    "inner_size": s["inner"], "hidden_dropout_prob": s["dropout"],
                    "attn_dropout_prob": s["dropout"], "hidden_act": "gelu", "MAX_ITEM_LIST_LENGTH": s["max_len"],
                    "learning_rate": s["lr"], "train_batch_size": s["batch_size"], "loss_type": "CE",
                    "train_neg_sample_args": None})
    else:
        s = BPR_SHARED
        cfg.update({"embedding_size": s["factors"], "learning_rate": s["lr"], "train_batch_size": s["batch_size"],
                    "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1}})
    return cfg


# ============================================================================ peer worker (RecBole venv)
def _patch_recbole(seen: dict[int, list[int]]) -> None:
    """Exclude seen items for sequential models in RecBole's full-sort evaluation (see module docstring).

    ``seen`` maps RecBole's internal user id to RecBole internal item ids of the
    user's train + valid interactions.
    """
    import numpy as np
    import torch
    from recbole.trainer import Trainer

    original = Trainer._full_sort_batch_eval
    rows = {u: torch.as_tensor(np.asarray(items, dtype=np.int64)) for u, items in seen.items()}

    def _full_sort_batch_eval(self, batched_data):
        interaction, scores, positive_u, positive_i = original(self, batched_data)
        if batched_data[1] is None:  # sequential model: RecBole masked nothing
            uids = interaction[self.config["USER_ID_FIELD"]].tolist()
            r = torch.cat([torch.full((len(rows[u]),), i, dtype=torch.long) for i, u in enumerate(uids)])
            c = torch.cat([rows[u] for u in uids])
            scores[r, c] = -np.inf
        return interaction, scores, positive_u, positive_i

    Trainer._full_sort_batch_eval = _full_sort_batch_eval


class _Limited:
    """The first ``n`` batches of a RecBole train loader (``--max-batches``, for quick timing probes)."""

    def __init__(self, loader, n: int) -> None:
        self.loader, self.n, self.shuffle = loader, n, loader.shuffle

    def __iter__(self):
        import itertools

        return itertools.islice(iter(self.loader), self.n)

    def __len__(self) -> int:
        return min(self.n, len(self.loader))


def worker(args: argparse.Namespace) -> None:
    """Train and evaluate one RecBole model; print one JSON line with the measurements."""
    import logging

    import numpy as np
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_logger, init_seed

    torch.set_num_threads(args.threads)
    data_path = Path(args.data_path)
    n_items = int(args.n_items)
    name = {"sasrec": "SASRec", "bpr": "BPR"}[args.model]
    cfg_dict = recbole_config(args.model, args.epochs, args.seed, data_path, n_items)
    if args.early_stopping:
        cfg_dict["eval_step"] = 1
    config = Config(model=name, dataset=args.dataset_name, config_dict=cfg_dict)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logging.getLogger().setLevel(logging.WARNING)
    t0 = time.perf_counter()
    dataset = create_dataset(config)
    train_data, _valid_data, test_data = data_preparation(config, dataset)
    prep_s = time.perf_counter() - t0

    # train + valid items of every user (RecBole ids): all interactions but each user's last one
    inter = dataset.inter_feat
    uid = inter[config["USER_ID_FIELD"]].numpy()
    iid = inter[config["ITEM_ID_FIELD"]].numpy()
    ts = inter[config["TIME_FIELD"]].numpy()
    order = np.lexsort((ts, uid))
    uid, iid = uid[order], iid[order]
    last = np.r_[uid[1:] != uid[:-1], True]
    seen: dict[int, list[int]] = {}
    for u, i in zip(uid[~last].tolist(), iid[~last].tolist(), strict=True):
        seen.setdefault(u, []).append(i)
    _patch_recbole(seen)

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    n_params = sum(p.numel() for p in model.parameters())

    if args.early_stopping:
        _worker_early_stopping(trainer, train_data, _valid_data, test_data, name, args)
        return
    epoch_s, epoch_cpu, losses = [], [], []
    batches = train_data if not args.max_batches else _Limited(train_data, args.max_batches)
    for epoch in range(args.epochs):
        start, cpu = time.perf_counter(), time.process_time()
        loss = trainer._train_epoch(batches, epoch, show_progress=False)
        epoch_s.append(time.perf_counter() - start)
        epoch_cpu.append(time.process_time() - cpu)
        losses.append(float(loss if not isinstance(loss, tuple) else sum(loss)) / max(1, len(batches)))

    n_eval = {}
    evaluate_struct = trainer.evaluator.evaluate

    def counting_evaluate(struct):
        n_eval["users"] = int(struct.get("rec.topk").shape[0])
        return evaluate_struct(struct)

    trainer.evaluator.evaluate = counting_evaluate
    eval_s, eval_cpu, result = [], [], None
    for _ in range(args.eval_repeats):
        start, cpu = time.perf_counter(), time.process_time()
        result = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
        eval_s.append(time.perf_counter() - start)
        eval_cpu.append(time.process_time() - cpu)
    import recbole

    print("RESULT " + json.dumps({
        "toolkit": f"RecBole {recbole.__version__}", "model": name, "epochs": args.epochs,
        "ndcg@10": float(result["ndcg@10"]), "hr@10": float(result["hit@10"]),
        "epoch_s": epoch_s, "epoch_cpu": epoch_cpu, "eval_s": eval_s, "eval_cpu": eval_cpu,
        "eval_users": n_eval.get("users"), "prep_s": prep_s,
        "train_batches": len(train_data), "train_rows": len(train_data.dataset), "loss": losses,
        "n_items_recbole": int(dataset.item_num) - 1, "n_users_recbole": int(dataset.user_num) - 1,
        "params": n_params, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
    }), flush=True)


def _worker_early_stopping(trainer, train_data, valid_data, test_data, name: str, args: argparse.Namespace) -> None:
    """RecBole's own fit loop (validate every epoch on valid NDCG@10, ``stopping_step`` 10, best weights
    reloaded), then one test evaluation; prints one RESULT line."""
    import recbole

    curve: list[float] = []
    valid_epoch = trainer._valid_epoch

    def recording(*a, **kw):
        score, result = valid_epoch(*a, **kw)
        curve.append(float(score))
        return score, result

    trainer._valid_epoch = recording
    import torch

    load = torch.load  # RecBole reloads its own best checkpoint; torch >= 2.6 defaults to weights_only=True

    def load_own_checkpoint(*a, **kw):
        kw.setdefault("weights_only", False)
        return load(*a, **kw)

    torch.load = load_own_checkpoint
    start, cpu = time.perf_counter(), time.process_time()
    trainer.fit(train_data, valid_data, verbose=False, saved=True, show_progress=False)
    fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    result = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    print("RESULT " + json.dumps({
        "toolkit": f"RecBole {recbole.__version__}", "model": name, "seed": args.seed,
        "ndcg@10": float(result["ndcg@10"]), "hr@10": float(result["hit@10"]),
        "valid": max(curve) if curve else float("nan"), "epochs": len(curve),
        "best_epoch": curve.index(max(curve)) + 1 if curve else None, "fit_s": fit_s, "fit_cpu": fit_cpu,
    }), flush=True)


# ============================================================================ driver (llm4rec venv)
def write_atomic(split, out_dir: Path, dataset_name: str = DATASET) -> tuple[int, int]:
    """RecBole atomic files of llm4rec's split (``llm4rec.data.export_split``): the whole log, with each
    row's rank in llm4rec's (user, time, tie policy) order as the timestamp, so RecBole's time order
    reproduces llm4rec's split exactly (the same test and valid item for every user)."""
    import numpy as np

    from llm4rec.data.export import export_split

    export_split(split, out_dir / dataset_name, name=dataset_name)
    items = np.concatenate([split.train.item, split.valid.item, split.test.item])
    return len(items), len(np.unique(items))


def run_peer(model: str, epochs: int, args: argparse.Namespace, data_path: Path, n_items: int,
             dataset_name: str = DATASET) -> dict:
    cmd = [args.peer_python, str(Path(__file__).resolve()), "--worker", "--model", model, "--epochs", str(epochs),
           "--seed", str(args.seed), "--data-path", str(data_path), "--n-items", str(n_items),
           "--eval-repeats", str(args.eval_repeats), "--threads", str(args.threads),
           "--max-batches", str(args.max_batches), "--dataset-name", dataset_name]
    if args.early_stopping:
        cmd.append("--early-stopping")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(cmd, cwd=data_path.parent, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"RecBole worker failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")


def run_ours(model_name: str, epochs: int, split, args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    import llm4rec
    from llm4rec.eval.protocols import FullRanking

    torch.set_num_threads(args.threads)
    from llm4rec.models.registry import make_model

    model = make_model(model_name, ours_params(model_name, epochs, args.seed))
    start = time.perf_counter()
    model.fit(split.train)  # no valid split: fixed epochs, no early stopping (as RecBole with eval_step=0)
    fit_s = time.perf_counter() - start
    epoch_s = [e["seconds"] for e in model.fit_log_]
    epoch_cpu = [e["cpu_seconds"] for e in model.fit_log_]  # process CPU time of each epoch's steps
    model.set_history(split.known_for("test"))
    eval_s, eval_cpu, res = [], [], None
    for _ in range(args.eval_repeats):
        cpu = time.process_time()
        res = FullRanking().evaluate(model, split, "test", ks=(10,), metrics=("ndcg", "hr"))
        eval_cpu.append(time.process_time() - cpu)
        eval_s.append(res.seconds)
    n_batches = int(model.fit_log_[0]["steps"])  # optimiser steps of one epoch = its batches
    return {"toolkit": f"llm4rec {llm4rec.__version__}", "model": {"sasrec": "SASRec", "bpr": "BPR"}[model_name],
            "epochs": epochs, "ndcg@10": float(np.mean(res.per_user["ndcg@10"])),
            "hr@10": float(np.mean(res.per_user["hr@10"])), "epoch_s": epoch_s, "eval_s": eval_s,
            "epoch_cpu": epoch_cpu, "eval_cpu": eval_cpu,
            "eval_users": len(res.users), "fit_s": fit_s, "train_batches": n_batches,
            "loss": [e["loss"] for e in model.fit_log_],
            "params": sum(p.numel() for p in model.net_.parameters()), "torch_threads": torch.get_num_threads()}


def run_ours_early_stopping(split, seed: int, args: argparse.Namespace) -> dict:
    """llm4rec's BPR-MF with its defaults and early stopping on valid NDCG@10 (what ``llm4rec run`` does)."""
    import numpy as np
    import torch

    import llm4rec
    from llm4rec.eval import FullRanking, early_stopping
    from llm4rec.models import make_model

    torch.set_num_threads(args.threads)
    model = make_model("bpr", {"seed": seed, "progress": False})
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(split.train, split.valid, early_stopping(split.train, split.valid))
    fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    curve = [e["ndcg@10"] for e in model.fit_log_ if "ndcg@10" in e]
    model.set_history(split.known_for("test"))
    res = FullRanking().evaluate(model, split, "test", ks=(10,), metrics=("ndcg", "hr"))
    return {"toolkit": f"llm4rec {llm4rec.__version__}", "model": "BPR", "seed": seed,
            "ndcg@10": float(np.mean(res.per_user["ndcg@10"])), "hr@10": float(np.mean(res.per_user["hr@10"])),
            "valid": max(curve), "epochs": len(model.fit_log_), "best_epoch": model.best_epoch_,
            "fit_s": fit_s, "fit_cpu": fit_cpu}


def main_early_stopping(args: argparse.Namespace) -> None:
    """BPR-MF, each toolkit with its own defaults and early stopping, over several model seeds."""
    import numpy as np
    import torch

    from llm4rec.data import load_dataset
    from llm4rec.data.split import leave_one_out
    from llm4rec.models.classic.bpr import BPRConfig

    torch.set_num_threads(args.threads)
    ds = load_dataset(args.dataset)
    split = leave_one_out(ds)
    name = args.dataset.replace("-", "") + "_llm4rec"
    work = Path(args.workdir) / f"bpr-es-{args.dataset}"
    data_path = work / "data"
    n_rows, _ = write_atomic(split, data_path, name)
    store = work / "results.jsonl"  # one line per (toolkit, seed): an interrupted run resumes
    done = [json.loads(line) for line in store.read_text().splitlines()] if store.exists() else []
    seeds = [int(x) for x in args.seeds.split(",")]
    for seed in seeds:
        for who in args.sides.split(","):
            if any(r["seed"] == seed and r["toolkit"].split()[0] == who for r in done):
                continue
            args.seed, t = seed, time.perf_counter()
            r = run_ours_early_stopping(split, seed, args) if who == "llm4rec" else \
                run_peer("bpr", args.max_epochs, args, data_path, ds.n_items, name)
            done.append(r)
            with store.open("a") as f:
                f.write(json.dumps(r) + "\n")
            print(f"{who} seed {seed}: test NDCG@10 {r['ndcg@10']:.4f} HR@10 {r['hr@10']:.4f} valid {r['valid']:.4f} "
                  f"epochs {r['epochs']} (best {r['best_epoch']}) fit {r['fit_cpu']:.0f} CPU-s "
                  f"({time.perf_counter() - t:.0f}s)", flush=True)
    rows = sorted((r for r in done if r["seed"] in seeds), key=lambda r: (r["toolkit"], r["seed"]))
    lines = ["| toolkit | seed | test NDCG@10 | test HR@10 | best valid NDCG@10 "
             "| epochs run | best epoch | fit CPU s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['toolkit']} | {r['seed']} | {r['ndcg@10']:.4f} | {r['hr@10']:.4f} | {r['valid']:.4f} "
              f"| {r['epochs']} | {r['best_epoch']} | {r['fit_cpu']:.1f} |" for r in rows]
    means = {}
    for tk in sorted({r["toolkit"] for r in rows}):
        rs = [r for r in rows if r["toolkit"] == tk]
        nd = np.array([r["ndcg@10"] for r in rs])
        means[tk.split()[0]] = nd.mean()
        sd = nd.std(ddof=1) if len(nd) > 1 else float("nan")
        lines.append(f"| **{tk}, mean of {len(rs)}** | | **{nd.mean():.4f}** (sd {sd:.4f}) "
                     f"| {np.mean([r['hr@10'] for r in rs]):.4f} | {np.mean([r['valid'] for r in rs]):.4f} "
                     f"| {np.mean([r['epochs'] for r in rs]):.0f} | | {np.mean([r['fit_cpu'] for r in rs]):.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.no_write or len(means) < 2:
        return
    verdict = "MET" if means["llm4rec"] >= means["RecBole"] else "NOT MET"
    c = BPRConfig()
    body = f"""
{args.dataset} ({n_rows:,} interactions, {ds.n_users:,} users, {ds.n_items:,} items) loaded by llm4rec and written
as RecBole atomic files (identical split: leave-one-out by time, valid = second-last, test = last
interaction per user); full ranking with the user's train + valid items excluded. Each toolkit trains
BPR-MF with **its own defaults and its own early stopping** on valid NDCG@10, keeps the best-valid weights
and ranks test once; model seeds {args.seeds} on both sides, torch on CPU, {args.threads} thread(s).

{table}

Target (issue 16, "BPR meets the peer's quality"): llm4rec's mean test NDCG@10 >= RecBole's:
**{verdict}** ({means['llm4rec']:.4f} vs {means['RecBole']:.4f}, difference {means['llm4rec'] - means['RecBole']:+.4f}).

- RecBole 1.2.1 BPR: embedding 64, Xavier-normal init, no bias, Adam lr 0.001, batch 2048, one uniform
  negative per positive, no L2, validation every epoch, `stopping_step` 10, at most 300 epochs.
- llm4rec `bpr` defaults: factors {c.factors}, N(0, 0.1) init + item bias, Adam lr {c.lr}, batch {c.batch_size},
  {c.n_negatives} uniform negative(s) per positive, L2 `reg` {c.reg} per (u, i, j) pair, validation every
  {c.eval_every} epoch(s) (and >= {c.eval_steps} optimiser steps apart), patience {c.patience} validations,
  at most {c.epochs} epochs.
"""
    from _report import write_section

    cmd = "PYTHONPATH=src .venv/bin/python bench/peer_recbole.py" + "".join(f" {a}" for a in sys.argv[1:])
    write_section(f"peer-recbole-bpr-{args.dataset}", f"llm4rec vs RecBole, BPR-MF with early stopping "
                  f"({args.dataset}, {len(seeds)} seeds)", body, cmd)


def _med(r: dict, key: str) -> float:
    return statistics.median(r[key])


def fmt_table(rows: list[dict]) -> str:
    head = ("| model | toolkit | epochs | NDCG@10 | HR@10 | s / epoch (wall) | CPU s / epoch | batches / epoch "
            "| s / full eval (wall) | CPU s / full eval | test users |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        lines.append(f"| {r['model']} | {r['toolkit']}{' (longer run)' if r.get('extra') else ''} | {r['epochs']} "
                     f"| {r['ndcg@10']:.4f} | {r['hr@10']:.4f} | {_med(r, 'epoch_s'):.2f} | {_med(r, 'epoch_cpu'):.2f} "
                     f"| {r['train_batches']} | {_med(r, 'eval_s'):.3f} | {_med(r, 'eval_cpu'):.3f} "
                     f"| {r['eval_users']} |")
    return "\n".join(lines)


def ratios(rows: list[dict]) -> str:
    by = {(r["model"], r["toolkit"].split()[0]): r for r in rows if not r.get("extra")}
    out = []
    for model in ("SASRec", "BPR"):
        a, b = by.get((model, "llm4rec")), by.get((model, "RecBole"))
        if not a or not b:
            continue
        speed = [_med(b, key) / _med(a, key) for key in ("epoch_s", "epoch_cpu", "eval_s", "eval_cpu")]
        out.append(f"| {model} | {a['epochs']} | {a['ndcg@10'] - b['ndcg@10']:+.4f} | {a['hr@10'] - b['hr@10']:+.4f} "
                   + "".join(f"| {x:.1f}x " for x in speed) + "|")
    return ("| model | epochs (both) | NDCG@10 llm4rec - RecBole | HR@10 llm4rec - RecBole "
            "| epoch speed-up, wall (RecBole / llm4rec) | epoch speed-up, CPU | evaluation speed-up, wall "
            "| evaluation speed-up, CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(out))


def _print_row(who: str, model: str, r: dict, t0: float) -> None:
    print(f"{who} {model}: NDCG@10 {r['ndcg@10']:.4f} HR@10 {r['hr@10']:.4f} "
          f"epoch {_med(r, 'epoch_s'):.2f}s (CPU {_med(r, 'epoch_cpu'):.2f}s) eval {_med(r, 'eval_s'):.3f}s "
          f"(CPU {_med(r, 'eval_cpu'):.3f}s) users {r['eval_users']} ({time.perf_counter() - t0:.0f}s)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="sasrec", help=argparse.SUPPRESS)
    ap.add_argument("--data-path", help=argparse.SUPPRESS)
    ap.add_argument("--n-items", help=argparse.SUPPRESS)
    ap.add_argument("--epochs", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--sasrec-epochs", type=int, default=2)
    ap.add_argument("--bpr-epochs", type=int, default=100)
    ap.add_argument("--sasrec-long-epochs", type=int, default=40,
                    help="also train llm4rec's SASRec this many epochs (an extra, labelled row; 0: off)")
    ap.add_argument("--models", default="sasrec,bpr")
    ap.add_argument("--sides", default="llm4rec,RecBole", help="toolkits to run (comma-separated)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--eval-repeats", type=int, default=3, help="full-ranking passes timed (median reported)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads on both sides")
    ap.add_argument("--max-batches", type=int, default=0, help="RecBole only: cap batches per epoch (probe)")
    ap.add_argument("--peer-python", default=str(ROOT / ".venv-peer" / "bin" / "python"))
    ap.add_argument("--workdir", default=str(ROOT / "runs" / "bench-peer"))
    ap.add_argument("--no-write", action="store_true", help="print only, do not update docs/benchmarks.md")
    ap.add_argument("--section", default="peer-recbole", help="docs/benchmarks.md section to (re)write")
    ap.add_argument("--dataset-name", default=DATASET, help=argparse.SUPPRESS)
    ap.add_argument("--early-stopping", action="store_true",
                    help="BPR with each toolkit's own early stopping over --seeds on --dataset (both "
                         "toolkits' defaults; section peer-recbole-bpr-<dataset>) instead of fixed epochs")
    ap.add_argument("--dataset", default="ml-100k", help="--early-stopping: ml-100k or ml-1m")
    ap.add_argument("--seeds", default="0,1,2", help="--early-stopping: model seeds (both toolkits)")
    ap.add_argument("--max-epochs", type=int, default=300, help="--early-stopping: RecBole's epoch cap "
                    "(its default 300; lower only for smoke runs)")
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    if args.early_stopping:
        main_early_stopping(args)
        return

    import numpy as np
    import torch

    try:
        from llm4rec.data import load_dataset
    except ImportError:  # older layout: the registry module only
        from llm4rec.data.registry import load_dataset
    from llm4rec.data.split import leave_one_out

    torch.set_num_threads(args.threads)
    ds = load_dataset("ml-100k")
    split = leave_one_out(ds)
    data_path = Path(args.workdir) / "data"
    n_rows, n_rated = write_atomic(split, data_path)
    print(f"ML-100K: {n_rows} interactions, {ds.n_users} users, {ds.n_items} items ({n_rated} rated); "
          f"test users {len(np.unique(split.test.user))}; torch threads {torch.get_num_threads()}", flush=True)
    rows: list[dict] = []
    for model in args.models.split(","):
        epochs = args.sasrec_epochs if model == "sasrec" else args.bpr_epochs
        for who in args.sides.split(","):
            t = time.perf_counter()
            r = run_ours(model, epochs, split, args) if who == "llm4rec" else \
                run_peer(model, epochs, args, data_path, ds.n_items)
            rows.append(r)
            _print_row(who, model, r, t)
        extra = args.sasrec_long_epochs if model == "sasrec" else 0
        if extra and "llm4rec" in args.sides.split(","):
            t = time.perf_counter()
            r = run_ours(model, extra, split, args)
            r["extra"] = True
            rows.append(r)
            _print_row("llm4rec (longer run)", model, r, t)
    users = {r["eval_users"] for r in rows}
    same = len(users) == 1
    table, ratio = fmt_table(rows), ratios(rows)
    print(table + "\n\n" + ratio)
    if args.no_write:
        return
    s, b = SASREC_SHARED, BPR_SHARED
    load = os.getloadavg()
    steps = {r["toolkit"].split()[0]: r["train_batches"] for r in rows if r["model"] == "SASRec"}
    longer = (f"""The "longer run" row is llm4rec's SASRec trained {args.sasrec_long_epochs} epochs (not part of the
equal-epoch comparison). """ if args.sasrec_long_epochs and "sasrec" in args.models else "") + (
        f"""RecBole makes {steps.get('RecBole', '?')} optimiser steps per SASRec epoch, llm4rec
{steps.get('llm4rec', '?')}, so at equal epochs llm4rec has taken far fewer steps.

""" if "sasrec" in args.models else "")
    body = f"""
ML-100K ({n_rows:,} interactions, {ds.n_users} users, {ds.n_items} items), loaded by llm4rec and written as
RecBole atomic files, so both toolkits see identical data. Leave-one-out by time (valid = second-last,
test = last interaction per user); full ranking over all {ds.n_items} items with the user's train + valid
items excluded; NDCG@10 and HR@10 on test. Test users evaluated: {', '.join(str(u) for u in sorted(users))}
({'the same for both toolkits' if same else 'DIFFERENT between toolkits'}).
Fixed epochs, no early stopping, seed {args.seed}, torch {torch.__version__} on CPU, {args.threads} torch
thread(s) on both sides. Per epoch: median over epochs of the training loop only (data preparation
excluded on both sides). Per evaluation: median of {args.eval_repeats} full-ranking passes over the test
users (scoring, masking seen items, top-k, metrics). "CPU s" is process CPU time (`time.process_time`),
reported beside wall time because the machine was shared with other jobs during the run (load average
{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end); the CPU-time ratios are the more reliable ones.

{table}

{ratio}

{longer}Settings (matched where both toolkits have the knob):

- SASRec: hidden {s['hidden']}, {s['layers']} layers, {s['heads']} heads, feed-forward {s['inner']} (GELU),
  dropout {s['dropout']} (embeddings, attention and hidden), max_len {s['max_len']}, Adam lr {s['lr']}, batch
  {s['batch_size']}, cross-entropy over the full catalog (RecBole `loss_type: CE`,
  `train_neg_sample_args: None`). Differences the toolkits impose: a RecBole batch holds
  {s['batch_size']} (prefix, next item) samples with one target each, and an epoch visits every training
  prefix; an llm4rec batch holds {s['batch_size']} windows of up to {s['max_len']} items with a target at every
  position, and an epoch visits every window once. Both epochs predict every training interaction (but
  each user's first) exactly once. RecBole's block is post-layer-norm (BERT style), llm4rec's
  pre-layer-norm with a final layer norm and sqrt(hidden)-scaled item embeddings.
- BPR-MF: {b['factors']} factors, Adam lr {b['lr']}, batch {b['batch_size']}, one uniform negative per
  positive among the user's train items' complement, no L2 term (llm4rec `reg=0`; RecBole's BPR has
  none), {args.bpr_epochs} epochs. llm4rec's BPR-MF has a per-item bias and N(0, 0.1) init, RecBole's
  has no bias and Xavier-normal init.
- Evaluation: up to 1024 users per scoring batch on both sides (RecBole `eval_batch_size` = 1024 x
  items). RecBole is patched at run time to exclude seen items for sequential models as it already does
  for general ones (see the docstring of `bench/peer_recbole.py`).
- RecBole runs in a separate virtual environment (`bench/requirements-peer.txt`: numpy 1.26, pandas
  2.2, scipy 1.13, scikit-learn 1.5; it is not a dependency of llm4rec).
"""
    from _report import write_section

    cmd = "PYTHONPATH=src .venv/bin/python bench/peer_recbole.py" + "".join(
        f" {a}" for a in sys.argv[1:])
    models = " and ".join({"sasrec": "SASRec", "bpr": "BPR-MF"}[m] for m in args.models.split(","))
    title = f"llm4rec vs RecBole (ML-100K, {models})"
    if args.section != "peer-recbole":
        title += f", {args.sasrec_epochs} epochs"
    write_section(args.section, title, body, cmd)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
