"""ASGI middleware: bounded concurrency (429 + Retry-After), per-request deadline (504), structured logs
and request metrics. Only ``/v1/`` requests are limited; health, metrics and the demo page are not."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from llm4rec.serve.metrics import Metrics
from llm4rec.serve.settings import ServeSettings

access_log = logging.getLogger("llm4rec.serve.access")


def _json_response(status: int, code: str, message: str, headers: list[tuple[bytes, bytes]] | None = None
                   ) -> tuple[dict, dict]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         *(headers or [])]}
    return start, {"type": "http.response.body", "body": body}


class Guard:
    """Wraps the app; ``route_of(path)`` maps a path to a bounded metric label."""

    def __init__(self, app: Any, settings: ServeSettings, metrics: Metrics, route_of: Callable[[str], str]) -> None:
        self.app, self.settings, self.metrics, self.route_of = app, settings, metrics, route_of
        self.in_flight = 0

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        route = self.route_of(scope["path"])
        state: dict[str, Any] = {"status": 500, "started": False}
        scope.setdefault("state", {})["log"] = {}

        async def tracked_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
            await send(message)

        try:
            await self._serve(scope, receive, tracked_send, state)
        finally:
            seconds = time.perf_counter() - t0
            self.metrics.requests.labels(route, str(state["status"])).inc()
            self.metrics.latency.labels(route).observe(seconds)
            record = {"event": "request", "id": uuid.uuid4().hex[:12], "method": scope["method"], "route": route,
                      "status": state["status"], "ms": round(seconds * 1000, 2), **scope["state"]["log"]}
            access_log.info(json.dumps(record, default=str))

    async def _serve(self, scope: dict, receive: Callable, send: Callable, state: dict[str, Any]) -> None:
        s, limited = self.settings, scope["path"].startswith("/v1/")
        if limited and self.in_flight >= s.max_in_flight:
            self.metrics.rejected.labels("overload").inc()
            for m in _json_response(429, "overloaded", f"more than {s.max_in_flight} requests in flight; retry later",
                                    [(b"retry-after", str(s.retry_after_s).encode())]):
                await send(m)
            return
        self.in_flight += limited
        self.metrics.in_flight.set(self.in_flight)
        try:
            if limited:
                await asyncio.wait_for(self.app(scope, receive, send), s.deadline_s)
            else:
                await self.app(scope, receive, send)
        except asyncio.TimeoutError:
            self.metrics.rejected.labels("deadline").inc()
            if not state["started"]:
                for m in _json_response(504, "deadline_exceeded", f"no answer within {s.deadline_s} s"):
                    await send(m)
        finally:
            self.in_flight -= limited
            self.metrics.in_flight.set(self.in_flight)
