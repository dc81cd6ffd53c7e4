"""Exception types shared by every part of llm4rec."""

from __future__ import annotations


class Llm4RecError(Exception):
    """Base class of every error llm4rec raises on purpose."""


class DataError(Llm4RecError, ValueError):
    """Input data is malformed: the message names the file and, where it applies, the row."""


class ArtifactError(Llm4RecError, RuntimeError):
    """A dataset or model artifact cannot be fetched, verified or found."""


class NotFittedError(Llm4RecError, RuntimeError):
    """A model was used before ``fit`` (or ``load``)."""


class UnknownUserError(Llm4RecError, KeyError):
    """A user id outside the range the model was fitted on, with no cold-start fallback."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "unknown user"


class ConfigError(Llm4RecError, ValueError):
    """A run or model configuration is invalid."""
