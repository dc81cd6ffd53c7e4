"""Typed configuration objects that round-trip to TOML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TypeVar

import tomli_w
from pydantic import BaseModel, ConfigDict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

C = TypeVar("C", bound="Config")


class Config(BaseModel):
    """Base of every typed config: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    def to_toml(self) -> str:
        return tomli_w.dumps(_drop_none(self.model_dump(mode="json")))

    @classmethod
    def from_toml(cls: type[C], text: str) -> C:
        return cls.model_validate(tomllib.loads(text))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_toml())

    @classmethod
    def load(cls: type[C], path: str | Path) -> C:
        return cls.from_toml(Path(path).read_text())


def _drop_none(value: Any) -> Any:
    """TOML has no null: omit ``None`` values (their defaults restore them on load)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def describe_errors(exc: Exception) -> str:
    """A pydantic ValidationError as one line: ``key.path: message; ...`` (other errors: ``str``)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return " ".join(str(exc).split())
    parts = []
    for e in errors():
        loc = ".".join(str(x) for x in e.get("loc", ()))
        msg = " ".join(str(e.get("msg", "")).split()).removeprefix("Value error, ")
        msg = msg.split(" For further information visit")[0]
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def check_path_name(value: str, what: str = "name") -> str:
    """``value`` unchanged if it is safe as one path component (run names, model labels), else ValueError.

    Names become folder and file names under the output folder: separators, ``.``/``..``,
    control characters and empty names are rejected so no name can escape it.
    """
    if (not value or value in (".", "..") or "/" in value or "\\" in value or ".." in value
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in value) or len(value) > 200):
        raise ValueError(f"{what} {value!r} cannot be a folder name: use letters, digits, '-', '_', '.', "
                         "no path separators, no '..', at most 200 characters")
    return value


def read_toml(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        return tomllib.load(f)


def loads_toml(text: str) -> dict[str, Any]:
    """Parse TOML text (``tomllib``, or ``tomli`` before Python 3.11); raises ``TOMLDecodeError``."""
    return tomllib.loads(text)


TOMLDecodeError = tomllib.TOMLDecodeError


def load_named_config(cls: type[C], path: str | Path, what: str) -> C:
    """Read and validate a TOML file into ``cls`` (its ``name`` defaults to the file's stem); errors are
    :class:`~llm4rec.errors.ConfigError` naming the file and the offending key."""
    from llm4rec.errors import ConfigError

    try:
        raw = read_toml(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    raw.setdefault("name", Path(path).stem)
    try:
        return cls.model_validate(raw)
    except ValueError as exc:
        raise ConfigError(f"{path}: {describe_errors(exc)}") from None
