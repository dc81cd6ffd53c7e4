"""The evaluation protocols, one module each: :mod:`.full`, :mod:`.sampled`, :mod:`.pointwise`.

:data:`Protocol` is the discriminated union a run TOML's ``[[protocols]]`` table
validates into (``kind`` picks the class); :func:`make_protocol` builds one from a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

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

Protocol = Annotated[FullRanking | SampledCandidates | Pointwise, Field(discriminator="kind")]
_PROTOCOL_ADAPTER: TypeAdapter = TypeAdapter(Protocol)


def make_protocol(spec: Mapping[str, Any] | Config) -> FullRanking | SampledCandidates | Pointwise:
    """Build a protocol from a TOML table / dict (or a config with those fields); ``kind`` picks the class."""
    data = spec.model_dump(exclude_none=True) if isinstance(spec, Config) else dict(spec)
    try:
        return _PROTOCOL_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid protocol {data!r}: {exc}") from exc


__all__ = ["ALL_METRICS", "DEFAULT_METRICS", "EvalProtocol", "FullRanking", "NegativeSampling", "Pointwise",
           "Protocol", "ProtocolResult", "SampledCandidates", "make_protocol", "resolve_metrics",
           "sample_negatives", "targets"]
