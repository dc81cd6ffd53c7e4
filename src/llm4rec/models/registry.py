"""Models by name, for configs and the CLI: a view of :data:`llm4rec.registry.MODELS`.

A model class registers itself where it is defined (``@MODELS.register("name")``); plug-ins add
theirs through the ``llm4rec.models`` entry-point group (see :mod:`llm4rec.registry`).
"""

from __future__ import annotations

from typing import Any

from llm4rec.errors import ConfigError
from llm4rec.models.base import Recommender
from llm4rec.registry import MODELS


def register(name: str, klass: type[Recommender]) -> type[Recommender]:
    """Register a model class under ``name`` (the same as decorating it with ``@MODELS.register(name)``)."""
    return MODELS.register(name, klass)


def available_models() -> list[str]:
    return MODELS.names()


def get_model(name: str) -> type[Recommender]:
    """The class registered under ``name``; a clear error lists the known names."""
    klass = MODELS.get(name)
    if not (isinstance(klass, type) and issubclass(klass, Recommender)):
        raise ConfigError(f"model {name!r} is registered as {klass!r}, which is not a Recommender")
    return klass


def make_model(name: str, params: dict[str, Any] | None = None) -> Recommender:
    """Instantiate a registered model from a parameter dict (validated by its typed config)."""
    klass = get_model(name)
    try:
        return klass(klass.Config(**(params or {})))
    except Exception as exc:  # pydantic ValidationError -> a config error naming the model
        raise ConfigError(f"invalid parameters for model {name!r}: {exc}") from exc
