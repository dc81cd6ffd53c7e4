"""The typed run configuration: one TOML file names dataset, split, models, protocols and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from llm4rec.config import Config, check_path_name, describe_errors, load_named_config
from llm4rec.errors import ConfigError
from llm4rec.eval.protocols import EvalProtocol, FullRanking, Protocol
from llm4rec.registry import FORMATS, SPLITS


class DatasetSpec(Config):
    """A built-in dataset by ``name`` (default ``ml-100k``), or a file by ``path`` with a column mapping
    (``name`` then defaults to the file's stem)."""

    name: str | None = Field(None, description="built-in dataset, or the name a file's dataset is reported as")
    path: str | None = Field(None, description="CSV/TSV/Parquet interactions file, or a RecBole atomic prefix")
    format: str | None = Field(None, description="registered reader (llm4rec.data.formats): csv, tsv, parquet, "
                               "jsonl, recbole, amazon, goodreads, steam, mind, ...; default: by file suffix")
    sep: str | None = Field(None, description="delimiter of text files (default: by suffix)")
    columns: dict[str, str] = Field(default_factory=dict, description="role (user/item/timestamp/rating) -> column")
    items: str | None = Field(None, description="optional item table whose text columns join the catalog")
    item_id_column: str = "item"
    dtypes: dict[str, Literal["str", "int", "float", "list"]] = Field(
        default_factory=dict, description="types of item-table columns, e.g. {year = 'int'}")
    list_fields: list[str] = Field(default_factory=list, description="item-table columns holding lists")
    list_sep: str = Field("|", description="separator inside list cells")
    duplicates: Literal["error", "keep", "first", "last"] = "error"
    kcore: int = Field(0, ge=0, description="iterative k-core filter before splitting (0 = off)")
    options: dict[str, Any] = Field(default_factory=dict, description="reader-specific keyword arguments")

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str | None) -> str | None:
        if v is not None and v not in FORMATS:
            raise ValueError(f"unknown dataset format {v!r}; available: {', '.join(FORMATS.names())}")
        return v


class SplitSpec(Config):
    kind: str = Field("leave_one_out", description="registered split kind (llm4rec.registry.SPLITS)")
    seed: int = 42
    ties: str = Field("file_order", description="order of same-time interactions: 'file_order' (default), "
                                                "'item_id' or 'random(SEED)'")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in SPLITS:
            raise ValueError(f"unknown split kind {v!r}; available: {', '.join(SPLITS.names())}")
        return v

    @field_validator("params")
    @classmethod
    def _known_params(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Misspelled split parameters and impossible fractions fail when the config is read."""
        from llm4rec.data.split import check_split_params

        if "kind" in info.data:  # else the kind itself is the error
            try:
                check_split_params(info.data["kind"], v)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return v


class ModelSpec(Config):
    """A registered model (``llm4rec models`` lists them) with its typed parameters."""

    name: str
    label: str | None = Field(None, description="name shown in results (defaults to ``name``)")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name", "label")
    @classmethod
    def _safe(cls, v: str | None) -> str | None:
        return None if v is None else check_path_name(v, "model label")

    @model_validator(mode="after")
    def _known_model(self) -> ModelSpec:
        """Unknown names and misspelled or invalid parameters fail when the config is read."""
        from llm4rec.models.registry import get_model

        try:
            get_model(self.name).Config.model_validate(self.params)
        except ValueError as exc:
            raise ValueError(f"params of model {self.name!r}: {describe_errors(exc)}") from None
        return self

    @property
    def display(self) -> str:
        return self.label or self.name


class EvalSpec(Config):
    part: Literal["test", "valid"] = "test"
    ks: list[int] = Field(default_factory=lambda: [5, 10, 20])
    metrics: list[str] = Field(default_factory=lambda: ["hr", "ndcg", "mrr"])
    bootstrap: int = Field(1000, ge=0, description="bootstrap resamples for confidence intervals (0 = none)")
    alpha: float = Field(0.05, gt=0, lt=1)
    seed: int = 0
    max_users: int | None = Field(None, ge=1, description="evaluate a seeded random subset of users")

    @field_validator("metrics", "ks")
    @classmethod
    def _known_metrics(cls, v: list, info: ValidationInfo) -> list:
        """Unknown metrics and non-positive cut-offs fail when the config is read (``ks`` above the
        catalog size fail once the catalog is known, before any model trains)."""
        from llm4rec.eval.protocols.base import resolve_metrics

        try:
            resolve_metrics(v, [1]) if info.field_name == "metrics" else resolve_metrics([], v)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return v


class OutputSpec(Config):
    dir: str = "runs/{name}"
    save_models: bool = False
    plot: bool = True


def _default_protocols() -> list[EvalProtocol]:
    return [FullRanking()]


class RunConfig(Config):
    name: str = "run"
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    split: SplitSpec = Field(default_factory=SplitSpec)
    models: list[ModelSpec]
    protocols: list[Protocol] = Field(default_factory=_default_protocols)
    eval: EvalSpec = Field(default_factory=EvalSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    seeds: list[int] | None = Field(None, min_length=1, description="repeat the run once per seed (split seed "
                                    "and sampled candidates; llm4rec.eval.seed_runs), with a summary across seeds")

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct; got {v}")
        return v
    _source: str = PrivateAttr("run config")  # the file it was read from, for error messages

    def error(self, key: str, message: str) -> ConfigError:
        """A :class:`ConfigError` naming this config's file and ``key`` (checks that need the data)."""
        return ConfigError(f"{self._source}: {key}: {message}")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        return check_path_name(v, "run name")

    @model_validator(mode="after")
    def _unique_labels(self) -> RunConfig:
        labels = [m.display for m in self.models]
        dup = {x for x in labels if labels.count(x) > 1}
        if dup:
            raise ValueError(f"model labels must be unique; repeated: {sorted(dup)} (set `label`)")
        if not self.models:
            raise ValueError("a run needs at least one [[models]] entry")
        names = [p.display for p in self.protocols]
        dup = {x for x in names if names.count(x) > 1}
        if dup:
            raise ValueError(f"protocol labels must be unique; repeated: {sorted(dup)} (set `label`)")
        return self

    def output_dir(self) -> Path:
        return Path(self.output.dir.format(name=self.name))


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a run TOML; errors name the file and the offending key."""
    cfg = load_named_config(RunConfig, path, "run config")
    cfg._source = str(path)
    return cfg
