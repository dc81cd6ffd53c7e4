"""Load test of the served API on 127.0.0.1: a bounded async client against `llm4rec serve` (a separate
process), per model and concurrency; micro-batching on vs off in the same run; a memory soak.

    python bench/serve_load.py --artifact artifacts/ml100k --parts soak --soak 600
    python bench/serve_load.py --artifact artifacts/ml100k --parts load --seconds 8 --llm-seconds 20

Prints the tables and writes the "Serving: load test" and "Serving: memory over a soak" sections
of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`llm4rec serve ARTIFACT` in its own process."""

    def __init__(self, artifact: str, batching: bool, token: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = Path(f"/tmp/llm4rec-bench-serve-{self.port}.toml")
        settings.write_text("max_in_flight = 256\ndeadline_s = 120.0\n")
        cmd = [sys.executable, "-m", "llm4rec.cli", "serve", artifact, "--port", str(self.port),
               "--settings", str(settings), "--batching" if batching else "--no-batching"]
        self.proc = subprocess.Popen(cmd, env={**os.environ, "LLM4REC_API_TOKENS": token},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(1200):
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.25)
            if self.proc.poll() is not None:
                raise RuntimeError("llm4rec serve exited")
        raise RuntimeError("llm4rec serve did not start")

    def models(self, token: str) -> list[str]:
        """The served model labels, in the artifact's order."""
        r = httpx.get(self.url + "/v1/models", headers={"Authorization": f"Bearer {token}"})
        return [m["label"] for m in r.json()]

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


async def load(url: str, token: str, model: str, users: list[str], concurrency: int, seconds: float,
               max_requests: int) -> dict[str, float]:
    """``concurrency`` workers send recommend requests back to back for ``seconds`` (or ``max_requests``)."""
    lat: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300,
                                 limits=limits) as client:
        async def worker(w: int) -> None:
            nonlocal errors, sent
            i = w
            while time.perf_counter() < deadline and sent < max_requests:
                sent += 1
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/recommend", json={"user": users[i % len(users)], "k": 10,
                                                                 "model": model})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat.append(time.perf_counter() - t0)
                errors += not ok
                i += concurrency

        start = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        wall = time.perf_counter() - start
    ms = np.asarray(lat) * 1000
    return {"requests": len(lat), "rps": len(lat) / wall, "p50": float(np.percentile(ms, 50)),
            "p95": float(np.percentile(ms, 95)), "p99": float(np.percentile(ms, 99)),
            "errors": errors / max(1, len(lat))}


def score_costs(artifact: str, models: list[str]) -> list[str]:
    """Milliseconds per ``score`` call and per user at batch sizes 1, 8, 32 (in this process)."""
    from llm4rec.serve.artifact import load_artifact

    art = load_artifact(artifact)
    out = []
    for label in models:
        m = art.models[label]
        if "llm" in label:
            continue
        cells = []
        for b in (1, 8, 32):
            users = np.arange(b)
            m.score(users)
            t, n = time.perf_counter(), 0
            while time.perf_counter() - t < 2.0:
                m.score(users)
                n += 1
            ms = (time.perf_counter() - t) / n * 1000
            cells.append(f"{ms:.2f} / {ms / b:.2f}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def row(label: str, c: int, r: dict[str, float]) -> str:
    return (f"| {label} | {c} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} "
            f"| {100 * r['errors']:.1f}% |")


HEAD = ("| model | concurrency | requests | req/s | p50 ms | p95 ms | p99 ms | errors |\n"
        "|---|---|---|---|---|---|---|---|")


def load_tables(args: argparse.Namespace, token: str, users: list[str]) -> None:
    """Every served model at each concurrency (batching on), then the first model with batching off."""
    levels = [int(x) for x in args.concurrency.split(",")]
    rows, batch_rows = [], []
    server = Server(args.artifact, batching=True, token=token)
    try:
        models = args.models.split(",") if args.models else server.models(token)
        for model in models:
            llm = "llm" in model
            asyncio.run(load(server.url, token, model, users, 2, 60.0, 4 if llm else 40))  # warm-up, not counted
            for c in levels:
                r = asyncio.run(load(server.url, token, model, users, c, args.llm_seconds if llm else args.seconds,
                                     10_000))
                rows.append(row(model, c, r))
                print(rows[-1], flush=True)
                if not llm and model == models[0]:
                    batch_rows.append(row(f"{model}, batching on", c, r))
    finally:
        server.stop()
    off = Server(args.artifact, batching=False, token=token)
    try:
        asyncio.run(load(off.url, token, models[0], users, 2, 60.0, 40))  # warm-up, not counted
        for c in levels:
            r = asyncio.run(load(off.url, token, models[0], users, c, args.seconds, 10_000))
            batch_rows.append(row(f"{models[0]}, batching off", c, r))
            print(batch_rows[-1], flush=True)
    finally:
        off.stop()
    batch_rows.sort(key=lambda x: (int(x.split("|")[2]), "off" in x))
    body = (f"Bounded async client (httpx, `concurrency` requests in flight, back to back, {args.seconds:.0f} s per "
            f"cell; {args.llm_seconds:.0f} s for the LLM pipeline) against `llm4rec serve {args.artifact}` in its own "
            "process on 127.0.0.1, `POST /v1/recommend` for random known users, k = 10, bearer auth on, "
            "micro-batching on (2 ms window), 120 s request deadline. `text` is the MiniLM text model scored "
            "exactly over the catalog, `text-faiss` the same model retrieving through a FAISS HNSW index "
            "(`ann`), `sasrec-llm` SASRec's top 20 reranked by SmolLM2 on llama.cpp (one LLM call per request, "
            "LLM requests served one at a time: errors at higher concurrency are 504s of requests that queued past "
            "the deadline). Client and server share the 2 cores (and the machine is shared with other jobs): "
            "absolute numbers are a floor; compare rows within the table. At 1,682 items an exact pass over the "
            "catalog is cheaper than the FAISS search (score table at the end); the index pays off from ~100k "
            "items (FAISS section).\n\n"
            f"{HEAD}\n" + "\n".join(rows) + "\n\n"
            "### Micro-batching on vs off (same run, same model)\n\n" + f"{HEAD}\n" + "\n".join(batch_rows) + "\n")
    costs = score_costs(args.artifact, models)
    body += ("\n### Why batching helps the model call more than the request: `score` cost by batch size "
             "(ms per call / ms per user, one thread, same artifact)\n\n| model | batch 1 | batch 8 | batch 32 |\n"
             "|---|---|---|---|\n" + "\n".join(costs) + "\n")
    print(body)
    if not args.no_write:
        write_section("serve-load", "Serving: load test and micro-batching (ML-100K artifact)", body,
                      command=f"python bench/serve_load.py --artifact {args.artifact} --parts load --seconds "
                              f"{args.seconds:g} --llm-seconds {args.llm_seconds:g}")


def soak_table(args: argparse.Namespace, token: str, users: list[str]) -> None:
    """One model at concurrency 8 for ``args.soak`` seconds; server RSS and latency every ``args.soak_step``."""
    server = Server(args.artifact, batching=True, token=token)
    rows, rss = [], []
    try:
        model = args.models.split(",")[0] if args.models else server.models(token)[0]
        asyncio.run(load(server.url, token, model, users, 2, 60.0, 40))  # warm-up, not counted
        rss.append(server.rss_mb())
        rows.append(f"| 0 | 0 | | | | {rss[0]:.0f} |")
        start, served = time.perf_counter(), 0
        while time.perf_counter() - start < args.soak:
            r = asyncio.run(load(server.url, token, model, users, 8, args.soak_step, 10**9))
            served += r["requests"]
            rss.append(server.rss_mb())
            rows.append(f"| {time.perf_counter() - start:.0f} | {served} | {r['rps']:.1f} | {r['p99']:.1f} "
                        f"| {100 * r['errors']:.1f}% | {rss[-1]:.0f} |")
            print(rows[-1], flush=True)
    finally:
        server.stop()
    seconds = time.perf_counter() - start
    body = (f"`llm4rec serve {args.artifact}` under steady load: the bounded async client keeps 8 `recommend` "
            f"requests for `{model}` in flight for {seconds / 60:.1f} minutes ({served} requests); the server's "
            f"resident memory (VmRSS) is read every {args.soak_step:.0f} s. RSS after warm-up {rss[0]:.0f} MB, "
            f"after the first step {rss[1]:.0f} MB, at the end {rss[-1]:.0f} MB, max {max(rss):.0f} MB: "
            f"{rss[-1] - rss[1]:+.0f} MB from the first step to the end.\n\n"
            "| seconds | requests so far | req/s in step | p99 ms in step | errors in step | RSS MB |\n"
            "|---|---|---|---|---|---|\n"
            + "\n".join(rows) + "\n")
    print(body)
    if not args.no_write:
        write_section("serve-soak", "Serving: memory over a soak (ML-100K artifact)", body,
                      command=f"python bench/serve_load.py --artifact {args.artifact} --parts soak --soak "
                              f"{args.soak:g} --soak-step {args.soak_step:g}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifact", default="artifacts/ml100k")
    ap.add_argument("--parts", default="load,soak", help="load (load test + batching on/off), soak, or both")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--llm-seconds", type=float, default=30.0)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--soak", type=float, default=600.0, help="soak seconds")
    ap.add_argument("--soak-step", type=float, default=30.0, help="seconds between memory readings")
    ap.add_argument("--models", default=None, help="comma-separated labels (default: every served model)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    token = secrets.token_urlsafe(24)
    rng = np.random.default_rng(0)
    users = [str(u) for u in rng.choice(np.arange(1, 944), 943, replace=False)]
    parts = set(args.parts.split(","))
    if "soak" in parts:
        soak_table(args, token, users)
    if "load" in parts:
        load_tables(args, token, users)


if __name__ == "__main__":
    main()
