"""LLaRA-style hybrid ID + text prompts (Liao et al., SIGIR 2024) on the tuned ranker over a retriever.

Everything of :class:`~llm4rec.models.llm.llamarec.LlamaRec` (candidates = the retriever's top N under
letters, training users, one forward pass per user scoring every letter at the answer position), with
each item in the prompt written as its title followed by an *item token*: the projection of the item's
embedding from the trained ID model (the retriever, default SASRec: ``net_.item_weights()``) into the
LLM's token-embedding space. LoRA and the projector train (``method = "hybrid"``,
:class:`~llm4rec.tuning.generator.hybrid.HybridMethod`); the LLM and the ID model stay frozen.
Curriculum: the share of training prompts that carry item tokens rises from 0 to 1 over the first
``curriculum`` share of the steps (the others read as text only); inference always uses them.

Differences from LLaRA: candidates come from the retriever (LLaRA: 20 random candidates; the sampled
protocol with 19 seeded negatives gives that setting through ``score(users, items)``), the answer is the
candidate's letter, scored by its probability (no invalid answer) and, as LLaRA measures it, generated:
:meth:`~llm4rec.models.llm.llamarec.LlamaRec.generate_choices` decodes greedily from the same hybrid prompt
(``inputs_embeds`` with the item tokens) and reports validity (LLaRA generates the title; here the letter),
and the base model is SmolLM2-135M rather than Llama-2-7B.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.models.llm.llamarec import LlamaRec, LlamaRecConfig
from llm4rec.models.llm.tuned import choice_probabilities
from llm4rec.registry import MODELS
from llm4rec.tuning.generator import MethodConfig, TokenExample, method_config
from llm4rec.tuning.generator.hybrid import HybridMethod, curriculum_callback, hybrid_embeds, load_projector

_MARK = "<<item:{}>>"
_MARK_RE = re.compile(r"<<item:(\d+)>>")


class LlaraConfig(LlamaRecConfig):
    """The LlamaRec-style settings, with the hybrid tuning method."""

    method: dict[str, Any] = Field(default_factory=lambda: {"method": "hybrid"},
                                   description="{method='hybrid', r, alpha, dropout, projector_hidden, curriculum}")

    @field_validator("method")
    @classmethod
    def _check_method(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(method_config(v), HybridMethod):
            raise ValueError("llm-llara trains method = 'hybrid' (LoRA + item-token projector)")
        return v

    @field_validator("early_stopping")
    @classmethod
    def _no_early_stopping(cls, v: bool) -> bool:
        if v:
            raise ValueError("llm-llara has no early stopping yet (hybrid prompts are not scored in training)")
        return v


@MODELS.register("llm-llara")
class Llara(LlamaRec):
    """``llm-llara``: the tuned ranker over a retriever, each item as its title plus a projected ID token."""

    Config = LlaraConfig
    name = "llm-llara"
    config: LlaraConfig

    # ------------------------------------------------------------------ prompt with item tokens
    def prompt_texts(self, items: np.ndarray) -> list[str]:
        return [f"{t} {_MARK.format(int(i))}" for t, i in zip(self.texts(items), items, strict=True)]

    def hybrid_ids(self, generator: Any, prompt: str) -> list[int]:
        """Token ids of a prompt whose item markers become item tokens (``vocab + item``)."""
        vocab = int(generator.model.get_input_embeddings().num_embeddings)
        parts = _MARK_RE.split(prompt)  # text, item, text, item, ..., text
        ids = generator.encode_prompt(parts[0])
        for k in range(1, len(parts), 2):
            ids.append(vocab + int(parts[k]))
            if parts[k + 1]:
                ids.extend(generator.tokenizer(parts[k + 1], add_special_tokens=False).input_ids)
        return ids

    def item_vectors(self) -> np.ndarray:
        """The ID model's item embeddings ``(n_items, d)`` (the retriever's ``net_.item_weights()``)."""
        net = getattr(self.retriever_, "net_", None)
        if net is None or not hasattr(net, "item_weights"):
            raise ConfigError(f"llm-llara reads item embeddings from its retriever; {self.config.retriever!r} has "
                              "none (use an embedding model such as sasrec, bert4rec or gru4rec)")
        return np.asarray(net.item_weights().detach().cpu().numpy(), dtype=np.float32)

    # ------------------------------------------------------------------ tuning hooks
    def tuning_method(self, base: Any) -> MethodConfig:
        method = method_config(self.config.method)
        assert isinstance(method, HybridMethod)
        return method.with_vectors(self.item_vectors())

    def token_examples(self, base: Any, train: Interactions) -> list[TokenExample]:
        out = []
        for u, cands, pos in self.training_targets(train):
            ids = self.hybrid_ids(base, self.prompt(self.seqs_[u][:-1], cands))
            out.append(TokenExample(ids, [base.choice_ids([self.choices(len(cands))[pos]])[0]]))
        return out

    def tuning_callbacks(self) -> list[Any]:
        return [curriculum_callback(self.config.train.seed)]

    # ------------------------------------------------------------------ scoring
    def _hybrid(self) -> tuple[Any, Any, Any]:
        """(tuned generator, projector, item vectors), loaded once per adapter folder."""
        key = str(self.adapter_dir_)
        cached = self.__dict__.get("hybrid_")
        if cached is None or cached[0] != key:
            projector, vectors = load_projector(self.adapter_dir_)
            cached = (key, projector, vectors)
            self.__dict__["hybrid_"] = cached
        return self.generator, cached[1], cached[2]

    def answer_embeds(self, user: int, candidates: np.ndarray) -> Any:
        """Input embeddings ``(1, T, d)`` of the hybrid prompt: token embeddings, and the projected item
        vectors at the item tokens."""
        import torch

        gen, projector, vectors = self._hybrid()
        ids = self.hybrid_ids(gen, self.prompt(self.seqs_[int(user)], candidates))
        emb, _ = hybrid_embeds(gen.model.get_input_embeddings(), projector, vectors,
                               torch.tensor([ids], device=gen.device))
        return emb

    def letter_scores(self, users: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        import torch

        gen: Any = self.generator
        choice = torch.tensor(gen.choice_ids(self.choices(candidates.shape[1])))
        out = np.empty(candidates.shape, np.float32)
        with self.track(len(users)), torch.inference_mode():
            for r, u in enumerate(users):
                emb = self.answer_embeds(int(u), candidates[r])
                logits = gen.model(inputs_embeds=emb).logits[0, -1].float()
                lp = torch.log_softmax(logits, -1)[choice].double().numpy()
                out[r] = choice_probabilities(lp[None])[0]
                self.count("hybrid_prompt_tokens", emb.shape[1])
        return out

    def extra_metrics(self) -> dict[str, float]:
        tokens = self.__dict__.get("stats_", {}).get("hybrid_prompt_tokens", 0.0)
        users = (self.__dict__.get("usage_") or {}).get("users", 0.0)
        extra = {"lm_tokens_per_user": tokens / users} if users and tokens else {}
        return {**super().extra_metrics(), **extra}
