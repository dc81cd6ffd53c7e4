"""What ``fit`` receives besides the data and the hyper-parameters: validation and callbacks.

Models never import the evaluator (as implicit's ``callback=`` and LensKit's training
options keep them apart): whoever calls ``fit`` hands in

- a ``validator``: ``model -> float``, a held-out score (higher is better) that models
  with early stopping read every ``eval_every`` epochs, e.g.
  :func:`llm4rec.eval.ndcg_validator` (what ``llm4rec run`` passes);
- ``callbacks``: ``callback(model, log)`` after each epoch, where ``log`` holds
  ``epoch``, ``loss``, ``seconds`` and, on validation epochs, the validator's score;
  a callback that returns ``True`` stops training;
- ``progress``: show progress bars (``None``: the model config's ``progress``);
- ``threads``: CPU threads torch models train with (``None``: torch's default), restored after ``fit``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# the model argument is a Recommender (typed Any: this module sits below models.base)
Validator = Callable[[Any], float]
EpochCallback = Callable[[Any, dict[str, Any]], "bool | None"]


@dataclass(frozen=True)
class TrainingOptions:
    """Runtime options of one ``fit`` call (not hyper-parameters: never saved with the model)."""

    validator: Validator | None = None
    validation_name: str = "ndcg@10"
    callbacks: Sequence[EpochCallback] = ()
    progress: bool | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")

    def on_epoch_end(self, model: Any, log: dict[str, Any]) -> bool:
        """Call every callback with the epoch's log; ``True`` when one asks to stop."""
        stop = False
        for callback in self.callbacks:
            stop = bool(callback(model, log)) or stop
        return stop
