"""The evaluation protocols, one module each: :mod:`.full`, :mod:`.sampled`, :mod:`.pointwise`.

A protocol class registers its ``kind`` with ``@PROTOCOLS.register(kind)``
(:mod:`llm4rec.registry`; plug-ins use the ``llm4rec.protocols`` entry-point group), and
:func:`make_protocol` builds one from a run TOML's ``[[protocols]]`` table by that ``kind``.
:data:`Protocol` is the annotation for a list of them in a pydantic model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, SerializeAsAny, ValidationError

from llm4rec.config import Config
from llm4rec.errors import ConfigError
from llm4rec.eval.protocols.base import (
    ALL_METRICS,
    DEFAULT_METRICS,
    EvalProtocol,
    NegativeSampling,
    resolve_metrics,
    targets,
)
from llm4rec.eval.protocols.full import FullRanking
from llm4rec.eval.protocols.pointwise import Pointwise
from llm4rec.eval.protocols.sampled import SampledCandidates
from llm4rec.eval.results import ProtocolResult
from llm4rec.eval.sampling import sample_negatives
from llm4rec.registry import PROTOCOLS


def make_protocol(spec: Mapping[str, Any] | Config) -> EvalProtocol:
    """Build a protocol from a TOML table / dict (or a config with those fields); ``kind`` picks the class."""
    if isinstance(spec, EvalProtocol):
        return spec
    data = spec.model_dump(exclude_none=True) if isinstance(spec, Config) else dict(spec)
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise ConfigError(f"a protocol needs a kind ({', '.join(PROTOCOLS.names())}); got {data!r}")
    klass = PROTOCOLS.get(kind)
    try:
        return klass.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid protocol {data!r}: {exc}") from exc


def _as_protocol(value: Any) -> Any:
    return make_protocol(value) if isinstance(value, Mapping | Config) else value


#: a protocol field of a pydantic model: built by ``kind`` through the registry, dumped with all its fields
Protocol = Annotated[SerializeAsAny[EvalProtocol], BeforeValidator(_as_protocol)]


__all__ = ["ALL_METRICS", "DEFAULT_METRICS", "EvalProtocol", "FullRanking", "NegativeSampling", "Pointwise",
           "Protocol", "ProtocolResult", "SampledCandidates", "make_protocol", "resolve_metrics",
           "sample_negatives", "targets"]
