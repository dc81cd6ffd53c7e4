"""Bearer-token auth: tokens from an environment variable and/or a file, compared in constant time."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from llm4rec.errors import ConfigError
from llm4rec.serve.settings import ServeSettings


def load_tokens(settings: ServeSettings) -> list[str]:
    """Every configured token (comma-separated in ``$tokens_env``, one per line in ``tokens_file``)."""
    tokens = [t.strip() for t in os.environ.get(settings.tokens_env, "").split(",")]
    if settings.tokens_file:
        try:
            tokens += [t.strip() for t in Path(settings.tokens_file).read_text().splitlines()]
        except OSError as exc:
            raise ConfigError(f"cannot read tokens file {settings.tokens_file}: {exc}") from exc
    tokens = [t for t in tokens if t and not t.startswith("#")]
    if settings.auth and not tokens:
        raise ConfigError(f"auth is on but no token is configured: set ${settings.tokens_env} (comma-separated) or "
                          "tokens_file, or turn auth off for a local demo")
    short = [t for t in tokens if len(t) < 16]
    if short:
        raise ConfigError(f"{len(short)} API token(s) shorter than 16 characters; use long random tokens")
    return tokens


def token_ok(given: str | None, tokens: list[str]) -> bool:
    """Constant-time check of ``given`` against every token (no early exit on a match)."""
    if not given:
        return False
    ok = False
    for t in tokens:
        ok |= hmac.compare_digest(given.encode(), t.encode())
    return ok
