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
             ("lm_tokens_per_live_user", "tokens/user"), ("lm_seconds_per_live_user", "s/user"),
             ("validity", "validity"), ("hallucination_rate", "halluc."), ("first_position_rate", "top = 1st shown"),
             ("order_spread", "mean |dNDCG@10| vs order 1")]


def _cell(key: str, v: object) -> str:
    if v is None:
        return ""
    if "@" in key or key in ("validity", "hallucination_rate", "first_position_rate", "order_spread"):
        return f"{100 * float(v):.1f}"  # type: ignore[arg-type]
    if key in ("lm_tokens_per_user", "lm_tokens_per_live_user"):
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


def _with_live_cost(rows: list[dict]) -> None:
    """Tokens and seconds per user *sent to the model* (rows resumed from the LM cache mix cached
    users, which cost nothing, with live ones)."""
    for r in rows:
        items, users = r.get("lm_items"), r.get("lm_users")
        if items and users and "lm_tokens_per_live_user" not in r:
            live = users * (items - r.get("lm_cache_hits", 0.0)) / items
            if live:
                r["lm_tokens_per_live_user"] = (r["lm_prompt_tokens"] + r["lm_completion_tokens"]) / live
                r["lm_seconds_per_live_user"] = r["lm_seconds"] / live


def _with_order_spread(rows: list[dict]) -> None:
    """For ``X-order2`` (X with another shown order of the same candidates): the mean absolute
    per-user NDCG@10 change against X on the users both ran -- the position-bias spread."""
    by_name = {r["variant"]: r for r in rows}
    for r in rows:
        base = by_name.get(r["variant"].removesuffix("-order2")) if r["variant"].endswith("-order2") else None
        if base is None or "per_user" not in base or "per_user" not in r:
            continue
        n = min(len(r["users"]), len(base["users"]))
        if r["users"][:n] == base["users"][:n] and n:
            a, b = r["per_user"]["ndcg@10"][:n], base["per_user"]["ndcg@10"][:n]
            r["order_spread"] = sum(abs(x - y) for x, y in zip(a, b, strict=True)) / n


def _load(folder: Path, tag: str) -> list[dict]:
    """The stored rows of one dataset/split tag (``rank-{tag}-{variant}.json``)."""
    rows = []
    for path in sorted(folder.glob(f"rank-{tag}-*.json")):
        row = json.loads(path.read_text())
        if path.name == f"rank-{tag}-{row.get('variant')}.json":  # not another tag's file
            rows.append(row)
    return rows


_PROTOCOL = ("each test target ranked among 19 random unseen items (fixed seed, identical for every model, "
             "shown in a seeded random order); metrics in %, exact expectations over ties (chance: NDCG@10 = "
             "22.7, HR@1 = 5, HR@5 = 25)")
_MODELS = ("LLM rankers: no training, SmolLM2-135M-Instruct Q4_1 or Gemma-3-270M Q4_K_M on llama.cpp (1 "
           "thread), last 15 history items as titles (year). Baselines: defaults of `llm4rec models` "
           "(early stopping on valid NDCG@10).")
_NOTES = ("'Pop, same users' gives Pop's NDCG@10 on exactly the users of the row (paired reference). "
          "Tokens and seconds are per user sent to the model (users answered by the record/replay cache, "
          "e.g. in a resumed run, cost nothing and are left out of the average); LLMs ran on 1 thread while "
          "one other single-threaded job shared the 2 cores (rows partly made on 2026-11-25 under load 15-32 "
          "have pessimistic seconds). Validity / hallucination / first-shown rates apply to generated "
          "rankings (listwise); "
          "log-prob rankers cannot produce an invalid answer. 'order2' is the same listwise ranker with "
          "another seeded shown order of the same candidates: the difference between the two rows is the "
          "position-bias spread.")
TAGS = {
    "ml-100k": ("LLM rankers, LLMRank protocol (ml-100k)",
                f"Leave-one-out by time; {_PROTOCOL}. Users: a seeded draw of 200 test users; a row with "
                f"fewer users covers the first N of that draw (CPU time ran out). {_MODELS}"),
    "ml-1m": ("LLM rankers, LLMRank protocol (ml-1m)",
              f"Leave-one-out by time; {_PROTOCOL}. Users: a seeded draw of 200 test users; a row with "
              f"fewer users covers the first N of that draw (CPU time ran out). {_MODELS}"),
    "ml-100k-coldusers": ("Cold-start users: LLM zero-shot vs Pop and SASRec (ml-100k)",
                          "`cold_start_users` split (max_train=5, frac=0.2, seed 0): a seeded 20% of the users "
                          "become new users who keep only their first 7 interactions by time (5 train, 1 "
                          "valid, 1 test; their later ones are not used); every other user keeps all but "
                          "the last interaction for training. Only the new users are evaluated; at test "
                          "time a model knows their 5 train + 1 valid items. "
                          f"{_PROTOCOL}. {_MODELS}"),
}


def write_rank_report(folder: Path) -> None:
    for tag, (title, intro) in TAGS.items():
        rows = _load(folder, tag)
        if not rows:
            continue
        order = list(VARIANT_ORDER)
        rows.sort(key=lambda r: order.index(r["variant"]) if r["variant"] in order else len(order))
        _with_pop_reference(rows)
        _with_order_spread(rows)
        _with_live_cost(rows)
        body = f"{intro}\n\n{_NOTES}\n\n{rank_table(rows)}\n\n{REFERENCE}\n"
        split = " --split cold-users" if tag.endswith("coldusers") else ""
        ds = tag.removesuffix("-coldusers")
        command = f"python bench/llm_rank.py --dataset {ds}{split} --variants ...; python bench/llm_rank.py --report"
        write_section(f"llm-rank-{tag}", title, body, command=command)


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
    cost = [("lm_tokens_per_live_user", "tokens/user"), ("lm_seconds_per_live_user", "s/user")]
    paths = sorted(folder.glob("rerank-ml-100k-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    for path in paths[-1:]:  # the run over the most users
        rows = json.loads(path.read_text())
        _with_live_cost(rows)
        cols = [("protocol", "protocol"), ("model", "model"), ("n_users", "users"), ("ndcg@10", "NDCG@10"),
                ("hr@1", "HR@1"), ("hr@10", "HR@10"), ("hr@20", "HR@20"), *cost]
        body = ("Leave-one-out, fixed-seed user sample (the first N of the LLMRank draw). full: ranking over "
                "the ML-100K catalog (seen items excluded); the LLM (SmolLM2-135M, zero-shot likelihood, 1 "
                "thread) reorders SASRec's (20 epochs) top 20 only, so HR@20 is SASRec's by construction. "
                "sampled: the LLMRank candidates (1 target + 19 negatives); SASRec keeps its top 10 of the 20 "
                "and the LLM reorders those 10. Metrics in %.\n\n"
                + simple_table(rows, cols))
        write_section("llm-rerank-ml-100k", "Retrieve-then-rerank (ML-100K)", body,
                      command=f"python bench/llm_rerank.py --users {rows[0]['n_users']}")
