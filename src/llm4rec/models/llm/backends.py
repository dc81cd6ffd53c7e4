"""Building (and sharing) the generator / encoder a ranker's config names.

A config holds a backend block as a plain mapping, validated by :mod:`llm4rec.lm.config`, so a
recipe switches to an OpenAI-compatible server by changing only that block. The backend
``"toy"`` (:class:`~llm4rec.lm.toy.ToyGenerator`) is a test double for tests and dry runs.
Instances are shared per process by their config, so many rankers (and many
test cases) load a model once.
"""

from __future__ import annotations

import json
from typing import Any

from llm4rec.config import describe_errors
from llm4rec.errors import ConfigError
from llm4rec.lm.base import Encoder, Generator

DEFAULT_GENERATOR: dict[str, Any] = {"backend": "llama-cpp", "model": "smollm2-135m"}
DEFAULT_ENCODER: dict[str, Any] = {"backend": "sentence-transformers", "model": "minilm"}

_SHARED: dict[str, Any] = {}


def _key(kind: str, spec: dict[str, Any]) -> str:
    return kind + json.dumps(spec, sort_keys=True, default=str)


def check_generator_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Validate a generator block early (at config time) and return it unchanged."""
    from llm4rec.lm.config import generator_config

    try:
        generator_config(spec)
    except ValueError as exc:
        raise ConfigError(f"invalid generator block: {describe_errors(exc)}") from None
    return spec


def check_encoder_spec(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    if spec is None:
        return None
    from llm4rec.lm.config import encoder_config

    try:
        encoder_config(spec)
    except ValueError as exc:
        raise ConfigError(f"invalid encoder block: {describe_errors(exc)}") from None
    return spec


def get_generator(spec: dict[str, Any]) -> Generator:
    """The (process-shared) generator of a backend block."""
    key = _key("gen", spec)
    if key not in _SHARED:
        from llm4rec.lm.config import make_generator

        _SHARED[key] = make_generator(spec)
    return _SHARED[key]


def get_encoder(spec: dict[str, Any]) -> Encoder:
    """The (process-shared) encoder of a backend block."""
    key = _key("enc", spec)
    if key not in _SHARED:
        from llm4rec.lm.config import make_encoder

        _SHARED[key] = make_encoder(spec)
    return _SHARED[key]
