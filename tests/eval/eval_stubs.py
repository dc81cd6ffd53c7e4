"""Helpers for the evaluation tests: hand-made splits and stub recommenders with known scores."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from llm4rec.data.interactions import Interactions
from llm4rec.data.split import Split
from llm4rec.models.base import ModelConfig, Recommender

ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class FnModel(Recommender):
    """Scores from ``fn(users[:, None], items) -> scores``; fitting only records the id universe."""

    Config = ModelConfig
    name = "fn"

    def __init__(self, fn: ScoreFn, **params) -> None:
        super().__init__(**params)
        self.fn = fn

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        pass

    def _score(self, users: np.ndarray) -> np.ndarray:
        items = np.broadcast_to(np.arange(self.n_items_), (len(users), self.n_items_))
        return self._score_items(users, items)

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(users[:, None], items), dtype=np.float32)


def matrix_model(scores, train: Interactions) -> FnModel:
    """A fitted model whose score of (u, i) is ``scores[u][i]``."""
    s = np.asarray(scores, dtype=np.float32)
    return FnModel(lambda u, i: s[u, i]).fit(train)


def constant_model(train: Interactions, value: float = 0.5) -> FnModel:
    """A fitted model that scores everything alike (an untrained scorer)."""
    return FnModel(lambda u, i: np.full(np.broadcast_shapes(u.shape, i.shape), value)).fit(train)


def make_split(train, valid, test, n_users: int, n_items: int) -> Split:
    """A split from ``(user, item[, rating])`` tuples (timestamps = listing order)."""
    def build(rows) -> Interactions:
        rows = list(rows)
        users = [r[0] for r in rows]
        items = [r[1] for r in rows]
        ratings = [r[2] if len(r) > 2 else 1.0 for r in rows]
        return Interactions.build(users, items, np.arange(len(rows)), ratings, n_users=n_users,
                                  n_items=n_items)

    return Split(build(train), build(valid), build(test), "manual")


def tiny_split() -> Split:
    """3 users x 6 items.

    train: u0 {0, 1}, u1 {2}, u2 {0};  valid: u0 {2}, u1 {3};
    test:  u0 {3 (rating 5), 4 (rating 2)}, u1 {5 (rating 4)}, u2 {1 (rating 3), 0 (rating 1)}.
    u2's test item 0 is already in train, so it is no target; test targets: u0 {3, 4}, u1 {5}, u2 {1}.
    """
    return make_split(train=[(0, 0), (0, 1), (1, 2), (2, 0)],
                      valid=[(0, 2), (1, 3)],
                      test=[(0, 3, 5.0), (0, 4, 2.0), (1, 5, 4.0), (2, 1, 3.0), (2, 0, 1.0)],
                      n_users=3, n_items=6)


def random_split(n_users: int = 300, n_items: int = 200, per_user: int = 20, seed: int = 0) -> Split:
    """A leave-one-out split of random, popularity-skewed interactions (distinct items per user)."""
    from llm4rec.data.split import leave_one_out

    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1)
    p /= p.sum()
    items = np.stack([rng.choice(n_items, per_user, replace=False, p=p) for _ in range(n_users)])
    users = np.repeat(np.arange(n_users), per_user)
    inter = Interactions.build(users, items.ravel(), rng.permutation(len(users)), n_users=n_users,
                               n_items=n_items)
    return leave_one_out(inter)
