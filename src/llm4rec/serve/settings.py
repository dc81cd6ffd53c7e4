"""Typed settings of the HTTP server (TOML round-trip like every config of the project)."""

from __future__ import annotations

from pydantic import Field

from llm4rec.config import Config

TOKENS_ENV = "LLM4REC_API_TOKENS"


class ServeSettings(Config):
    """Limits, batching, auth and logging of :func:`llm4rec.serve.create_app`.

    Auth is on by default: tokens come from the environment variable ``tokens_env``
    (comma-separated) and/or ``tokens_file`` (one per line). A server with auth on and no
    token refuses to start; ``auth = false`` is for a local demo only.
    """

    auth: bool = Field(True, description="require a bearer token on /v1/* (health, metrics and the page stay open)")
    tokens_env: str = Field(TOKENS_ENV, description="name of the variable holding comma-separated tokens")
    tokens_file: str | None = Field(None, description="file with one token per line")
    max_in_flight: int = Field(64, ge=1, description="concurrent /v1 requests; more get 429 + Retry-After")
    retry_after_s: int = Field(1, ge=1, description="Retry-After value sent with a 429")
    deadline_s: float = Field(10.0, gt=0, description="per-request deadline; a late request gets 504")
    batching: bool = Field(True, description="micro-batch concurrent recommend requests into one score call")
    batch_window_ms: float = Field(2.0, ge=0, description="how long a batch waits for more requests")
    max_batch: int = Field(64, ge=1, description="requests per score call at most")
    max_k: int = Field(1000, ge=1)
    max_history: int = Field(2000, ge=1, description="items of an ad-hoc history at most")
    max_candidates: int = Field(10000, ge=1)
    session_ttl_s: float = Field(1800.0, gt=0, description="chat sessions expire after this much idle time")
    max_sessions: int = Field(1000, ge=1, description="oldest chat sessions are dropped beyond this")
    chat_encoder: dict = Field(default_factory=lambda: {"backend": "wordllama"},
                               description="encoder block the chat retrieves with")
    explain_tokens: int = Field(60, ge=8, le=512)
    log_user_text: bool = Field(False, description="include chat text and histories in request logs")
