"""Serving: an HTTP API (FastAPI + uvicorn) over fitted models, with auth, limits, micro-batching,
metrics, chat sessions and a demo page (optional extra ``serve``)."""

from llm4rec.serve.app import create_app
from llm4rec.serve.service import Service, ServiceError
from llm4rec.serve.settings import ServeSettings

__all__ = ["ServeSettings", "Service", "ServiceError", "create_app"]
