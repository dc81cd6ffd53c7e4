"""LoRA plus new vocabulary tokens (P5-style item identifiers): ``method = "lora-tokens"``.

The base model's token embeddings are resized to ``vocab`` rows; the rows of ``token_ids`` (the new
tokens, e.g. ``<a_3>``) start from the mean embedding plus seeded noise (``init_seed``), and are trained
along with the LoRA adapters through peft's ``trainable_token_indices`` (only those rows train and are
saved; with tied input / output embeddings the output rows are the same weights). The saved adapter
is loaded back by :func:`load_with_tokens` (resize, same init, then the adapter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from llm4rec.tuning.generator.base import register_method
from llm4rec.tuning.generator.lora import LoraMethod


@register_method("lora-tokens")
class LoraTokensMethod(LoraMethod):
    """LoRA on ``target_modules`` + the embeddings of the new tokens ``token_ids`` (vocabulary grown to ``vocab``)."""

    method: Literal["lora-tokens"] = "lora-tokens"  # type: ignore[assignment]
    token_ids: list[int] = Field(default_factory=list, description="ids of the added tokens (trained)")
    vocab: int = Field(0, ge=0, description="embedding rows after adding the tokens")
    init_seed: int = Field(0, description="seed of the new rows' initial noise")

    def prepare(self, model: Any) -> Any:
        from peft import LoraConfig, TaskType, get_peft_model

        grow(model, self.vocab, self.token_ids, self.init_seed)
        cfg = LoraConfig(task_type=TaskType.CAUSAL_LM, r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                         target_modules=list(self.target_modules), trainable_token_indices=list(self.token_ids))
        return get_peft_model(model, cfg)

    def save_trained(self, trained: Any, folder: Any) -> None:
        """The LoRA weights and the new tokens' rows only (not the whole resized embedding matrix)."""
        trained.save_pretrained(folder, safe_serialization=True, save_embedding_layers=False)


def grow(model: Any, vocab: int, token_ids: list[int], seed: int) -> None:
    """Resize ``model``'s embeddings to ``vocab`` rows and set the rows of ``token_ids`` to the mean
    embedding + seeded noise (a tenth of the embeddings' standard deviation)."""
    import torch

    old = model.get_input_embeddings().weight.shape[0]
    if vocab > old:
        model.resize_token_embeddings(vocab, mean_resizing=False)
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        base = emb[: min(old, vocab)]
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn(len(token_ids), emb.shape[1], generator=gen) * float(base.std()) * 0.1
        emb[torch.as_tensor(token_ids, dtype=torch.long)] = base.mean(0, keepdim=True) + noise.to(emb.dtype)


def load_with_tokens(model: Any, folder: str | Path, method: LoraTokensMethod) -> Any:
    """``model`` (a private copy of the base) grown as in training, with the adapter of ``folder`` merged in."""
    from peft import PeftModel

    grow(model, method.vocab, method.token_ids, method.init_seed)
    return PeftModel.from_pretrained(model, str(folder)).merge_and_unload().eval()
