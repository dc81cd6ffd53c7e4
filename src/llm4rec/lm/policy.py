"""Credential and endpoint policy of the language-model backends (see docs/reliability.md).

- ``api_key_env`` names an environment variable that looks like an API key
  (``[A-Z][A-Z0-9_]*API_KEY``): a config can never make llm4rec send ``$AWS_SECRET_ACCESS_KEY``
  or ``$GITHUB_TOKEN`` as a bearer token.
- The key is sent only to the ``base_url`` the config names; redirects are never followed.
- A loaded model folder never chooses an endpoint or a credential: :func:`guard_loaded` refuses a
  saved remote backend block unless the caller passes its own block (or explicitly trusts the
  folder), and drops saved ``cache_path`` values (a folder does not choose where files are written).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from llm4rec.errors import ConfigError

API_KEY_ENV = re.compile(r"[A-Z][A-Z0-9_]*API_KEY")
REMOTE_BACKENDS = frozenset({"openai"})
BACKEND_KEYS = ("generator", "encoder")

Backends = Mapping[str, Mapping[str, Any]] | Literal["trust"] | None
"""Caller choice when loading a model: blocks replacing saved ones by key, ``"trust"``, or nothing."""


def check_api_key_env(name: str | None) -> str | None:
    """``name`` unchanged if it may hold an API key, else :class:`ConfigError`."""
    if name is not None and not API_KEY_ENV.fullmatch(name):
        raise ConfigError(f"api_key_env {name!r} does not look like an API-key variable (it must match "
                          f"{API_KEY_ENV.pattern}, e.g. OPENAI_API_KEY): llm4rec sends no other variable")
    return name


def check_base_url(url: str) -> str:
    """``url`` unchanged if it is an ``http://`` or ``https://`` URL with a host, else :class:`ConfigError`
    (a ``file://`` or ``ftp://`` endpoint is refused when the config is read, not at the first request)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base_url {url!r} must be an http:// or https:// URL with a host")
    return url


def guard_loaded(raw: dict[str, Any], backends: Backends, source: str) -> dict[str, Any]:
    """Apply the loaded-artifact policy to a config mapping read from ``source`` (in place; returned).

    Every backend block (a mapping with a ``backend`` key under ``generator`` / ``encoder``, at any
    depth, e.g. inside ``ranker_params``) is replaced by the caller's block of the same key when
    ``backends`` has one; otherwise its ``cache_path`` is dropped, and a remote block raises unless
    ``backends == "trust"``.
    """
    if backends is not None and backends != "trust":
        unknown = set(backends) - set(BACKEND_KEYS)
        if unknown:
            raise ConfigError(f"backends= takes keys {BACKEND_KEYS}; got {sorted(unknown)}")
    _walk(raw, backends, source)
    return raw


def _walk(node: Any, backends: Backends, source: str) -> None:
    if isinstance(node, list):
        for x in node:
            _walk(x, backends, source)
        return
    if not isinstance(node, dict):
        return
    for key, value in list(node.items()):
        if key in BACKEND_KEYS and isinstance(value, dict) and "backend" in value:
            node[key] = _guard_block(key, value, backends, source)
        else:
            _walk(value, backends, source)


def _guard_block(key: str, block: dict[str, Any], backends: Backends, source: str) -> dict[str, Any]:
    if isinstance(backends, Mapping) and key in backends:
        return dict(backends[key])
    if backends == "trust":
        return block
    block = {k: v for k, v in block.items() if k != "cache_path"}
    if block.get("backend") in REMOTE_BACKENDS:
        raise ConfigError(
            f"{source}: the saved {key} block uses backend {block['backend']!r} at "
            f"{block.get('base_url', '(default URL)')!r}; a loaded model never chooses an endpoint or a "
            f"credential. Pass your own block: load(path, backends={{{key!r}: {{...}}}}), or "
            "backends='trust' if you wrote this folder yourself")
    return block
