"""Fixtures of the fault-injection suite: a tiny real slice of MovieLens-100K and fitted models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


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


@pytest.fixture(scope="session")
def tiny_csv(ml100k, tmp_path_factory) -> Path:
    """ML-100K's first 30 users as a ``user,item,timestamp`` CSV (external ids), for CLI runs."""
    inter = ml100k.interactions
    rows = np.flatnonzero(inter.user < 30)
    path = tmp_path_factory.mktemp("data") / "tiny.csv"
    users, items = ml100k.user_ids[inter.user[rows]], ml100k.catalog.ids[inter.item[rows]]
    path.write_text("user,item,timestamp\n" + "".join(f"{u},{i},{t}\n" for u, i, t in
                                                     zip(users, items, inter.timestamp[rows], strict=True)))
    return path
