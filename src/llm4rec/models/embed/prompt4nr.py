"""Prompt4NR-style pointwise recommender: a frozen encoder reads a prompt about (user, item) and a
tuned soft prompt (or a fixed hard template) plus a linear head says whether the user will like the item.

The input is ``template`` filled with the user's recent items (``history``) and
the candidate (``item``), both rendered by ``Catalog.text``. Training pairs are
(history prefix, next item) positives and ``negatives`` uniformly drawn unseen
items per positive, with binary cross-entropy (:mod:`llm4rec.tuning.encoder.prompt`).
Only the soft prompt and the head are trained (a few thousand parameters); ``prompt = "finetune"``
trains the whole encoder on the same task, the reference that prompt tuning is measured against.

A cross-encoder reads every (user, item) pair: scoring the full catalog costs
one encoder pass per item and user, so evaluate it with the ``sampled`` or
``pointwise`` protocols (full ranking works, slowly).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.lm.config import HFEncoderConfig
from llm4rec.models.base import ModelConfig, ModelTags, Recommender
from llm4rec.models.embed.text import catalog_texts, get_encoder, hf_encoder, history_text, next_item_pairs
from llm4rec.prompts.library import PromptSet, render
from llm4rec.registry import MODELS
from llm4rec.tuning.encoder.prompt import PromptScorer, train_pointwise


class Prompt4NRConfig(ModelConfig):
    """Prompt kind, template, and the short CPU-sized training schedule."""

    encoder: HFEncoderConfig = Field(default_factory=lambda: HFEncoderConfig(model="minilm", max_length=128),
                                     description="hf encoder (frozen unless prompt = finetune); max_length "
                                                 "bounds the prompt")
    prompt: Literal["soft", "hard", "finetune"] = Field(
        "soft", description="soft: trainable prompt vectors + head; hard: fixed template, head only; "
                            "finetune: fixed template, the whole encoder + head (the fine-tuning reference)")
    n_prompts: int = Field(8, ge=1, description="soft prompt length (tokens)")
    template: str = Field("default", description="variant of prompts/templates/prompt4nr.toml (key 'input'), "
                                                 "or the prompt text itself with {history} and {item}")
    prompt_file: str | None = Field(None, description="TOML file overriding built-in templates")
    text_fields: list[str] | None = Field(None, description="catalog fields of an item's text (default: all)")
    user_items: int = Field(5, ge=1, description="most recent items in {history}")
    max_pairs: int = Field(512, ge=1, description="positive training pairs (each with `negatives` negatives)")
    negatives: int = Field(1, ge=1)
    epochs: int = Field(1, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0, description="learning rate of the prompts and the head")
    encoder_lr: float = Field(3e-5, gt=0, description="learning rate of the encoder (prompt = finetune)")
    score_batch_size: int = Field(256, ge=1, description="(user, item) prompts per scoring pass")
    progress: bool = False


@MODELS.register("prompt4nr")
class Prompt4NR(Recommender):
    """Pointwise relevance logit of a prompt: soft or hard prompt + linear head on a frozen encoder (or fine-tuned)."""

    Config: ClassVar[type[Prompt4NRConfig]] = Prompt4NRConfig
    config: Prompt4NRConfig
    _net: PromptScorer | None  # the prompt + head over the encoder, built on first use
    name: ClassVar[str] = "prompt4nr"

    def _scorer(self) -> PromptScorer:
        net: PromptScorer | None = getattr(self, "_net", None)
        if net is None:
            c = self.config
            enc = hf_encoder(get_encoder(c.encoder), self.name)
            net = self._net = PromptScorer(enc.model, enc.tokenizer, c.prompt, c.n_prompts, c.encoder.max_length)
        return net

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_net", None)  # references the shared encoder; rebuilt from the config and the tuned weights
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "tuned_" in state:
            self._set_state(self.tuned_)

    @cached_property
    def _template_text(self) -> str:
        t = self.config.template
        return t if "{" in t else PromptSet("prompt4nr", t, self.config.prompt_file).template["input"]

    def _prompt(self, history: np.ndarray, item: int) -> str:
        c = self.config
        return render(self._template_text, history=history_text(self.item_texts_, history, c.user_items),
                      item=self.item_texts_[item])

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        c = self.config
        self.item_texts_ = catalog_texts(train.catalog, c.text_fields)
        self._net = None
        rows, first = next_item_pairs(train, c.max_pairs, c.seed)
        rng = np.random.default_rng(c.seed + 1)
        seen = train.to_csr()
        texts, labels = [], []
        for r, f in zip(rows, first, strict=True):
            history, user = train.item[f:r], train.user[r]
            texts.append(self._prompt(history, int(train.item[r])))
            labels.append(1.0)
            drawn = rng.integers(0, train.n_items, 4 * c.negatives)
            negs = [j for j in drawn if j not in seen[user].indices][:c.negatives]
            texts += [self._prompt(history, int(j)) for j in negs]
            labels += [0.0] * len(negs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            scorer = self._scorer()
            self.fit_log_ = train_pointwise(scorer, texts, np.array(labels), batch_size=c.batch_size, lr=c.lr,
                                            epochs=c.epochs, seed=c.seed, progress=c.progress,
                                            encoder_lr=c.encoder_lr)
        self.tuned_ = self._get_state()

    def _on_history(self, history: Interactions) -> None:
        self._hist_offsets = history.user_offsets()
        self._hist_items = history.item.copy()

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        scorer = self._scorer()
        prompts = []
        for u, row in zip(users, items, strict=True):
            hist = self._hist_items[self._hist_offsets[u]:self._hist_offsets[u + 1]]
            prompts += [self._prompt(hist, int(i)) for i in row]
        out = np.empty(len(prompts), np.float32)
        step = self.config.score_batch_size
        with torch.no_grad():
            for s in range(0, len(prompts), step):
                out[s:s + step] = scorer(prompts[s:s + step]).numpy()
        return out.reshape(items.shape)

    def _score(self, users: np.ndarray) -> np.ndarray:
        items = np.broadcast_to(np.arange(self.n_items_), (len(users), self.n_items_))
        return self._score_items(users, items)

    def tags(self) -> ModelTags:
        return replace(super().tags(), needs_text=True)

    def costs(self) -> dict[str, float]:
        """Prompt-tuning cost (params trained, seconds) for the runner's cost rows."""
        return dict(getattr(self, "fit_log_", {}))

    def _get_state(self) -> dict[str, np.ndarray]:
        state = {f"net.{k}": v.detach().numpy().copy() for k, v in self._scorer().state_dict().items()}
        return {**state, "item_texts": np.array(self.item_texts_, dtype=str)}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.item_texts_ = [str(t) for t in state["item_texts"]]
        self._net = None
        self._scorer().load_state_dict({k[4:]: torch.from_numpy(np.array(v)) for k, v in state.items()
                                        if k.startswith("net.")})
        self.tuned_ = dict(state)
