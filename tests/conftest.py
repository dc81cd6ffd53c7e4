"""Shared fixtures: real MovieLens data, cut small enough for fast tests."""

from __future__ import annotations

import numpy as np
import pytest

from llm4rec.data.interactions import Interactions
from llm4rec.data.split import Split, leave_one_out


@pytest.fixture(scope="session")
def ml100k():
    """The real MovieLens-100K dataset (fetched into the artifact cache on first use)."""
    from llm4rec.data import load_dataset

    return load_dataset("ml-100k")


@pytest.fixture(scope="session")
def small_split(ml100k) -> Split:
    """Leave-one-out split of the first 120 users of ML-100K (id universe kept: 943 users, 1682 items)."""
    inter: Interactions = ml100k.interactions
    return leave_one_out(inter.subset(inter.user < 120))


@pytest.fixture(scope="session")
def eval_users(small_split: Split) -> np.ndarray:
    return np.unique(small_split.test.user)


def pytest_configure(config):
    # let test modules import the shared contract suite (tests/contract.py) without a package
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory) -> str:
    """Folder of a tiny random-weight Llama with SmolLM2's tokenizer (tuning and tuned-ranker tests)."""
    from tiny_lm import make_tiny_llama

    return str(make_tiny_llama(tmp_path_factory.mktemp("tiny-llama")))
