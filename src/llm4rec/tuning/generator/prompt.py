"""Prompt tuning (Lester et al. 2021) through peft: trained soft-prompt vectors before the input."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from llm4rec.tuning.generator.base import MethodConfig, register_method


@register_method("prompt")
class PromptTuningMethod(MethodConfig):
    """``n_virtual_tokens`` soft tokens, initialised from the embedding of ``init_text`` (or randomly)."""

    method: Literal["prompt"] = "prompt"
    n_virtual_tokens: int = Field(20, ge=1)
    init_text: str | None = Field("Decide whether the user will like the item. Answer Yes or No.",
                                  description="text whose token embeddings start the soft prompt; None = random")
    tokenizer_path: str | None = Field(None, description="set by the trainer (the base model's folder)")

    def prepare(self, model: Any) -> Any:
        from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

        kw: dict[str, Any] = {"prompt_tuning_init": PromptTuningInit.RANDOM}
        if self.init_text:
            kw = {"prompt_tuning_init": PromptTuningInit.TEXT, "prompt_tuning_init_text": self.init_text,
                  "tokenizer_name_or_path": self.tokenizer_path}
        cfg = PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=self.n_virtual_tokens, **kw)
        return get_peft_model(model, cfg)

    def view(self, generator: Any, trained: Any) -> None:
        generator.soft_prompt = trained.get_prompt_embedding_to_save("default").detach().to(generator.model.dtype)
