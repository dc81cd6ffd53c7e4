"""LoRA (Hu et al. 2021) through peft: low-rank updates of chosen linear layers; the base stays frozen."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from llm4rec.tuning.generator.base import MethodConfig, register_method


@register_method("lora")
class LoraMethod(MethodConfig):
    """``r``-rank adapters on ``target_modules`` (TALLRec: r=8, alpha=16, dropout 0.05 on q/v)."""

    method: Literal["lora"] = "lora"
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "v_proj"])

    def prepare(self, model: Any) -> Any:
        from peft import LoraConfig, TaskType, get_peft_model

        cfg = LoraConfig(task_type=TaskType.CAUSAL_LM, r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                         target_modules=list(self.target_modules))
        return get_peft_model(model, cfg)
