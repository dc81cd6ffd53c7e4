"""Markdown tables of the LLM benchmarks (``bench/llm_*.py``) from their stored result rows."""

from __future__ import annotations

import json
from pathlib import Path

from _report import write_section

VARIANT_ORDER = ("random", "pop", "bpr", "sasrec", "smol-likelihood", "smol-likelihood-mean",
                 "smol-likelihood-calibrated", "smol-likelihood-recency", "smol-likelihood-icl", "smol-pointwise",
                 "smol-listwise", "smol-listwise-order2", "gemma-likelihood", "gemma-likelihood-recency")

REFERENCE = ("Published reference (LLMRank, ML-1M, ChatGPT, 1 target + 19 candidates): NDCG@10 "
             "42.85 / 44.23 / 45.83 (sequential / recency-focused / in-context), SASRec 78.89, Pop 52.33.")


def _fmt(v: object, digits: int = 2) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


RANK_COLS = [("variant", "model"), ("note", "setting"), ("n_users", "users"), ("ndcg@10", "NDCG@10"),
             ("hr@1", "HR@1"), ("hr@5", "HR@5"), ("pop_ndcg@10", "Pop NDCG@10, same users"),
             ("lm_tokens_per_user", "tokens/user"), ("lm_seconds_per_user", "s/user"),
             ("validity", "validity"), ("hallucination_rate", "halluc."), ("first_position_rate", "top = 1st shown")]


def _cell(key: str, v: object) -> str:
    if v is None:
        return ""
    if "@" in key or key in ("validity", "hallucination_rate", "first_position_rate"):
        return f"{100 * float(v):.1f}"  # type: ignore[arg-type]
    if key == "lm_tokens_per_user":
        return f"{float(v):.0f}"  # type: ignore[arg-type]
    return _fmt(v, 1)


def rank_table(rows: list[dict]) -> str:
    out = ["| " + " | ".join(h for _, h in RANK_COLS) + " |", "|" + "---|" * len(RANK_COLS)]
    out += ["| " + " | ".join(_cell(k, r.get(k)) for k, _ in RANK_COLS) + " |" for r in rows]
    return "\n".join(out)


def _with_pop_reference(rows: list[dict]) -> None:
    """Add Pop's NDCG@10 on the same users (runs are prefixes of one seeded user draw)."""
    pop = next((r for r in rows if r["variant"] == "pop" and "per_user" in r), None)
    if pop is None:
        return
    for r in rows:
        if r is not pop and "users" in r and r["users"] == pop["users"][:len(r["users"])]:
            r["pop_ndcg@10"] = sum(pop["per_user"]["ndcg@10"][:len(r["users"])]) / max(1, len(r["users"]))


def _load(folder: Path, prefix: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob(f"{prefix}*.json"))]


def write_rank_report(folder: Path) -> None:
    for ds in ("ml-100k", "ml-1m"):
        rows = _load(folder, f"rank-{ds}-")
        if not rows:
            continue
        order = list(VARIANT_ORDER)
        rows.sort(key=lambda r: order.index(r["variant"]) if r["variant"] in order else len(order))
        _with_pop_reference(rows)
        body = (f"Leave-one-out by time; each test target ranked among 19 random unseen items (fixed seed, "
                f"identical for every model, shown in a seeded random order); metrics in %, exact expectations "
                f"over ties (chance: NDCG@10 = 22.7, HR@1 = 5, HR@5 = 25). LLM rankers: no training, SmolLM2-135M-"
                f"Instruct Q4_1 or Gemma-3-270M Q4_K_M on llama.cpp (1 thread; the 2 cores were shared with other "
                f"jobs -- load average 15-32 -- so seconds are very pessimistic), last 15 history items as "
                f"titles (year). Users: a seeded draw of 200 test users; a row with fewer users covers the "
                f"first N of that draw (CPU time ran out), and 'Pop, same users' gives the paired reference. "
                f"Tokens and seconds are for the first, uncached run; a rerun is answered by the cache. "
                f"Validity / hallucination / first-shown rates apply to generated rankings (listwise); "
                f"log-prob rankers cannot produce an invalid answer.\n\n"
                f"{rank_table(rows)}\n\n{REFERENCE}\n")
        command = f"python bench/llm_rank.py --dataset {ds} --variants ...; python bench/llm_rank.py --report"
        write_section(f"llm-rank-{ds}", f"LLM rankers, LLMRank protocol ({ds})", body, command=command)


def simple_table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    """Markdown table; metric columns (``@`` in the key) shown in %."""
    out = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r.get(key)
            cells.append("" if v is None else f"{100 * v:.2f}" if "@" in key else _fmt(v, 1))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def write_rerank_report(folder: Path) -> None:
    cost = [("lm_tokens_per_user", "tokens/user"), ("lm_seconds_per_user", "s/user")]
    for path in sorted(folder.glob("rerank-ml-100k-*.json")):
        rows = json.loads(path.read_text())
        cols = [("model", "model"), ("n_users", "users"), ("ndcg@10", "NDCG@10"), ("hr@1", "HR@1"),
                ("hr@10", "HR@10"), ("hr@20", "HR@20"), *cost]
        body = ("Full ranking over the ML-100K catalog (seen items excluded), leave-one-out, fixed-seed user "
                "sample. The LLM (SmolLM2-135M, zero-shot likelihood, 1 thread on 2 shared cores) reorders "
                "SASRec's (20 epochs) top 20 only, so HR@20 is SASRec's by construction; metrics in %.\n\n"
                + simple_table(rows, cols))
        write_section("llm-rerank-ml-100k", "Retrieve-then-rerank (ML-100K, full ranking)", body,
                      command="python bench/llm_rerank.py --parts rerank")
    for path in sorted(folder.glob("cold-ml-100k-*.json")):
        rows = json.loads(path.read_text())
        cols = [("model", "model"), ("n_users", "users"), ("ndcg@10", "NDCG@10"), ("hr@1", "HR@1"),
                ("hr@5", "HR@5"), *cost]
        body = ("Cold-start users (simulated: ML-100K has no user with fewer than 20 ratings): the sampled "
                "test users keep only their 4 most recent training items (+ the valid item = 5 known "
                "interactions); Pop and SASRec (20 epochs) are refit on that log; each target among the same 19 "
                "negatives as the LLMRank table; metrics in %.\n\n" + simple_table(rows, cols))
        write_section("llm-cold-ml-100k", "Cold-start users (ML-100K, 1 target + 19 negatives)", body,
                      command="python bench/llm_rerank.py --parts cold")
