"""Result types of the evaluation: one protocol's measurement, one results row, one run.

They live apart from the protocols, the runner and the reports, which all use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class ProtocolResult:
    """What one protocol measured for one model.

    ``users`` is aligned with every array of ``per_user`` (``"ndcg@10"``,
    ``"hr@10"``, ``"auc"``, ...): evaluated user ids, or for
    :class:`SampledCandidates` the user of each (user, target) row (a user with
    several targets repeats; :meth:`by_user` averages them). ``global_metrics``
    holds values that are not means over users (``"coverage@10"``, the pooled
    ``"auc"``, ``"gauc"``, ``"logloss"``). A name appears in one of the two only.
    """

    protocol: str
    users: np.ndarray
    per_user: dict[str, np.ndarray]
    global_metrics: dict[str, float]
    seconds: float
    part: str = "test"
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """One number per metric: its global value if it has one, else the mean over users (NaN skipped)."""
        out = {k: float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan")
               for k, v in self.per_user.items()}
        out.update(self.global_metrics)
        return out

    def by_user(self) -> ProtocolResult:
        """Per-user means of row-level values (for bootstraps that resample users, not rows)."""
        ids, inverse = np.unique(self.users, return_inverse=True)
        if len(ids) == len(self.users):
            return self
        n = np.bincount(inverse, minlength=len(ids))
        per_user = {k: np.bincount(inverse, weights=v, minlength=len(ids)) / n
                    for k, v in self.per_user.items()}
        return ProtocolResult(self.protocol, ids, per_user, dict(self.global_metrics), self.seconds,
                              self.part, list(self.notes))


@dataclass
class Record:
    """One row of ``results.json``."""

    model: str
    protocol: str
    metric: str
    k: int | None
    value: float
    ci_low: float | None
    ci_high: float | None
    n_users: int


#: name of the per-user column that holds the user of each value (``"model|protocol|user_id"``)
USER_ID = "user_id"


@dataclass
class RunResult:
    """Everything a run produced: records, per-user values (for paired tests), failures, output folder.

    ``per_user`` maps ``"model|protocol|metric"`` to per-user values and ``"model|protocol|user_id"``
    to the (dense) user of each value; ``user_vocab`` maps dense ids to external ones when the run
    wrote them to ``per_user.npz``. ``files`` lists the files the run wrote into ``output_dir``.
    """

    records: list[Record]
    per_user: dict[str, np.ndarray]
    failures: dict[str, str]
    output_dir: Path
    user_vocab: np.ndarray | None = None
    files: list[str] = field(default_factory=list)

    @property
    def empty(self) -> list[str]:
        """``"model (protocol)"`` for every evaluation that covered no user (its metrics are ``null``)."""
        return list(dict.fromkeys(f"{r.model} ({r.protocol})" for r in self.records
                                  if r.protocol != "cost" and r.n_users == 0))
