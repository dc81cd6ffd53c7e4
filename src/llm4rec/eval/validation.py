"""Validation scores for early stopping, handed to a model's ``fit`` (models never import the evaluator)."""

from __future__ import annotations

import numpy as np

from llm4rec.data.interactions import Interactions
from llm4rec.data.split import Split
from llm4rec.eval.protocols.full import FullRanking
from llm4rec.models.base import Recommender
from llm4rec.models.training import TrainingOptions, Validator


def ndcg_validator(train: Interactions, valid: Interactions | None, k: int = 10) -> Validator | None:
    """``model -> mean NDCG@k`` on ``valid`` by the full-ranking protocol (items of ``train`` excluded).

    ``None`` when there is no validation data. Pass it as
    ``model.fit(train, valid, options=TrainingOptions(validator=...))``.
    """
    if valid is None or len(valid) == 0:
        return None
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
