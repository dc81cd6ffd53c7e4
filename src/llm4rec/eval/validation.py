"""Validation scores for early stopping, handed to a model's ``fit`` (models never import the evaluator)."""

from __future__ import annotations

import numpy as np

from llm4rec.data.interactions import Interactions
from llm4rec.data.split import Split
from llm4rec.eval.protocols.full import FullRanking
from llm4rec.eval.protocols.pointwise import Pointwise
from llm4rec.models.base import Recommender
from llm4rec.models.training import TrainingOptions, Validator


def _some_users(valid: Interactions, max_users: int | None, seed: int) -> Interactions:
    """``valid`` restricted to a seeded sample of ``max_users`` of its users (all when None)."""
    users = np.unique(valid.user)
    if max_users is None or len(users) <= max_users:
        return valid
    keep = np.random.default_rng(seed).choice(users, max_users, replace=False)
    return valid.subset(np.isin(valid.user, keep))


def ndcg_validator(train: Interactions, valid: Interactions | None, k: int = 10, max_users: int | None = None,
                   seed: int = 0) -> Validator | None:
    """``model -> mean NDCG@k`` on ``valid`` by the full-ranking protocol (items of ``train`` excluded).

    ``None`` when there is no validation data. Pass it as
    ``model.fit(train, valid, options=TrainingOptions(validator=...))``.
    """
    if valid is None or len(valid) == 0:
        return None
    valid = _some_users(valid, max_users, seed)
    split = Split(train, valid, valid.subset(np.zeros(len(valid), bool)), kind="fit")
    protocol = FullRanking()

    def validate(model: Recommender) -> float:
        result = protocol.evaluate(model, split, part="valid", ks=(k,), metrics=("ndcg",))
        values = np.asarray(result.per_user[f"ndcg@{k}"], dtype=np.float64)
        return float(values.mean()) if values.size else 0.0

    return validate


def early_stopping(train: Interactions, valid: Interactions | None, k: int = 10) -> TrainingOptions:
    """Fit options that early-stop on :func:`ndcg_validator`.

    ``model.fit(train, valid, early_stopping(train, valid))`` is what ``llm4rec run`` does.
    """
    return TrainingOptions(validator=ndcg_validator(train, valid, k), validation_name=f"ndcg@{k}")


def auc_validator(train: Interactions, valid: Interactions | None, label_threshold: float,
                  max_users: int | None = None, seed: int = 0) -> Validator | None:
    """``model -> AUC`` of rating >= ``label_threshold`` labels on ``valid`` (pointwise protocol), on a
    seeded sample of at most ``max_users`` users."""
    if valid is None or len(valid) == 0:
        return None
    valid = _some_users(valid, max_users, seed)
    split = Split(train, valid, valid.subset(np.zeros(len(valid), bool)), kind="fit")
    protocol = Pointwise(label_threshold=label_threshold)

    def validate(model: Recommender) -> float:
        result = protocol.evaluate(model, split, part="valid", ks=(10,), metrics=("auc",))
        value = float(result.global_metrics.get("auc", np.nan))
        return value if np.isfinite(value) else 0.5

    return validate


def fit_options(model: Recommender, train: Interactions, valid: Interactions | None) -> TrainingOptions:
    """The fit options ``llm4rec run`` hands ``model``: NDCG@10 early stopping (:func:`early_stopping`), unless
    the model asks for its own validation with a ``validation_request()`` method returning
    ``{"metric": "auc" | "ndcg", "label_threshold": ..., "k": ..., "max_users": ..., "seed": ...}``
    (LLM models bound the users they can afford to score)."""
    ask = getattr(model, "validation_request", None)
    req = dict(ask() or {}) if callable(ask) else {}
    if not req:
        return early_stopping(train, valid)
    users, seed = req.get("max_users"), int(req.get("seed", 0))
    if req.get("metric") == "auc":
        return TrainingOptions(validator=auc_validator(train, valid, float(req["label_threshold"]), users, seed),
                               validation_name="auc")
    k = int(req.get("k", 10))
    return TrainingOptions(validator=ndcg_validator(train, valid, k, users, seed), validation_name=f"ndcg@{k}")
