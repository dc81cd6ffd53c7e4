"""Errors raised by the language-model layer (all subclass :class:`llm4rec.errors.Llm4RecError`)."""

from __future__ import annotations

from llm4rec.errors import ArtifactError, ConfigError, Llm4RecError


class LMError(Llm4RecError, RuntimeError):
    """Base of every error the language-model layer raises on purpose."""


class ModelNotFoundError(LMError, ArtifactError):
    """A model name or path cannot be resolved; the message says what to install or fetch."""


class CapabilityError(LMError, NotImplementedError):
    """The backend (or the server behind it) cannot do what was asked, e.g. log-probs or embeddings."""


class ServerError(LMError, ConnectionError):
    """An HTTP backend's server is unreachable or kept failing after the allowed retries."""


class MalformedResponseError(LMError, ValueError):
    """A server answered with something that is not the JSON the API promises."""


class ContextLengthError(LMError, ValueError):
    """An input does not fit the model's context window and the truncation policy is ``"error"``."""


class CacheError(LMError):
    """The LM cache database cannot be opened or holds damaged rows (replay mode); names the file."""


class CacheMissError(LMError, KeyError):
    """Strict replay mode found no cached answer for a call."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "cache miss in replay mode"


__all__ = [
    "CacheError",
    "CacheMissError",
    "CapabilityError",
    "ConfigError",
    "ContextLengthError",
    "LMError",
    "MalformedResponseError",
    "ModelNotFoundError",
    "ServerError",
]
