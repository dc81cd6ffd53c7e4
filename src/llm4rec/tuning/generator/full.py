"""Full fine-tuning: every weight of the model trains; the result is a whole model folder."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from llm4rec.tuning.generator.base import MethodConfig, register_method


@register_method("full")
class FullFinetuneMethod(MethodConfig):
    """All parameters train (use a lower learning rate than for adapters, e.g. 2e-5)."""

    method: Literal["full"] = "full"
    is_adapter: ClassVar[bool] = False

    def prepare(self, model: Any) -> Any:
        model.requires_grad_(True)
        return model
