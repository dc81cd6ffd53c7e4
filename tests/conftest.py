"""Shared fixtures: real MovieLens data, cut small enough for fast tests (from llm4rec.testing.fixtures).

Helper modules beside the tests (``tiny_lm``, ``eval_stubs``, ...) are importable through
``[tool.pytest.ini_options] pythonpath`` in pyproject.toml, not ``sys.path`` edits."""

from __future__ import annotations

import pytest

from llm4rec.testing.fixtures import eval_users, ml100k, small_catalog_split, small_split

# the contract suite's fixtures, for every test
__all__ = ["eval_users", "ml100k", "small_catalog_split", "small_split"]


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory) -> str:
    """Folder of a tiny random-weight Llama with SmolLM2's tokenizer (tuning and tuned-ranker tests)."""
    from tiny_lm import make_tiny_llama

    return str(make_tiny_llama(tmp_path_factory.mktemp("tiny-llama")))
