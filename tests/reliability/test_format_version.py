"""Saved model folders and splits carry a format version: a newer one is refused, another llm4rec
version warns, folders written before versioning (no ``format``) still load."""

from __future__ import annotations

import json
import logging

import pytest

from llm4rec.data.exceptions import DataError
from llm4rec.data.split import Split
from llm4rec.errors import ArtifactError
from llm4rec.models.base import MODEL_FORMAT, Recommender


def _edit(file, **changes):
    meta = json.loads(file.read_text())
    meta.update(changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    file.write_text(json.dumps(meta))


def test_model_folder_format(pop_folder, caplog):
    assert json.loads((pop_folder / "meta.json").read_text())["format"] == MODEL_FORMAT
    _edit(pop_folder / "meta.json", format=MODEL_FORMAT + 1)
    with pytest.raises(ArtifactError, match="newer than this llm4rec"):
        Recommender.load(pop_folder)
    _edit(pop_folder / "meta.json", format=None, llm4rec="0.0.1")  # pre-versioning folder of another release
    with caplog.at_level(logging.WARNING, logger="llm4rec.versioning"):
        assert Recommender.load(pop_folder).name == "pop"
    assert "written by llm4rec 0.0.1" in caplog.text


def test_split_format(tiny_split, tmp_path):
    folder = tiny_split.save(tmp_path / "split")
    assert len(Split.load(folder).test) == len(tiny_split.test)
    _edit(folder / "split.json", format=99)
    with pytest.raises(DataError, match="split format 99 is newer"):
        Split.load(folder)
