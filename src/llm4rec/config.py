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


def read_toml(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        return tomllib.load(f)
