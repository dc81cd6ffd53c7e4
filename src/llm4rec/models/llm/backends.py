"""Building (and sharing) the generator / encoder a ranker's config names.

A config holds a backend block as a plain mapping, validated by :mod:`llm4rec.lm.config`, so a
recipe switches to an OpenAI-compatible server by changing only that block. The backend
``"toy"`` (:class:`~llm4rec.lm.toy.ToyGenerator`) is a test double for tests and dry runs.
Instances are shared per process by their config identity (:func:`llm4rec.lm.config.shared_encoder`),
so many rankers, text models and test cases load a model once.
"""

from __future__ import annotations

from typing import Any

from llm4rec.config import describe_errors
from llm4rec.errors import ConfigError
from llm4rec.lm.base import Encoder, Generator

DEFAULT_GENERATOR: dict[str, Any] = {"backend": "llama-cpp", "model": "smollm2-135m"}
DEFAULT_ENCODER: dict[str, Any] = {"backend": "sentence-transformers", "model": "minilm"}

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
    from llm4rec.lm.config import shared_generator

    return shared_generator(spec)


def get_encoder(spec: dict[str, Any]) -> Encoder:
    """The (process-shared) encoder of a backend block."""
    from llm4rec.lm.config import shared_encoder

    return shared_encoder(spec)
