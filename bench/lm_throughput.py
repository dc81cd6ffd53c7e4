"""End-to-end prompt-token throughput of ``Generator.score`` (llama.cpp backend) as a fraction of
llama.cpp's raw prompt throughput (``Llama.eval`` of one long token list), same model, same
process, same run.

    python bench/lm_throughput.py [--threads 2] [--users 5]
"""

from __future__ import annotations

import argparse
import random
import time

from _report import write_section
from lm_common import history_context, movielens_texts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--users", type=int, default=5)
    ap.add_argument("--candidates", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    from llm4rec.lm.llama_cpp import LlamaCppGenerator

    titles, _, source = movielens_texts()
    g = LlamaCppGenerator("smollm2-135m", n_ctx=2048, n_threads=args.threads, cache_mode="off")
    rng = random.Random(3)
    work = []
    for _ in range(args.users):
        ctx = history_context(rng.sample(titles, 400), 300, lambda s: g.tokenize(s))
        work.append((ctx, [" " + t for t in rng.sample(titles, args.candidates)]))
    n_tokens = sum(len(g.tokenize(c)) + sum(len(g.tokenize(x, bos=False)) for x in cs) for c, cs in work)
    long = [t for c, _ in work for t in g.tokenize(c)][:1500]
    g.score(*work[0])  # warm-up

    raw_tps, score_tps = [], []
    for _ in range(args.repeats):
        g.clear_prefix()
        g.llm.reset()
        t0 = time.perf_counter()
        g.llm.eval(long)
        raw_tps.append(len(long) / (time.perf_counter() - t0))
        g.llm.reset()
        g.clear_prefix()
        t0 = time.perf_counter()
        for ctx, cands in work:
            g.score(ctx, cands)
        score_tps.append(n_tokens / (time.perf_counter() - t0))
    raw, sc = max(raw_tps), max(score_tps)
    frac = sc / raw
    body = "\n".join([
        f"SmolLM2-135M-Instruct Q4_1 on llama.cpp, {args.threads} threads, n_batch 512. Workload: "
        f"{args.users} users x ({source}) ~300-token history + {args.candidates} candidate titles; "
        f"{n_tokens} prompt tokens in all (each context counted once, plus every candidate's tokens). "
        f"Best of {args.repeats} runs.",
        "",
        "| path | prompt tokens / s |",
        "|---|---:|",
        f"| raw `Llama.eval` of {len(long)} tokens | {raw:.0f} |",
        f"| `LlamaCppGenerator.score`, end to end | {sc:.0f} |",
        "",
        f"**score / raw = {frac:.2f}** (target >= 0.7). End to end includes tokenization, per-candidate "
        "decode calls, logits for every candidate position and the log-softmax in numpy.",
        "Shared 2-core machine with other jobs running: absolute numbers are noisy, the ratio less so "
        "(both paths measured back to back).",
    ])
    print(body)
    if not args.no_write:
        write_section("lm-throughput", "LM scoring throughput vs raw llama.cpp", body)


if __name__ == "__main__":
    main()
