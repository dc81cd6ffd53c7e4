"""Ray jobs: the work is llm4rec's own (encoders, ``Recommender.score``, protocols); Ray only places it.

- :func:`encode_texts`: ``map_batches`` over an actor pool, each actor building the encoder once.
- :func:`score_candidates`: a fitted model (e.g. an LLM ranker) scores user x candidate rows on an
  actor pool, the model shipped once per actor (its backend is built there, from its config).
- :func:`evaluate_sharded` / :class:`ShardedProtocol`: users are split into shards, each shard
  evaluated by a Ray task with the unchanged protocol, and the per-user rows concatenated in user
  order: the same :class:`~llm4rec.eval.protocols.ProtocolResult` as one process, so the runner's
  records (``results.json``) are the same too.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llm4rec.errors import ConfigError
from llm4rec.models.base import Recommender

#: metrics computed over all users at once (not a concatenation of per-user rows)
GLOBAL_METRICS = ("coverage", "auc", "gauc", "logloss")


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigError("Ray jobs need ray: pip install 'llm4rec[ray]'") from exc
    return ray


def init(address: str | None = None, num_cpus: int | None = None, **kwargs: Any) -> None:
    """Start a local Ray cluster (``num_cpus``) or join one by ``address``; no-op when already running."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, **kwargs)


# ---------------------------------------------------------------------------- encoding
class _Encoder:
    def __init__(self, spec: dict[str, Any]) -> None:
        from llm4rec.lm.config import make_encoder

        self.encoder = make_encoder(spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"i": batch["i"], "vec": np.asarray(self.encoder.encode([str(t) for t in batch["text"]]), np.float32)}


def encode_texts(texts: Sequence[str], encoder: dict[str, Any], *, workers: int = 2, batch_size: int = 256
                 ) -> np.ndarray:
    """Embeddings of ``texts`` (row ``i`` = ``texts[i]``) computed by ``workers`` encoder actors."""
    ray = _ray()
    init()
    ds = ray.data.from_items([{"i": i, "text": str(t)} for i, t in enumerate(texts)])
    out = ds.map_batches(_Encoder, fn_constructor_kwargs={"spec": dict(encoder)}, batch_size=batch_size,
                         compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1, batch_format="numpy")
    idx, vecs = _collect(out, "vec")
    return vecs[np.argsort(idx, kind="stable")]


def _collect(ds: Any, column: str) -> tuple[np.ndarray, np.ndarray]:
    parts = list(ds.iter_batches(batch_format="numpy", batch_size=None))
    if not parts:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    return (np.concatenate([p["i"] for p in parts]), np.concatenate([np.asarray(p[column]) for p in parts]))


# ---------------------------------------------------------------------------- candidate scoring
class _Scorer:
    def __init__(self, model: Recommender) -> None:
        self.model = model

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        users = np.asarray(batch["user"], np.int64)
        items = np.stack([np.asarray(x, np.int64) for x in batch["items"]])
        return {"i": batch["i"], "scores": self.model.score(users, items)}


def score_candidates(model: Recommender, users: np.ndarray, candidates: np.ndarray, *, workers: int = 2,
                     batch_size: int = 8) -> np.ndarray:
    """``model.score(users, candidates)`` (2-D candidates, one row per user) on ``workers`` actors."""
    ray = _ray()
    init()
    users, candidates = np.asarray(users, np.int64), np.asarray(candidates, np.int64)
    if candidates.ndim != 2 or len(candidates) != len(users):
        raise ValueError(f"candidates must have one row per user; got shape {candidates.shape}")
    ds = ray.data.from_items([{"i": i, "user": int(u), "items": c} for i, (u, c) in
                              enumerate(zip(users, candidates, strict=True))])
    out = ds.map_batches(_Scorer, fn_constructor_args=(model,), batch_size=batch_size,
                         compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1, batch_format="numpy")
    idx, scores = _collect(out, "scores")
    return scores[np.argsort(idx, kind="stable")].astype(np.float32)


# ---------------------------------------------------------------------------- sharded evaluation
def _rss_mb(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _eval_shard(model: Recommender, split: Any, protocol: Any, part: str, ks: tuple[int, ...],
                metrics: tuple[str, ...], users: np.ndarray) -> tuple[Any, dict[str, float]]:
    """One shard's result and its cost on the worker: seconds, CPU seconds, RSS before and peak (Linux)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark of this (reused) worker
    rss0, t0, c0 = _rss_mb("VmRSS"), time.perf_counter(), time.process_time()
    result = protocol.evaluate(model, split, part, ks=ks, metrics=metrics, users=users)
    return result, {"users": float(len(users)), "seconds": time.perf_counter() - t0,
                    "cpu_seconds": time.process_time() - c0, "rss_start_mb": rss0, "rss_peak_mb": _rss_mb("VmHWM")}


def evaluate_sharded(protocol: Any, model: Recommender, split: Any, part: str = "test", *,
                     ks: Sequence[int] = (5, 10, 20), metrics: Sequence[str] = ("hr", "ndcg", "mrr"),
                     shards: int = 2, costs: list[dict[str, float]] | None = None, **_: Any) -> Any:
    """``protocol.evaluate(model, split, part)`` with users split over ``shards`` Ray tasks.

    The model's inference-time history must be set (as the runner does); per-user results are
    identical to one process. Metrics over all users at once (``coverage``, ``auc``, ``gauc``,
    ``logloss``) are refused. ``costs``, when given, receives one dict per shard (users, seconds,
    cpu_seconds, rss_start_mb, rss_peak_mb of the worker): what a larger run is planned from.
    """
    ray = _ray()
    init()
    names = tuple(str(m).lower() for m in metrics)
    glob = [m for m in names if m in GLOBAL_METRICS]
    if glob:
        raise ConfigError(f"metrics {glob} are computed over all users at once and are not sharded; "
                          "evaluate them in one process")
    users = np.unique(split.part(part).user)
    chunks = [c for c in np.array_split(users, max(1, min(shards, len(users)))) if len(c)]
    start = time.perf_counter()
    task = ray.remote(num_cpus=1)(_eval_shard)
    refs = [ray.put(x) for x in (model, split, protocol)]
    out = ray.get([task.remote(*refs, part, tuple(ks), names, c) for c in chunks])
    results = [r for r, _ in out]
    if costs is not None:
        costs.extend(c for _, c in out)
    first = results[0]
    merged = type(first)(first.protocol, np.concatenate([r.users for r in results]),
                         {k: np.concatenate([r.per_user[k] for r in results]) for k in first.per_user}, {},
                         time.perf_counter() - start, part, [n for r in results for n in r.notes])
    return merged


class ShardedProtocol:
    """A protocol whose ``evaluate`` runs sharded on Ray; drop-in for the runner's protocol list."""

    def __init__(self, protocol: Any, shards: int = 2) -> None:
        self.protocol, self.shards = protocol, shards

    @property
    def display(self) -> str:
        return self.protocol.display

    def evaluate(self, model: Recommender, split: Any, part: str = "test", **kwargs: Any) -> Any:
        return evaluate_sharded(self.protocol, model, split, part, shards=self.shards, **kwargs)
