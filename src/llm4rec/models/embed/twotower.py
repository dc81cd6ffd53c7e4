"""Two-tower recommender on a fine-tuned discriminative encoder (U-BERT / UserBERT style).

A user is the text of their most recent items (``catalog.text``, most recent
first, joined by `` | ``), an item its own text; both go through the same
BERT-family encoder (MiniLM by default, mean pooling) and the score is the
cosine of the two vectors. ``finetune = true`` trains the whole encoder for
``epochs`` over ``max_pairs`` (history prefix, next item) pairs drawn from the
training sequences, with in-batch negatives
(:func:`llm4rec.tuning.encoder.finetune_two_tower`); ``false`` is the frozen
encoder baseline on exactly the same texts.

The fine-tuned weights are part of the saved state (about 90 MB for MiniLM).
Users are encoded lazily, when first scored after each history change.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from llm4rec.data.catalog import Catalog
from llm4rec.data.interactions import Interactions
from llm4rec.lm.config import HFEncoderConfig, make_encoder
from llm4rec.lm.hf import HFEncoder
from llm4rec.models.base import ModelConfig, ModelTags, Recommender
from llm4rec.models.embed.text import catalog_texts, get_encoder, hf_encoder, history_text, next_item_pairs
from llm4rec.registry import MODELS
from llm4rec.tuning.encoder import finetune_two_tower


class TwoTowerConfig(ModelConfig):
    """Encoder, text lengths and the (short, CPU-sized) fine-tuning schedule."""

    encoder: HFEncoderConfig = Field(default_factory=lambda: HFEncoderConfig(model="minilm", max_length=32),
                                     description="hf encoder config; max_length bounds the item text")
    text_fields: list[str] | None = Field(None, description="catalog fields of the item text (default: all)")
    finetune: bool = Field(True, description="fine-tune the encoder (false: frozen-encoder baseline)")
    user_items: int = Field(5, ge=1, description="most recent items in the user text")
    user_max_length: int = Field(96, ge=8, description="token limit of the user text")
    max_pairs: int = Field(1024, ge=1, description="(history, next item) training pairs, sampled once")
    epochs: int = Field(1, ge=1)
    batch_size: int = Field(32, ge=2, description="pairs per step; the other items of a batch are negatives")
    lr: float = Field(3e-5, gt=0)
    temperature: float = Field(0.05, gt=0)
    progress: bool = Field(False, description="tqdm bar over the fine-tuning steps")


@MODELS.register("twotower-ft")
class TwoTowerFT(Recommender):
    """Cosine of encoder(user history text) and encoder(item text), the encoder fine-tuned or frozen."""

    Config: ClassVar[type[TwoTowerConfig]] = TwoTowerConfig
    config: TwoTowerConfig
    name: ClassVar[str] = "twotower-ft"
    #: fine-tuned encoder weights (None: frozen encoder) and the live encoder built from them
    tuned_: dict[str, np.ndarray] | None
    _enc: HFEncoder | None

    # ------------------------------------------------------------------ encoder
    def _encoder(self) -> HFEncoder:
        """The live encoder (rebuilt after load or unpickling, then given the tuned weights)."""
        enc: HFEncoder | None = getattr(self, "_enc", None)
        if enc is None:
            tuned = getattr(self, "tuned_", None)
            if tuned is None:  # frozen: the shared encoder, its outputs cached across runs
                enc = hf_encoder(get_encoder(self.config.encoder), self.name)
            else:  # tuned weights are not what the folder's hash identifies: never cache their outputs
                enc = hf_encoder(make_encoder(self.config.encoder, cache_mode="off"), self.name)
                enc.model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tuned.items()})
            enc.model.eval()
            self._enc = enc
        return enc

    def _encode(self, texts: list[str], max_length: int) -> np.ndarray:
        enc = self._encoder()
        saved, enc.max_length = enc.max_length, max_length
        try:
            return enc.encode(texts, normalize=True)
        finally:
            enc.max_length = saved

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_enc", None)  # holds locks and a cache connection; rebuilt on demand
        return state

    # ------------------------------------------------------------------ texts
    def _item_texts(self, catalog: Catalog | None) -> list[str]:
        return catalog_texts(catalog, self.config.text_fields)

    def _user_text(self, items: np.ndarray) -> str:
        return history_text(self.item_texts_, items, self.config.user_items)

    # ------------------------------------------------------------------ fit
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        c = self.config
        self.item_texts_ = self._item_texts(train.catalog)
        self.tuned_ = None
        self._enc = None
        self.fit_log_: dict[str, float] = {"params_trained": 0.0, "finetune_seconds": 0.0, "steps": 0.0}
        if c.finetune:
            enc = hf_encoder(make_encoder(c.encoder, cache_mode="off"), self.name)
            queries, docs, doc_ids = self._pairs(train)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(c.seed)
                log = finetune_two_tower(enc.model, enc.tokenizer, queries, docs, doc_ids,
                                         query_max_length=c.user_max_length, doc_max_length=c.encoder.max_length,
                                         batch_size=c.batch_size, lr=c.lr, epochs=c.epochs,
                                         temperature=c.temperature, seed=c.seed, progress=c.progress)
            self.tuned_ = {k: v.detach().numpy() for k, v in enc.model.state_dict().items()}
            self._enc = enc
            self.fit_log_ = {"params_trained": float(log.params_trained), "finetune_seconds": log.seconds,
                             "seconds_per_epoch": log.seconds_per_epoch, "steps": float(log.steps),
                             "pairs": float(log.pairs), "final_loss": float(np.mean(log.losses[-10:]))}
        self.item_emb_ = self._encode(self.item_texts_, c.encoder.max_length)

    def _pairs(self, train: Interactions) -> tuple[list[str], list[str], np.ndarray]:
        """``max_pairs`` seeded (history prefix text, next item text) pairs from the training sequences."""
        rows, first = next_item_pairs(train, self.config.max_pairs, self.config.seed)
        queries = [self._user_text(train.item[f:r]) for r, f in zip(rows, first, strict=True)]
        items = train.item[rows]
        return queries, [self.item_texts_[i] for i in items], items

    # ------------------------------------------------------------------ scoring
    def _on_history(self, history: Interactions) -> None:
        self._hist_offsets = history.user_offsets()
        self._hist_items = history.item.copy()
        self._user_emb: dict[int, np.ndarray] = {}

    def _users(self, users: np.ndarray) -> np.ndarray:
        todo = [int(u) for u in dict.fromkeys(users.tolist()) if int(u) not in self._user_emb]
        texts = [self._user_text(self._hist_items[self._hist_offsets[u]:self._hist_offsets[u + 1]]) for u in todo]
        nonempty = [i for i, t in enumerate(texts) if t]
        vecs = np.zeros((len(todo), self.item_emb_.shape[1]), np.float32)
        if nonempty:
            vecs[nonempty] = self._encode([texts[i] for i in nonempty], self.config.user_max_length)
        self._user_emb.update(zip(todo, vecs, strict=True))
        return np.stack([self._user_emb[int(u)] for u in users]) if len(users) else vecs[:0]

    def query_vectors(self, users: np.ndarray) -> np.ndarray:
        """Encoded user texts (``score = query_vectors @ item_vectors().T``)."""
        return self._users(users)

    def item_vectors(self) -> np.ndarray:
        return self.item_emb_

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._users(users) @ self.item_emb_.T

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.einsum("ud,ucd->uc", self._users(users), self.item_emb_[items])

    def tags(self) -> ModelTags:
        return replace(super().tags(), needs_text=True)

    def costs(self) -> dict[str, float]:
        """Fine-tuning cost (params trained, seconds) for the runner's cost rows."""
        return dict(getattr(self, "fit_log_", {}))

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> dict[str, np.ndarray]:
        state = {"item_emb": self.item_emb_, "item_texts": np.array(self.item_texts_, dtype=str)}
        if self.tuned_ is not None:
            state.update({f"enc.{k}": v for k, v in self.tuned_.items()})
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.item_emb_ = state["item_emb"]
        self.item_texts_ = [str(t) for t in state["item_texts"]]
        tuned = {k[len("enc."):]: v for k, v in state.items() if k.startswith("enc.")}
        self.tuned_ = tuned or None
        self._enc = None
