"""pytest fixtures of the contract suite: real MovieLens-100K, cut small enough for fast tests.

Enable them with ``pytest_plugins = ["llm4rec.testing.fixtures"]`` in a ``conftest.py`` (or import
the fixtures there). The dataset is fetched into the artifact cache on first use.
"""

from __future__ import annotations

import numpy as np
import pytest

from llm4rec.data.dataset import Dataset
from llm4rec.data.split import Split, leave_one_out


@pytest.fixture(scope="session")
def ml100k() -> Dataset:
    """The real MovieLens-100K dataset."""
    from llm4rec.data import load_dataset

    return load_dataset("ml-100k")


@pytest.fixture(scope="session")
def small_split(ml100k: Dataset) -> Split:
    """Leave-one-out split of the first 120 users of ML-100K (id universe kept: 943 users, 1682 items)."""
    inter = ml100k.interactions
    return leave_one_out(inter.subset(inter.user < 120))


@pytest.fixture(scope="session")
def eval_users(small_split: Split) -> np.ndarray:
    """The users with a test interaction in ``small_split``."""
    return np.unique(small_split.test.user)
