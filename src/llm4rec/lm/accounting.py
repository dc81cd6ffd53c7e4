"""Token, time, cache-hit and money accounting per backend and model."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Price:
    """USD per one million tokens."""

    prompt_per_mtok: float = 0.0
    completion_per_mtok: float = 0.0


@dataclass
class Usage:
    """Counters of one backend/model pair. Token counts and wall time cover live calls only;
    ``cache_hits`` counts items answered from the cache."""

    backend: str
    model: str
    calls: int = 0  # backend invocations (batches / HTTP requests), excluding cache hits
    items: int = 0  # input items requested (texts, prompts, continuations)
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    price: Price | None = field(default=None, repr=False)

    @property
    def cost_usd(self) -> float | None:
        if self.price is None:
            return None
        return (self.prompt_tokens * self.price.prompt_per_mtok
                + self.completion_tokens * self.price.completion_per_mtok) / 1e6

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("price")
        d["cost_usd"] = self.cost_usd
        return d


class Accounting:
    """Registry of :class:`Usage` counters, one per (backend, model)."""

    def __init__(self) -> None:
        self._usages: dict[tuple[str, str], Usage] = {}
        self._lock = threading.Lock()

    def usage(self, backend: str, model: str, price: Price | None = None) -> Usage:
        with self._lock:
            u = self._usages.get((backend, model))
            if u is None:
                u = self._usages[(backend, model)] = Usage(backend, model)
            if price is not None:
                u.price = price
            return u

    def record(self, usage: Usage, *, calls: int = 0, items: int = 0, cache_hits: int = 0,
               prompt_tokens: int = 0, completion_tokens: int = 0, wall_s: float = 0.0) -> None:
        with self._lock:
            usage.calls += calls
            usage.items += items
            usage.cache_hits += cache_hits
            usage.prompt_tokens += prompt_tokens
            usage.completion_tokens += completion_tokens
            usage.wall_s += wall_s

    def report(self) -> list[dict[str, Any]]:
        """One plain dict per backend/model, ready for a run report."""
        with self._lock:
            return [u.as_dict() for u in self._usages.values()]

    def table(self) -> str:
        """A Markdown table of :meth:`report`."""
        rows = self.report()
        cols = ["backend", "model", "calls", "items", "cache_hits", "prompt_tokens", "completion_tokens",
                "wall_s", "cost_usd"]
        out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in rows:
            cells = [f"{r[c]:.3f}" if isinstance(r[c], float) else ("" if r[c] is None else str(r[c]))
                     for c in cols]
            out.append("| " + " | ".join(cells) + " |")
        return "\n".join(out)

    def reset(self) -> None:
        with self._lock:
            self._usages.clear()


ACCOUNTING = Accounting()
"""The process-wide accounting every backend reports to."""


def usage_report() -> list[dict[str, Any]]:
    """Usage of every backend used in this process so far."""
    return ACCOUNTING.report()
