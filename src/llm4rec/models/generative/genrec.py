"""A decoder trained from scratch to write the next item's id tokens (GPTRec / TIGER style).

Items become code sequences through an :mod:`item tokenizer <llm4rec.models.generative.tokenizers>`
fitted on the training log; a small GPT-2 (SASRec-sized) learns next-token prediction over users'
flattened item sequences; a user's ranking is beam search of width ``beams`` constrained by the
catalog trie (seen items closed), scored by the beam's log-probability. Items outside the beam get
one floor score below every beam (a generative model ranks only what it writes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field
from transformers import GPT2Config, GPT2LMHeadModel

from llm4rec.data.interactions import Interactions
from llm4rec.models.classic.torch_base import TorchConfig, TorchRecommender, minibatches
from llm4rec.models.generative.tokenizers import ItemTokenizer, fit_tokenizer, make_tokenizer
from llm4rec.models.generative.trie import ItemTrie, beam_items
from llm4rec.registry import MODELS

FLOOR = -1e4  # score of items the beam did not write


class GenRecConfig(TorchConfig):
    tokenizer: str = Field("random", description="item tokenizer name (ITEM_TOKENIZERS)")
    tokenizer_params: dict[str, Any] = Field(default_factory=dict)
    encoder: dict[str, Any] | None = Field(None, description="text encoder for semantic ids (llm4rec.lm config)")
    max_len: int = Field(50, ge=1, description="history items in the prompt")
    hidden: int = Field(64, ge=8)
    layers: int = Field(2, ge=1)
    heads: int = Field(2, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    beams: int = Field(20, ge=1, description="beam width = items written per user")
    epochs: int = Field(200, ge=1, description="maximum passes: a cap, not the budget (early stopping on "
                                               "validation NDCG@10 ends training, as for SASRec)")
    eval_steps: int = Field(30, ge=0, description="validations at least this many optimiser steps apart (an "
                                                  "ML-100K epoch is only ~9 steps)")
    val_users: int | None = Field(200, ge=1, description="validation users decoded per evaluation under "
                                                          "llm4rec run (seeded sample; None: all)")
    validity_users: int = Field(0, ge=0, description="also decode this many users' first beams without the "
                                                     "trie and report the share naming a catalog item (costs)")


@MODELS.register("genrec")
class GenRec(TorchRecommender):
    Config: ClassVar[type[GenRecConfig]] = GenRecConfig
    config: GenRecConfig
    name: ClassVar[str] = "genrec"
    net_: GPT2LMHeadModel
    #: share of unconstrained beams naming a catalog item, per scored user (after training)
    validity_: list[float]

    # ------------------------------------------------------------------ ids
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        c = self.config
        self._set_tokenizer(fit_tokenizer(c.tokenizer, {"seed": c.seed, **c.tokenizer_params}, train, c.encoder))
        self.gen_seconds_, self.gen_users_ = 0.0, 0
        super()._fit(train, valid)
        self.validity_: list[float] = []  # measured on the scored users after training

    def _set_tokenizer(self, tok: ItemTokenizer) -> None:
        self.tokenizer_ = tok
        sizes = tok.codebook_sizes
        offsets = 1 + np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.item_tokens_ = tok.fitted_codes() + offsets[None, :]  # token 0: BOS / pad
        self.vocab_ = int(1 + sizes.sum())
        self.trie_ = ItemTrie(self.item_tokens_)
        self.validity_ = []

    def _build_net(self) -> GPT2LMHeadModel:
        c, n = self.config, self.item_tokens_.shape[1]
        cfg = GPT2Config(vocab_size=self.vocab_, n_positions=c.max_len * n + n + 1, n_embd=c.hidden,
                         n_layer=c.layers, n_head=c.heads, resid_pdrop=c.dropout, embd_pdrop=c.dropout,
                         attn_pdrop=c.dropout, bos_token_id=0, eos_token_id=None, pad_token_id=0)
        return GPT2LMHeadModel(cfg)

    # ------------------------------------------------------------------ training
    def _on_history(self, history: Interactions) -> None:
        self.seqs_ = history.sequences()
        self.beam_cache_: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # user -> constrained beam

    def _prompt(self, items: np.ndarray) -> list[int]:
        return [0, *self.item_tokens_[items[-self.config.max_len:]].ravel().tolist()]

    def _prepare(self, train: Interactions) -> None:
        win = self.config.max_len + 1  # predict each item of a window from the ones before it
        rows = []
        for seq in train.sequences():
            for end in range(len(seq), 1, -win):
                rows.append(self._prompt(seq[max(0, end - win):end]))
        width = max(map(len, rows))
        self.windows_ = np.zeros((len(rows), width), np.int64)
        self.mask_ = np.zeros((len(rows), width), np.int64)
        for r, row in enumerate(rows):
            self.windows_[r, width - len(row):] = row
            self.mask_[r, width - len(row):] = 1

    def _validator(self, valid: Interactions | None) -> Any:
        inner = super()._validator(valid)
        if inner is None:
            return None

        def fresh(model: GenRec) -> float:  # weights changed since the last validation: decode anew
            model.beam_cache_ = {}
            return inner(model)

        return fresh

    def validation_request(self) -> dict[str, float | int | str]:
        """NDCG@10 on ``val_users`` seeded validation users (decoding every validation user each evaluation
        cost minutes per epoch on ML-100K)."""
        req: dict[str, float | int | str] = {"metric": "ndcg", "k": 10, "seed": self.config.seed}
        if self.config.val_users is not None:
            req["max_users"] = self.config.val_users
        return req

    def _n_batches(self) -> int:
        return -(-len(self.windows_) // self.config.batch_size)

    def _batches(self, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        for idx in minibatches(len(self.windows_), self.config.batch_size, rng):
            yield torch.from_numpy(self.windows_[idx]), torch.from_numpy(self.mask_[idx])

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        ids, mask = batch
        labels = ids.masked_fill((mask == 0) | (ids == 0), -100)  # padding and BOS are never targets
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        return self.net_(input_ids=ids, attention_mask=mask, position_ids=pos, labels=labels).loss

    # ------------------------------------------------------------------ decoding
    def _forward_scores(self, users: np.ndarray) -> torch.Tensor:
        out = torch.full((len(users), self.n_items_), FLOOR)
        for r, u in enumerate(users):
            if int(u) not in self.beam_cache_:
                self.beam_cache_[int(u)] = self.generate(int(u))
                if len(self.validity_) < self.config.validity_users:
                    self.validity_.append(self.validity(np.array([u])))
            items, scores = self.beam_cache_[int(u)]
            out[r, items] = torch.as_tensor(scores, dtype=torch.float32)
        return out

    def generate(self, user: int, constrained: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Beam search for one user: (items, log-probabilities), best first; unconstrained decoding
        drops sequences that name no catalog item (see :meth:`validity`)."""
        start = time.perf_counter()
        seq = self.seqs_[user]
        out = beam_items(self.net_, self._prompt(seq), self.trie_, seq, self.config.beams, constrained=constrained)
        self.gen_seconds_ = getattr(self, "gen_seconds_", 0.0) + time.perf_counter() - start
        self.gen_users_ = getattr(self, "gen_users_", 0) + 1
        return out

    def validity(self, users: np.ndarray) -> float:
        """Share of unconstrained beams that name a catalog item (the trie's job, measured)."""
        k = self.config.beams
        return float(np.mean([len(self.generate(int(u), constrained=False)[0]) / k for u in users]))

    # ------------------------------------------------------------------ contract
    def costs(self) -> dict[str, float]:
        users = float(getattr(self, "gen_users_", 0))
        return {"beams": float(self.config.beams), "tokens_per_item": float(self.item_tokens_.shape[1]),
                "generated_users": users,
                "seconds_per_user": float(getattr(self, "gen_seconds_", 0.0)) / max(users, 1.0),
                **({"unconstrained_valid_share": float(np.mean(self.validity_))} if self.validity_ else {})}

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"tokenizer.codes": self.tokenizer_.fitted_codes(), **super()._get_state()}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        tok = make_tokenizer(self.config.tokenizer, {"seed": self.config.seed, **self.config.tokenizer_params})
        self._set_tokenizer(type(tok).from_state(tok.config, {"codes": state["tokenizer.codes"]}))
        super()._set_state(state)
