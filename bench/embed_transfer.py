"""Transfer of a UniSRec-style text recommender: pre-train on ML-1M, train on 10% of ML-100K's users.

Both catalogs are rendered by ``Catalog.text`` and encoded by the same encoder
(MiniLM); the models share no item IDs, so only the text adaptor and the
transformer carry over. Target: ML-100K leave-one-out, full ranking over all
1682 items, every user evaluated (history = their train + valid items), while
training only sees a seeded ``--frac`` of the users. Compared on those users:
SASRec (IDs) and UniSRec from scratch, UniSRec pre-trained then zero-shot /
adaptor-only / fully fine-tuned, and zero-shot text KNN.

    python bench/embed_transfer.py [--frac 0.1] [--source-epochs 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section
from llm4rec.data import load_dataset
from llm4rec.data.split import Split, leave_one_out
from llm4rec.eval import FullRanking, early_stopping
from llm4rec.eval.stats import bootstrap_ci, paired_test
from llm4rec.models import make_model
from llm4rec.models.base import Recommender

OUT = Path("runs/embed-transfer")
SEQ = {"max_len": 50, "hidden": 64, "layers": 2, "n_experts": 8, "progress": False}


def user_subset(split: Split, users: np.ndarray) -> Split:
    """The same split restricted, for training, to ``users`` (the id universe is kept)."""
    pick = [part.subset(np.isin(part.user, users)) for part in (split.train, split.valid, split.test)]
    return Split(*pick, kind=split.kind, params={**split.params, "train_users": len(users)}, dataset=split.dataset)


def pretrain(epochs: int, valid_users: int) -> tuple[Path, dict[str, float]]:
    """UniSRec (text only) on ML-1M; a seeded subset of users validates for early stopping."""
    folder = OUT / "source-ml1m-unisrec"
    if (folder / "meta.json").exists():
        return folder, json.loads((OUT / "source.json").read_text())
    split = leave_one_out(load_dataset("ml-1m"))
    rng = np.random.default_rng(0)
    val_users = rng.choice(np.unique(split.valid.user), valid_users, replace=False)
    valid = split.valid.subset(np.isin(split.valid.user, val_users))
    model = make_model("unisrec", {**SEQ, "all_windows": False, "epochs": epochs, "patience": 2})
    t0 = time.perf_counter()
    model.fit(split.train, valid, early_stopping(split.train, valid))
    info = {"fit_s": time.perf_counter() - t0, "epochs": len(model.fit_log_), "best_epoch": model.best_epoch_,
            "valid_ndcg@10": max(e.get("ndcg@10", 0.0) for e in model.fit_log_),
            "s_per_epoch": float(np.mean([e["seconds"] for e in model.fit_log_]))}
    model.save(folder)
    (OUT / "source.json").write_text(json.dumps(info))
    return folder, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frac", type=float, default=0.1, help="share of ML-100K users the models train on")
    ap.add_argument("--source-epochs", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=60, help="max epochs on the target (early stopping)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    source, src_info = pretrain(args.source_epochs, valid_users=1000)

    split = leave_one_out(load_dataset("ml-100k"))
    users = np.unique(split.test.user)
    few = np.random.default_rng(args.seed).choice(users, round(args.frac * len(users)), replace=False)
    train = user_subset(split, few)
    tgt = {**SEQ, "epochs": args.epochs, "eval_every": 2, "patience": 3}
    variants: dict[str, tuple[str, dict]] = {
        "sasrec (IDs), scratch": ("sasrec", {k: v for k, v in tgt.items() if k != "n_experts"}),
        "unisrec-text, scratch": ("unisrec", tgt),
        "unisrec-text, pre-trained, zero-shot": ("unisrec", {**tgt, "pretrained": str(source), "finetune": "none"}),
        "unisrec-text, pre-trained, adaptor fine-tuned": ("unisrec", {**tgt, "pretrained": str(source),
                                                                      "finetune": "adaptor"}),
        "unisrec-text, pre-trained, fully fine-tuned": ("unisrec", {**tgt, "pretrained": str(source)}),
        "textknn (zero-shot, no training)": ("textknn", {"pooling": "recency", "half_life": 5.0}),
    }
    proto = FullRanking()
    rows, per_user = [], {}
    for label, (name, params) in variants.items():
        model: Recommender = make_model(name, params)
        t0 = time.perf_counter()
        model.fit(train.train, train.valid, early_stopping(train.train, train.valid))
        fit_s = time.perf_counter() - t0
        model.set_history(split.known_for("test"))
        res = proto.evaluate(model, split, "test", ks=(10, 20), metrics=("hr", "ndcg"))
        per_user[label] = res.per_user
        log = getattr(model, "fit_log_", [])
        net = getattr(model, "net_", None)
        trained = sum(p.numel() for p in net.parameters() if p.requires_grad) if net is not None else 0
        if name == "unisrec" and params.get("finetune") == "none":
            trained = 0
        cells = [label]
        for m in ("hr@10", "ndcg@10", "ndcg@20"):
            mean, lo, hi = bootstrap_ci(res.per_user[m], n_boot=1000, seed=0)
            cells.append(f"{mean:.4f} [{lo:.4f}, {hi:.4f}]")
        cells += [f"{trained:,}", str(len(log)), f"{fit_s:.0f}"]
        rows.append(cells)
        print(" | ".join(cells), flush=True)

    base = "unisrec-text, scratch"
    sig = []
    for label in per_user:
        if label == base:
            continue
        r = paired_test(per_user[label]["ndcg@10"], per_user[base]["ndcg@10"], n_boot=2000, seed=0)
        sig.append(f"| {label} | {r.diff:+.4f} [{r.low:+.4f}, {r.high:+.4f}] | {r.p_value:.3g} |")

    body = (
        f"Source: UniSRec (item text only) pre-trained on ML-1M leave-one-out (6040 users, most recent window "
        f"of 50 items per user, {src_info['epochs']} epochs, best {src_info['best_epoch']}, "
        f"{src_info['s_per_epoch']:.0f} s/epoch, {src_info['fit_s']:.0f} s; valid NDCG@10 "
        f"{src_info['valid_ndcg@10']:.4f} on 1000 users). Target: ML-100K leave-one-out; models train on "
        f"{len(few)} of {len(users)} users ({args.frac:.0%}, seed {args.seed}) and are evaluated on all "
        f"{len(users)} users (full ranking over 1682 items; history = train + valid). Encoder all-MiniLM-L6-v2, "
        f"hidden 64, 2 layers, max_len 50, 8 experts; early stopping on the training users' valid items.\n\n"
        "| model | HR@10 [95% CI] | NDCG@10 | NDCG@20 | params trained | epochs | fit s |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows)
        + "\n\nPaired difference in NDCG@10 against UniSRec from scratch on the same users "
          "(bootstrap CI, sign-flip permutation p):\n\n| model | diff [95% CI] | p |\n|---|---|---|\n"
        + "\n".join(sig))
    write_section("embed-transfer", "LLM embeddings: UniSRec transfer ML-1M -> 10% of ML-100K", body,
                  "python bench/embed_transfer.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
