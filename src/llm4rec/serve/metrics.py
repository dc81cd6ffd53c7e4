"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Requests, latency, in-flight, rejections, score calls and micro-batch sizes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("llm4rec_requests", "HTTP requests", ["path", "status"], registry=r)
        self.latency = Histogram("llm4rec_request_seconds", "request latency", ["path"], registry=r,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
        self.in_flight = Gauge("llm4rec_in_flight", "requests being served", registry=r)
        self.rejected = Counter("llm4rec_rejected", "requests refused before work", ["reason"], registry=r)
        self.score_calls = Counter("llm4rec_score_calls", "model score calls", ["model"], registry=r)
        self.batch_size = Histogram("llm4rec_batch_requests", "recommend requests per micro-batch", ["model"],
                                    registry=r, buckets=(1, 2, 4, 8, 16, 32, 64, 128))
        self.sessions = Gauge("llm4rec_chat_sessions", "live chat sessions", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
