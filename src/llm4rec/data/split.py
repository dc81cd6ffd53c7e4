"""Splits: train / valid / test over one dataset, built deterministically from a seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llm4rec.data.dataset import Dataset
from llm4rec.data.interactions import Interactions


@dataclass(eq=False)
class Split:
    """Train / valid / test interactions over one id universe, plus how they were made.

    ``known_for("valid")`` is what a model may see when predicting valid (train);
    ``known_for("test")`` is train + valid. Protocols exclude those items from
    the ranking and the runner passes them to ``Recommender.set_history``.
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    dataset: str = ""

    @property
    def n_users(self) -> int:
        return self.train.n_users

    @property
    def n_items(self) -> int:
        return self.train.n_items

    def part(self, name: str) -> Interactions:
        if name not in ("train", "valid", "test"):
            raise ValueError(f"unknown split part {name!r}; use 'train', 'valid' or 'test'")
        return getattr(self, name)

    def known_for(self, part: str) -> Interactions:
        """Interactions observable before predicting ``part``."""
        if part == "valid":
            return self.train
        if part == "test":
            return self.train.concat(self.valid) if len(self.valid) else self.train
        raise ValueError(f"known_for takes 'valid' or 'test', not {part!r}")


def leave_one_out(ds: Dataset | Interactions, *, min_train: int = 1, seed: int = 0) -> Split:
    """Leave-one-out by time: per user the last interaction is test, the second-last valid.

    Users with fewer than ``min_train + 2`` interactions keep everything in train
    (they are not evaluated). Ties in time keep the file order (stable sort), so
    the split is deterministic; ``seed`` is recorded for the record only.
    """
    inter = ds.interactions if isinstance(ds, Dataset) else ds
    off = inter.user_offsets()
    counts = np.diff(off)
    pos = np.arange(len(inter)) - np.repeat(off[:-1], counts)  # position within the user's sequence
    n_of_row = np.repeat(counts, counts)
    evaluated = n_of_row >= min_train + 2
    test = evaluated & (pos == n_of_row - 1)
    valid = evaluated & (pos == n_of_row - 2)
    train = ~(test | valid)
    name = ds.name if isinstance(ds, Dataset) else ""
    return Split(inter.subset(train), inter.subset(valid), inter.subset(test), "leave_one_out",
                 {"min_train": min_train, "seed": seed}, name)
