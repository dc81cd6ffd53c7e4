"""``llm4rec datasets`` commands."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from llm4rec.cli.datasets import datasets_app

runner = CliRunner()


def test_list() -> None:
    result = runner.invoke(datasets_app, ["list"])
    assert result.exit_code == 0
    assert [line.split("\t")[0] for line in result.output.splitlines()] == ["ml-100k", "ml-1m"]


def test_fetch_and_info(ml100k) -> None:
    result = runner.invoke(datasets_app, ["fetch", "ml-100k"])
    assert result.exit_code == 0 and result.output.startswith("ml-100k: ")
    result = runner.invoke(datasets_app, ["info", "ml-100k"])
    assert result.exit_code == 0, result.output
    info = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.output.splitlines())
    assert info["users"] == "943" and info["items"] == "1,682" and info["interactions"] == "100,000"
    assert info["time span"] == "1997-09-20 .. 1998-04-22"
    assert info["item text fields"] == "title, year, genres"


def test_unknown_dataset_exits_1() -> None:
    result = runner.invoke(datasets_app, ["info", "nope"])
    assert result.exit_code == 1
    assert "unknown dataset 'nope'; known datasets: ml-100k, ml-1m" in result.output
