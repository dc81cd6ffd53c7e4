"""docs/benchmarks.md sections of ``bench/multi_seed.py``: per-seed values, mean ± sd, comparisons across seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from _report import machine, write_section
from llm4rec.eval.config import load_run_config
from llm4rec.eval.results import USER_ID
from llm4rec.eval.seeds import compare_across_seeds, seed_spread
from llm4rec.eval.stats import bootstrap_ci, paired_test

ROOT = Path(__file__).resolve().parent.parent

#: model -> seed -> {metric: per-user values}
PerSeed = dict[str, dict[int, dict[str, np.ndarray]]]

EMBED = {
    "cold-items": ("Cold-start items over split seeds (ML-100K, 10% of items held out)",
                   ["embed-ml100k-cold", "embed-ml100k-cold-seq"],
                   [("unisrec-text", "textpop"), ("textpop", "textmf-text"), ("unisrec-text", "textmf-text"),
                    ("textmf-text", "bpr"), ("textmf-both-iddrop", "bpr"), ("unisrec-both-iddrop", "sasrec"),
                    ("textmf-both-iddrop", "textpop"), ("unisrec-both-iddrop", "unisrec-both")]),
    "cold-items-ml1m": ("Cold-start items over split seeds (ML-1M, 10% of items held out)",
                        ["embed-ml1m-cold"],
                        [("textmf-text", "textpop"), ("textpop", "unisrec-text"), ("textmf-text", "unisrec-text"),
                         ("unisrec-text", "textknn-recency"), ("textpop", "textknn-recency"),
                         ("textmf-text", "bpr"), ("textmf-both-iddrop", "bpr"), ("unisrec-both-iddrop", "sasrec"),
                         ("textmf-both-iddrop", "textpop"), ("unisrec-both-iddrop", "unisrec-text")]),
    "cold-users": ("New users over split seeds (ML-100K, cold_start_users: 20% of users keep 5 train items)",
                   ["embed-ml100k-coldusers"],
                   [("textmf-both", "bpr"), ("textmf-text", "bpr"), ("unisrec-both", "sasrec"),
                    ("unisrec-text", "sasrec"), ("sasrec", "bpr"), ("unisrec-both", "textpop")]),
}
#: run folder suffix -> section title (the section key drops the ML-100K dataset name, as before ML-1M)
LLMRANK = {
    "ml-100k": "LLMRank protocol over candidate seeds (ML-100K, leave-one-out, 1 target + 19 sampled candidates)",
    "ml-100k-coldusers": "LLMRank protocol on new users over split + candidate seeds (ML-100K, cold_start_users)",
    "ml-1m": "LLMRank protocol over candidate seeds (ML-1M, leave-one-out, 1 target + 19 sampled candidates)",
}
LLM_PAIRS = [("pop", "random"), ("bpr", "pop"), ("sasrec", "bpr"), ("smol-likelihood", "random"),
             ("smol-likelihood", "pop")]


def _embed_seeds(runs: Path, names: list[str]) -> PerSeed:
    out: PerSeed = {}
    for name in names:
        for folder in sorted((runs / name).glob("seed-*")):
            seed = int(folder.name.removeprefix("seed-"))
            if not (folder / "per_user.npz").exists():
                continue
            with np.load(folder / "per_user.npz") as z:
                for key in z.files:
                    model, _, metric = key.split("|")
                    if metric == USER_ID:  # the users of the values (same order for every model of a run)
                        continue
                    out.setdefault(model, {}).setdefault(seed, {})[metric] = z[key]
            for r in json.loads((folder / "results.json").read_text()):  # global metrics (coverage@K)
                if r["protocol"] != "cost" and r["ci_low"] is None and r["model"] in out:
                    name = r["metric"] + (f"@{r['k']}" if r["k"] else "")
                    out[r["model"]].setdefault(seed, {})[name] = np.array([r["value"]])
    return out


def _llm_seeds(folder: Path) -> PerSeed:
    out: PerSeed = {}
    for path in sorted(folder.glob("seed-*/*.json")):
        row = json.loads(path.read_text())
        seed = int(path.parent.name.removeprefix("seed-"))
        out.setdefault(row["variant"], {})[seed] = {k: np.asarray(v) for k, v in row["per_user"].items()}
    return out


def _with_ci(values: np.ndarray, scale: float, digits: int) -> str:
    """Mean over users ± half-width of its 95% bootstrap CI (a global metric has no CI)."""
    if len(values) < 2:
        return f"{float(values[0]) * scale:.{digits}f}"
    mean, low, high = bootstrap_ci(values, n_boot=1000, seed=0)
    return f"{mean * scale:.{digits}f} ±{(high - low) / 2 * scale:.{digits}f}"


def spread_table(data: PerSeed, metrics: list[str], scale: float = 1.0, digits: int = 4) -> tuple[str, list[int]]:
    """Per model: the first metric per seed (mean ± 95% CI half-width over users), then each metric's mean ±
    sample sd across seeds."""
    seeds = sorted(set.intersection(*(set(s) for s in data.values()))) if data else []
    head = metrics[0]
    cols = [f"{head} seed {s}" for s in seeds] + [f"{m} mean ± sd" for m in metrics] + ["users/seed"]
    lines = ["| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for model, by_seed in data.items():
        if head not in by_seed.get(seeds[0], {}) if seeds else True:
            continue
        cells = [_with_ci(by_seed[s][head], scale, digits) for s in seeds]
        for m in metrics:
            sp = seed_spread([float(np.nanmean(by_seed[s][m])) * scale for s in seeds if m in by_seed[s]])
            cells.append(f"{sp.mean:.{digits}f} ± {sp.std:.{digits}f}")
        cells.append("/".join(str(len(by_seed[s][head])) for s in seeds))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines), seeds


def ranking_line(data: PerSeed, seeds: list[int], metric: str, models: list[str]) -> str:
    """Per seed, the order of ``models`` by ``metric`` (best first)."""
    out = []
    for s in seeds:
        present = [m for m in models if m in data and s in data[m]]
        order = sorted(present, key=lambda m: -float(np.nanmean(data[m][s][metric])))
        out.append(f"seed {s}: " + " > ".join(order))
    return "; ".join(out)


def verdicts(data: PerSeed, pairs: list[tuple[str, str]], metric: str) -> str:
    """One line per comparison: does its sign hold in every seed?"""
    seeds = sorted(set.intersection(*(set(s) for s in data.values()))) if data else []
    out = []
    for a, b in pairs:
        if a not in data or b not in data:
            continue
        c = compare_across_seeds([float(np.nanmean(data[a][s][metric])) for s in seeds],
                                 [float(np.nanmean(data[b][s][metric])) for s in seeds])
        if c.n < 3:
            out.append(f"- {a} vs {b}: only {c.n} seed(s) so far; no conclusion")
        elif c.wins in (0, c.n):
            hi, lo = (a, b) if c.wins else (b, a)
            sig = "significant" if c.p_value < 0.05 else "not significant"
            out.append(f"- {hi} > {lo} in all {c.n} seeds: survives (paired t-test over seeds p = {c.p_value:.2g}, "
                       f"{sig} at 5% with {c.n - 1} d.f.)")
        else:
            out.append(f"- {a} vs {b}: {a} ahead in {c.wins} of {c.n} seeds: the order depends on the seed")
    return "\n".join(out)


def compare_table(data: PerSeed, pairs: list[tuple[str, str]], metric: str, scale: float = 1.0,
                  digits: int = 4) -> str:
    seeds = sorted(set.intersection(*(set(s) for s in data.values()))) if data else []
    cols = [f"seed {s}: diff (per-user p)" for s in seeds] + ["mean diff ± sd", "A > B in", "t-test p (seeds)"]
    lines = [f"| A - B ({metric}) | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for a, b in pairs:
        if a not in data or b not in data:
            continue
        cells, ma, mb = [], [], []
        for s in seeds:
            va, vb = data[a][s][metric], data[b][s][metric]
            ma.append(float(np.nanmean(va)) * scale)
            mb.append(float(np.nanmean(vb)) * scale)
            t = paired_test(va, vb, n_boot=2000, seed=0) if len(va) == len(vb) else None
            p = f"{t.p_value:.2g}" if t is not None else "n/a"
            cells.append(f"{ma[-1] - mb[-1]:+.{digits}f} ({p})")
        c = compare_across_seeds(ma, mb)
        cells += [f"{c.diff:+.{digits}f} ± {c.std:.{digits}f}", f"{c.wins}/{c.n}", f"{c.p_value:.2g}"]
        lines.append(f"| {a} - {b} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


MACHINE = f" Machine: {machine()}; shared with other developers' jobs, each job on one core (1 thread)."


def write_reports(runs: Path, commit: str = "", commit_llm: str = "") -> None:
    at = (f" Code: commit {commit}." if commit else "") + MACHINE
    at_llm = (f" Code: commit {commit_llm or commit}." if commit_llm or commit else "") + MACHINE
    for key, (title, names, pairs) in EMBED.items():
        data = _embed_seeds(runs, names)
        if not data:
            continue
        table, seeds = spread_table(data, ["ndcg@10", "hr@10", "coverage@10"] if key.startswith("cold-items")
                                    else ["ndcg@10", "hr@10"])
        order = ranking_line(data, seeds, "ndcg@10", list(data))
        cmd = " ".join(f"configs/{n}.toml" for n in names)
        configured = [m.display for n in names for m in load_run_config(ROOT / "configs" / f"{n}.toml").models]
        models = ",".join(data) if set(configured) - set(data) else ""  # a subset of the configs' models
        only = f" (only {models.replace(',', ', ')})" if models else ""
        body = (f"Full ranking over the catalog. Per seed: the mean over that seed's test users ± the half-width "
                f"of its 95% bootstrap CI over users; across seeds {seeds}: mean ± sample standard "
                f"deviation; each comparison seed by seed (per-user paired sign-flip "
                f"p within the seed) and across seeds (paired t-test over the per-seed means, {len(seeds) - 1} "
                f"degrees of freedom). Configs: {cmd} (their `[split] seed` replaced by each seed; same "
                f"budgets as the single-seed tables){only}.{at}\n\n"
                f"{table}\n\nOrder by NDCG@10 per seed: {order}\n\n{compare_table(data, pairs, 'ndcg@10')}\n\n"
                f"Conclusions (NDCG@10):\n\n{verdicts(data, pairs, 'ndcg@10')}")
        write_section(f"multi-seed-{key}", title, body,
                      f"python bench/multi_seed.py embed --configs {','.join(f'configs/{n}.toml' for n in names)} "
                      + (f"--models {models} " if models else "")
                      + f"--seeds {','.join(map(str, seeds))}; python bench/multi_seed.py report")
    for folder, title in LLMRANK.items():
        data = _llm_seeds(runs / f"llmrank-{folder}")
        dataset = "ml-1m" if folder.startswith("ml-1m") else "ml-100k"
        tag = folder.removeprefix(dataset)
        if not data:
            continue
        all_seeds = set.union(*(set(d) for d in data.values()))
        unfinished = [m for m, d in data.items() if set(d) != all_seeds]
        data = {m: d for m, d in data.items() if m not in unfinished}
        note = f" Not finished on every seed (CPU time), so left out: {', '.join(unfinished)}." if unfinished else ""
        table, seeds = spread_table(data, ["ndcg@10", "hr@1", "hr@5"], scale=100, digits=1)
        split = "--split cold-users" if tag else "--split loo"
        what = ("the split seed (which users become new users) and the candidate/user-sample seed are both the "
                "seed" if tag else "the split is deterministic (leave-one-out); the seed draws the candidates "
                "and the user sample; baselines are fitted once and evaluated on every seed")
        body = (f"Metrics in %; per seed: mean ± half-width of the 95% bootstrap CI over users; {what}. "
                f"Each seed evaluates the first N users of its own seeded draw; LLM "
                f"variants are SmolLM2-135M-Instruct Q4_1 on llama.cpp, 1 thread, last 15 history titles. "
                f"Per-seed comparisons: per-user paired sign-flip p; across seeds: paired t-test over the "
                f"per-seed means ({len(seeds) - 1} d.f.).{note}{at_llm}\n\n{table}\n\n"
                f"{compare_table(data, LLM_PAIRS, 'ndcg@10', scale=100, digits=1)}\n\n"
                f"Conclusions (NDCG@10):\n\n{verdicts(data, LLM_PAIRS, 'ndcg@10')}")
        key = f"multi-seed-llmrank{tag}" + ("-ml1m" if dataset == "ml-1m" else "")
        write_section(key, title, body,
                      f"python bench/multi_seed.py llmrank --dataset {dataset} {split} "
                      f"--seeds {','.join(map(str, seeds))} "
                      f"--users {min(len(v['ndcg@10']) for d in data.values() for v in d.values())} "
                      "--variants baselines,smol-likelihood; python bench/multi_seed.py report")
