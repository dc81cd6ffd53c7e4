"""Fixtures of the fault-injection suite: a tiny real slice of MovieLens-100K and fitted models."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import support`


@pytest.fixture(scope="session")
def tiny_split(ml100k):
    """Leave-one-out split of ML-100K's first 30 users (the full id universe is kept)."""
    from llm4rec.data.split import leave_one_out

    inter = ml100k.interactions
    return leave_one_out(inter.subset(inter.user < 30))


@pytest.fixture(scope="session")
def tiny_users(tiny_split) -> np.ndarray:
    return np.unique(tiny_split.test.user)[:5]


@pytest.fixture()
def pop_folder(tiny_split, tmp_path) -> Path:
    """A saved, fitted ``pop`` model."""
    from llm4rec.models import make_model

    return make_model("pop").fit(tiny_split.train).save(tmp_path / "pop")
