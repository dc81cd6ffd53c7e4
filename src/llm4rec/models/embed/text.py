"""Catalog text embeddings shared by the paradigm-1 models (LLM embeddings + RS).

* :class:`TextConfig` -- the config fields every text model has: which encoder
  (any :mod:`llm4rec.lm` encoder config, default MiniLM) and which catalog fields.
* :func:`encode_catalog` -- renders items with :meth:`Catalog.text` (the one
  rendering of an item) and encodes them. The lm record/replay cache already
  stores one row per text (content-hash keys), so a second run replays from
  disk; this module only adds a per-process memo so one catalog is encoded once
  per process even when several models ask for it, and keeps one loaded encoder
  per config.
* :func:`history_matrix` -- a sparse ``users x items`` weighting of each user's
  most recent history (mean or recency-decayed), the pooling behind user
  embeddings.
* :class:`TextFeatures` -- mixin that encodes the catalog at fit time, persists
  the item matrix with the model (so a loaded model needs no encoder) and reports
  encoder usage to the runner (``costs``).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from llm4rec.data.catalog import Catalog
from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.lm.base import Encoder
from llm4rec.lm.config import EncoderConfig, SentenceTransformersEncoderConfig, shared_encoder
from llm4rec.lm.hf import HFEncoder
from llm4rec.models.base import ModelConfig, ModelTags

Pooling = Literal["mean", "recency"]


class TextConfig(ModelConfig):
    """Which encoder embeds the catalog and which catalog fields are rendered."""

    encoder: EncoderConfig = Field(default_factory=SentenceTransformersEncoderConfig,
                                   description="encoder backend config (see llm4rec.lm.config); "
                                               "default all-MiniLM-L6-v2")
    text_fields: list[str] | None = Field(None, description="catalog fields to render (default: all)")
    encode_batch_size: int | None = Field(None, ge=1, description="texts per encoder batch "
                                                                  "(default: the backend's)")


_MEMO: dict[tuple[str, str], np.ndarray] = {}
_STATS: dict[tuple[str, str], dict[str, float]] = {}


def get_encoder(cfg: Any) -> Encoder:
    """The process's one live encoder for this config (loading MiniLM costs seconds), shared with
    the LLM rankers' (:func:`~llm4rec.lm.config.shared_encoder`)."""
    return shared_encoder(cfg)


def hf_encoder(enc: Encoder, who: str) -> HFEncoder:
    """``enc`` as the Hugging Face encoder whose ``model`` / ``tokenizer`` a tuning model trains or wraps."""
    if not isinstance(enc, HFEncoder):
        raise ConfigError(f"{who} needs a Hugging Face encoder (backend 'hf'); got {type(enc).__name__}")
    return enc


def catalog_texts(catalog: Catalog | None, fields: list[str] | None = None) -> list[str]:
    """Every item of the catalog rendered as text (by :meth:`Catalog.text`)."""
    if catalog is None:
        raise ConfigError("text models need an item catalog: the interactions carry none "
                          "(build the dataset with an item table)")
    missing = [f for f in fields or [] if f not in catalog.table.columns]
    if missing:
        raise ConfigError(f"text_fields {missing} are not catalog columns; it has {list(catalog.table.columns)}")
    return catalog.text(fields=fields)


def encode_texts(texts: list[str], cfg: Any, batch_size: int | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """L2-normalised float32 embeddings of ``texts``, memoised per process by content hash.

    Returns the array (read-only, shared) and usage stats of the call that
    computed it: ``encode_texts``, ``encode_cache_hits`` (lm-cache rows
    replayed from disk), ``encode_seconds`` (wall time) and ``encode_memo_hit``.
    """
    enc_key = cfg.model_dump_json() if hasattr(cfg, "model_dump_json") else repr(cfg)
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    key = (enc_key, digest)
    if key in _MEMO:
        return _MEMO[key], {**_STATS[key], "encode_memo_hit": 1.0}
    encoder = get_encoder(cfg)
    hits0, t0 = encoder.usage.cache_hits, time.perf_counter()
    emb = encoder.encode(texts, batch_size=batch_size, normalize=True)
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    emb.setflags(write=False)
    stats = {"encode_texts": float(len(texts)), "encode_cache_hits": float(encoder.usage.cache_hits - hits0),
             "encode_seconds": time.perf_counter() - t0, "encode_memo_hit": 0.0}
    _MEMO[key], _STATS[key] = emb, stats
    return emb, stats


def encode_catalog(catalog: Catalog | None, cfg: TextConfig) -> tuple[np.ndarray, dict[str, float]]:
    """``(n_items, dim)`` embeddings of the whole catalog for a model's :class:`TextConfig`."""
    return encode_texts(catalog_texts(catalog, cfg.text_fields), cfg.encoder, cfg.encode_batch_size)


def history_matrix(history: Interactions, max_history: int | None = None, pooling: Pooling = "mean",
                   half_life: float = 10.0) -> sp.csr_matrix:
    """Row-normalised ``(n_users, n_items)`` weights over each user's last ``max_history`` items.

    ``mean``: equal weights; ``recency``: weight ``0.5 ** (age / half_life)``
    where ``age`` is 0 for the most recent item. Users without history get an
    empty row. ``W @ item_embeddings`` is the pooled user embedding.
    """
    off = history.user_offsets()
    counts = np.diff(off)
    age = np.repeat(off[1:], counts) - 1 - np.arange(len(history))  # 0 = most recent
    keep = age < max_history if max_history else np.ones(len(history), bool)
    w = np.power(0.5, age / half_life) if pooling == "recency" else np.ones(len(history))
    w = np.where(keep, w, 0.0)
    m = sp.csr_matrix((w, (history.user, history.item)), shape=(history.n_users, history.n_items))
    m.eliminate_zeros()
    total = np.asarray(m.sum(axis=1)).ravel()
    return (sp.diags(1.0 / np.maximum(total, 1e-12)) @ m).tocsr().astype(np.float32)


class TextFeatures:
    """Mixin for Recommenders whose config is a :class:`TextConfig`: item text matrix ``item_text_``.

    Call :meth:`_encode_items` in ``_fit``; the matrix is saved with the model
    and restored on load, so scoring a loaded model never needs the encoder.
    """

    config: Any
    uses_text: bool = True

    def _encode_items(self, train: Interactions) -> np.ndarray:
        if self.uses_text:
            emb, self.encode_stats_ = encode_catalog(train.catalog, self.config)
        else:
            emb, self.encode_stats_ = np.zeros((train.n_items, 0), np.float32), {}
        if len(emb) != train.n_items:
            raise ConfigError(f"catalog has {len(emb)} items but the interactions have {train.n_items}")
        self.item_text_ = np.array(emb, dtype=np.float32)  # a private, writable copy
        return self.item_text_

    def costs(self) -> dict[str, float]:
        """Encoder cost of the last fit (the runner records it as ``cost`` rows)."""
        return dict(getattr(self, "encode_stats_", {}))

    def tags(self) -> ModelTags:
        return replace(super().tags(), needs_text=self.uses_text)  # type: ignore[misc]

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**super()._get_state(), "item_text": self.item_text_}  # type: ignore[misc]

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.item_text_ = np.array(state["item_text"], dtype=np.float32)
        super()._set_state(state)  # type: ignore[misc]


def history_text(item_texts: list[str], items: np.ndarray, n_items: int) -> str:
    """A user as text: their last ``n_items`` items' texts, most recent first, joined by `` | ``."""
    return " | ".join(item_texts[i] for i in items[::-1][:n_items])


def next_item_pairs(train: Interactions, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` seeded training rows that have history before them: ``(row, first row of its user)``.

    ``train.item[first:row]`` is the history prefix and ``train.item[row]`` the next item.
    """
    off = train.user_offsets()
    first = np.repeat(off[:-1], np.diff(off))
    rows = np.flatnonzero(np.arange(len(train)) > first)
    if not len(rows):
        raise ConfigError("training needs users with at least two interactions")
    picked = np.random.default_rng(seed).choice(rows, min(n, len(rows)), replace=False)
    return picked, first[picked]
