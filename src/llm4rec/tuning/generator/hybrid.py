"""Hybrid ID + text prompts (LLaRA, Liao et al. 2024): item soft tokens projected from an ID model.

Prompts carry *item tokens*: token ids ``vocab + item`` (beyond the tokenizer's vocabulary). The
trained module (:func:`hybrid_lm`) embeds ordinary ids with the (frozen) LLM's embedding table and
item tokens with ``projector(item_vectors[item])``, a two-layer MLP from the ID model's item embedding
into the LLM's hidden size. LoRA adapters (as :class:`~.lora.LoraMethod`) and the projector train;
the LLM and the item vectors stay frozen.

Curriculum (LLaRA's): at optimiser step ``s`` of ``S`` each training prompt keeps its item tokens with
probability ``min(1, s / (curriculum * S))`` and otherwise reads as text only (its item tokens are
masked out of attention); the draw is seeded by (seed, step, row), so a resumed run repeats it.
``curriculum = 0`` trains hybrid prompts from the start. Inference always uses the item tokens.

Saved: the LoRA adapter (loaded and merged by ``HFGenerator(adapter=...)``), ``projector.safetensors``
and ``item_vectors.safetensors`` (the frozen ID embeddings the projector reads).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, PrivateAttr

from llm4rec.tuning.generator.base import register_method
from llm4rec.tuning.generator.lora import LoraMethod

PROJECTOR_FILE = "projector.safetensors"
VECTORS_FILE = "item_vectors.safetensors"


@register_method("hybrid")
class HybridMethod(LoraMethod):
    """LoRA + a projector of frozen item vectors into soft tokens (set :meth:`with_vectors` before training)."""

    method: Literal["hybrid"] = "hybrid"  # type: ignore[assignment]
    projector_hidden: int = Field(128, ge=1, description="hidden width of the two-layer projector")
    curriculum: float = Field(0.5, ge=0, le=1, description="share of the steps over which hybrid prompts "
                              "rise from none to all (0: hybrid from the start)")
    vectors_digest: str = Field("", description="digest of the item vectors (set by with_vectors; part of the "
                                "run fingerprint)")
    _vectors: np.ndarray | None = PrivateAttr(None)

    def with_vectors(self, vectors: np.ndarray) -> HybridMethod:
        """A copy that carries ``vectors`` (``(n_items, d)``) and their digest."""
        import hashlib

        v = np.ascontiguousarray(vectors, dtype=np.float32)
        out = self.model_copy(update={"vectors_digest": hashlib.sha256(v.tobytes()).hexdigest()[:16]})
        out._vectors = v
        return out

    def prepare(self, model: Any) -> Any:
        if self._vectors is None:
            raise ValueError("HybridMethod needs item vectors: use method.with_vectors(vectors)")
        lm = super().prepare(model)
        return hybrid_lm(lm, self._vectors, self.projector_hidden, self.curriculum)

    def view(self, generator: Any, trained: Any) -> None:
        raise NotImplementedError("hybrid prompts are scored by the recommender, not through a text generator")

    def save_trained(self, trained: Any, folder: Any) -> None:
        from safetensors.torch import save_file

        trained.lm.save_pretrained(folder, safe_serialization=True)
        save_file({k: v.detach().contiguous() for k, v in trained.projector.state_dict().items()},
                  str(Path(folder) / PROJECTOR_FILE))
        save_file({"vectors": trained.vectors.detach().contiguous()}, str(Path(folder) / VECTORS_FILE))


def hybrid_embeds(embedding: Any, projector: Any, vectors: Any, input_ids: Any) -> tuple[Any, Any]:
    """(input embeddings, item-token mask) of ``input_ids``: ``embedding`` for ids below its size, the
    projected ``vectors[id - size]`` for item tokens."""
    vocab = int(embedding.num_embeddings)
    is_item = input_ids >= vocab
    emb = embedding(input_ids.clamp(max=vocab - 1))
    if bool(is_item.any()):
        soft = projector(vectors[input_ids[is_item] - vocab]).to(emb.dtype)
        emb = emb.clone()
        emb[is_item] = soft
    return emb, is_item


def build_projector(d_in: int, hidden: int, d_out: int) -> Any:
    """LLaRA's projector: Linear -> GELU -> Linear."""
    from torch import nn

    return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out))


@lru_cache(maxsize=1)
def _hybrid_lm_class() -> type:
    """The ``nn.Module`` class of :func:`hybrid_lm` (defined on first use: torch is imported lazily)."""
    from torch import nn

    class HybridLM(nn.Module):
        """A causal LM (LoRA-wrapped) whose item tokens (ids >= vocab) are projected item vectors."""

        _keys_to_ignore_on_save = None  # read by transformers' Trainer after loading a checkpoint

        def __init__(self, lm: Any, vectors: np.ndarray, hidden: int, curriculum: float = 0.0) -> None:
            import torch

            super().__init__()
            self.lm = lm
            emb = lm.get_input_embeddings()
            self.vocab = int(emb.num_embeddings)
            self.register_buffer("vectors", torch.as_tensor(vectors, dtype=torch.float32), persistent=False)
            self.projector = build_projector(vectors.shape[1], hidden, int(emb.embedding_dim))
            self.curriculum, self.step, self.total, self.seed = curriculum, 0, 1, 0

        def embed(self, input_ids: Any) -> tuple[Any, Any]:
            """(input embeddings, mask of the item tokens)."""
            return hybrid_embeds(self.lm.get_input_embeddings(), self.projector, self.vectors, input_ids)

        def hybrid_share(self) -> float:
            if self.curriculum <= 0:
                return 1.0
            return min(1.0, self.step / max(1.0, self.curriculum * self.total))

        def forward(self, input_ids: Any, attention_mask: Any = None, labels: Any = None, **kw: Any) -> Any:
            import torch

            emb, is_item = self.embed(input_ids)
            if self.training and attention_mask is not None and bool(is_item.any()):
                rng = np.random.default_rng([self.seed, self.step])
                text_only = torch.as_tensor(rng.random(len(input_ids)) >= self.hybrid_share(),
                                            device=input_ids.device)
                attention_mask = attention_mask.masked_fill(is_item & text_only[:, None], 0)
            return self.lm(inputs_embeds=emb, attention_mask=attention_mask, labels=labels, **kw)

        def state_dict(self, *args: Any, **kw: Any) -> Any:
            """The trainable part only (LoRA and projector): what checkpoints hold and resume loads back."""
            full = super().state_dict(*args, **kw)
            trainable = {n for n, p in self.named_parameters() if p.requires_grad}
            return {k: v.detach().clone() for k, v in full.items() if k in trainable}

        def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
            """Load what :meth:`state_dict` wrote (the trainable part); the frozen base is not expected."""
            import torch
            from torch.nn.modules.module import _IncompatibleKeys

            params = {n: p for n, p in self.named_parameters() if p.requires_grad}
            missing, unexpected = sorted(set(params) - set(state_dict)), sorted(set(state_dict) - set(params))
            if strict and (missing or unexpected):
                raise RuntimeError(f"hybrid checkpoint: missing {missing[:3]}, unexpected {unexpected[:3]}")
            with torch.no_grad():
                for k, v in state_dict.items():
                    if k in params:
                        params[k].copy_(v)
            return _IncompatibleKeys(missing, unexpected)

    return HybridLM


def hybrid_lm(lm: Any, vectors: np.ndarray, hidden: int, curriculum: float = 0.0) -> Any:
    """A causal LM (LoRA-wrapped) whose item tokens (ids >= vocab) are projected item vectors; its
    ``state_dict`` holds the trainable part only (checkpoints), ``step``/``total``/``seed`` drive the
    curriculum (set by :func:`curriculum_callback`)."""
    return _hybrid_lm_class()(lm, vectors, hidden, curriculum)


def curriculum_callback(seed: int) -> Any:
    """A ``TrainerCallback`` that tells the :func:`hybrid_lm` module in training its step (the curriculum's clock)."""
    from transformers import TrainerCallback

    class Curriculum(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            if model is not None and hasattr(model, "hybrid_share"):
                model.step, model.total, model.seed = state.global_step, max(1, state.max_steps), seed

    return Curriculum()


def load_projector(folder: str | Path) -> tuple[Any, Any]:
    """(projector module, item vectors tensor) saved by :meth:`HybridMethod.save`."""
    from safetensors.torch import load_file

    folder = Path(folder)
    weights = load_file(str(folder / PROJECTOR_FILE))
    vectors = load_file(str(folder / VECTORS_FILE))["vectors"]
    proj = build_projector(int(weights["0.weight"].shape[1]), int(weights["0.weight"].shape[0]),
                           int(weights["2.weight"].shape[0]))
    proj.load_state_dict(weights)
    return proj.eval(), vectors
