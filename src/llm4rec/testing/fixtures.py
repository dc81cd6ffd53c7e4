"""pytest fixtures of the contract suite: real MovieLens-100K, cut small enough for fast tests.

Enable them with ``pytest_plugins = ["llm4rec.testing.fixtures"]`` in a ``conftest.py`` (or import
the fixtures there). The dataset is fetched into the artifact cache on first use.
"""

from __future__ import annotations

import numpy as np
import pytest

from llm4rec.data.catalog import Catalog
from llm4rec.data.dataset import Dataset
from llm4rec.data.interactions import Interactions
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


def catalog_subset(dataset: Dataset, n_users: int = 120, n_items: int = 40, per_user: int = 20) -> Interactions:
    """The interactions of the first ``n_users`` users with the ``n_items`` items they rated most,
    re-indexed over a catalog of those items only (``n_items`` ids, catalog rows cut to match; ties
    in popularity go to the lower item id), each user's most recent ``per_user`` of them (so every
    user has unseen items left to recommend). Users keep their ids (``n_users`` of them)."""
    inter = dataset.interactions
    sub = inter.subset(inter.user < n_users)
    counts = np.bincount(sub.item, minlength=inter.n_items)
    keep = np.sort(np.argsort(-counts, kind="stable")[:n_items])
    remap = np.full(inter.n_items, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    rows = remap[sub.item] >= 0
    cat = dataset.catalog
    catalog = Catalog(np.asarray(cat.ids)[keep], cat.table.iloc[keep], cat.text_fields)
    out = Interactions.build(sub.user[rows], remap[sub.item[rows]], sub.timestamp[rows], sub.rating[rows],
                             n_users=n_users, n_items=len(keep), catalog=catalog)
    off = out.user_offsets()
    rank_from_end = off[out.user + 1] - np.arange(len(out))  # 1 = the user's most recent row
    return out.subset(rank_from_end <= per_user)


@pytest.fixture(scope="session")
def small_catalog_split(ml100k: Dataset) -> Split:
    """Leave-one-out split of the first 120 users of ML-100K over the 40 items they rated most (a 40-item
    catalog; at most 20 interactions per user, the most recent): for models that cost one language-model
    evaluation per scored item, such as a tuned LLM scoring the full catalog (see
    :class:`~llm4rec.testing.SmallCatalogContract`)."""
    return leave_one_out(catalog_subset(ml100k))
