"""Fixtures of the LLM-as-recommender tests."""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(scope="session")
def smol_available() -> bool:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    return True
