"""Shared fixtures: the real MovieLens datasets (loaded once per session) and the format fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm4rec.data import Dataset, load_dataset

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def ml100k() -> Dataset:
    return load_dataset("ml-100k")


@pytest.fixture(scope="session")
def ml1m() -> Dataset:
    return load_dataset("ml-1m")
