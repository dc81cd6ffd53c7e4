"""Per-user values of a run (``per_user.npz``) read back by user id, and paired across runs.

A run writes, per model and protocol, one column per metric (``"model|protocol|ndcg@10"``) and the
external user id of each value (``"model|protocol|user_id"``). Two runs (other seeds, other models,
other user subsets) are compared user by user through :func:`pair_by_user`, which matches ids and
never relies on the order in which the users were stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llm4rec.errors import ConfigError
from llm4rec.eval.results import USER_ID


@dataclass(frozen=True)
class PerUser:
    """One model's per-user values under one protocol: ``values[metric][i]`` belongs to ``user_ids[i]``."""

    model: str
    protocol: str
    user_ids: np.ndarray
    values: dict[str, np.ndarray]


def load_per_user(path: str | Path) -> dict[tuple[str, str], PerUser]:
    """``{(model, protocol): PerUser}`` from a run folder or its ``per_user.npz``.

    Raises :class:`ConfigError` for a file written without user ids (pairing it would rest on order).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "per_user.npz"
    columns: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    with np.load(path, allow_pickle=False) as z:
        for key in z.files:
            model, protocol, name = key.rsplit("|", 2)
            columns.setdefault((model, protocol), {})[name] = z[key]
    out = {}
    for (model, protocol), cols in columns.items():
        ids = cols.pop(USER_ID, None)
        if ids is None:
            raise ConfigError(f"{path} has no user ids for {model} / {protocol} (written by an older llm4rec); "
                              "rerun it to pair users by id")
        out[model, protocol] = PerUser(model, protocol, ids.astype(str), cols)
    return out


def pair_by_user(a: PerUser, b: PerUser, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(user_ids, values_a, values_b)`` of ``metric`` over the users both hold, sorted by user id."""
    for side in (a, b):
        if metric not in side.values:
            raise ConfigError(f"{side.model} / {side.protocol} has no {metric!r}; it has {sorted(side.values)}")
    for side in (a, b):
        if len(np.unique(side.user_ids)) != len(side.user_ids):
            raise ConfigError(f"{side.model} / {side.protocol}: a user appears twice; values must be per user")
    ids, ia, ib = np.intersect1d(a.user_ids, b.user_ids, assume_unique=True, return_indices=True)
    return ids, a.values[metric][ia], b.values[metric][ib]
