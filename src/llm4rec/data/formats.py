"""Dataset formats by name: what ``[dataset] format = ...`` of a run config reads a file with.

Each reader is registered where it is defined here (``@FORMATS.register(name)``, see
:mod:`llm4rec.registry`; plug-ins use the ``llm4rec.formats`` entry-point group) and takes the
run config's ``[dataset]`` table (``path``, ``name``, ``items``, ``columns``, ``item_id_column``,
``duplicates`` and reader-specific ``options``). ``items`` is the format's side file (item
table, Amazon ``meta``, Goodreads ``books``, Steam ``games``).
"""

from __future__ import annotations

from typing import Any, Protocol

from llm4rec.data.dataset import Dataset
from llm4rec.data.loaders import (
    TableFormat,
    read_amazon,
    read_goodreads,
    read_mind,
    read_recbole,
    read_steam,
    read_table,
)
from llm4rec.errors import ConfigError
from llm4rec.registry import FORMATS


class DatasetTable(Protocol):
    """The ``[dataset]`` table of a run config, as a reader sees it."""

    path: str | None
    name: str | None
    items: str | None
    columns: dict[str, str]
    item_id_column: str
    duplicates: Any
    options: dict[str, Any]


def read_format(fmt: str | None, spec: DatasetTable) -> Dataset:
    """Read ``spec.path`` with the reader of ``fmt`` (``None``: a table whose suffix names its format)."""
    return FORMATS.get(fmt or "table")(spec)


def _path(spec: DatasetTable) -> str:
    if spec.path is None:
        raise ConfigError(f"dataset {spec.name!r}: a format reads a file; set [dataset] path")
    return spec.path


def _table(spec: DatasetTable, fmt: TableFormat | None) -> Dataset:
    table = {k: getattr(spec, k) for k in ("sep", "dtypes", "list_fields", "list_sep") if hasattr(spec, k)}
    return read_table(_path(spec), columns=spec.columns or None, items=spec.items, item_id_column=spec.item_id_column,
                      duplicates=spec.duplicates, name=spec.name, format=fmt, **table, **spec.options)


@FORMATS.register("table")
def table(spec: DatasetTable) -> Dataset:
    """CSV / TSV / Parquet / JSON-lines, the format taken from the file suffix."""
    return _table(spec, None)


@FORMATS.register("csv")
def csv(spec: DatasetTable) -> Dataset:
    return _table(spec, "csv")


@FORMATS.register("tsv")
def tsv(spec: DatasetTable) -> Dataset:
    return _table(spec, "tsv")


@FORMATS.register("parquet")
def parquet(spec: DatasetTable) -> Dataset:
    return _table(spec, "parquet")


@FORMATS.register("jsonl")
def jsonl(spec: DatasetTable) -> Dataset:
    return _table(spec, "jsonl")


@FORMATS.register("recbole")
def recbole(spec: DatasetTable) -> Dataset:
    """RecBole atomic files (``path``: the folder or ``<folder>/<name>`` prefix)."""
    return read_recbole(_path(spec), name=spec.name, duplicates=spec.duplicates, **spec.options)


@FORMATS.register("amazon")
def amazon(spec: DatasetTable) -> Dataset:
    """Amazon reviews JSON lines (``items``: the ``meta`` file)."""
    return read_amazon(_path(spec), spec.items, name=spec.name, duplicates=spec.duplicates,
                       **spec.options)


@FORMATS.register("goodreads")
def goodreads(spec: DatasetTable) -> Dataset:
    """Goodreads interactions JSON lines (``items``: the books file)."""
    return read_goodreads(_path(spec), spec.items, name=spec.name, duplicates=spec.duplicates,
                          **spec.options)


@FORMATS.register("steam")
def steam(spec: DatasetTable) -> Dataset:
    """Steam reviews (``items``: the games file)."""
    return read_steam(_path(spec), spec.items, name=spec.name, duplicates=spec.duplicates,
                      **spec.options)


@FORMATS.register("mind")
def mind(spec: DatasetTable) -> Dataset:
    """MIND (``path``: the folder with ``behaviors.tsv`` and ``news.tsv``)."""
    return read_mind(_path(spec), name=spec.name, duplicates=spec.duplicates, **spec.options)
