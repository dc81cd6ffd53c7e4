"""Side features of the CTR models: item and user texts -> dense vectors, from one config switch.

``side`` chooses the text:

- ``none``: no side features (ID + history model);
- ``catalog``: the "catalog text only" control. Items: their catalog fields (``Title (Year); genres:
  A, B``); users: the catalog texts of the same training-period prefix the generator would see (KAR's
  first ``min((n + 1) // 2, 30)`` training interactions, with ratings);
- ``generated``: the texts ``llm4rec generate`` wrote (``item_knowledge`` / ``user_profiles``: an
  ``outputs.parquet``, its version folder or its task folder), passed through QC
  (:mod:`llm4rec.tokens.qc`: flagged texts fall back to the catalog text, are dropped to the zero
  vector, or are kept, by ``qc.policy``); entities the file lacks get their catalog text
  (``fallback``) or the zero vector.

Both texts go through the same encoder (any :mod:`llm4rec.lm` encoder, default MiniLM; the LM cache
stores every vector), so ``catalog`` and ``generated`` differ only in what the text says.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.lm.config import EncoderConfig, SentenceTransformersEncoderConfig
from llm4rec.models.base import ModelConfig
from llm4rec.models.embed.text import encode_texts
from llm4rec.tokens.inputs import MAX_PROFILE_ITEMS, item_catalog_texts, user_inputs
from llm4rec.tokens.qc import QCConfig, apply_policy, check_frame
from llm4rec.tokens.store import read_outputs

Side = Literal["none", "catalog", "generated"]


class SideConfig(ModelConfig):
    """Which texts become side features, and how they are encoded and checked."""

    side: Side = Field("none", description="none | catalog (control: catalog fields only) | generated "
                                           "(LLM texts from `llm4rec generate`)")
    side_inputs: Literal["item", "user", "both"] = Field("both", description="ablation: item knowledge only, "
                                                                             "user profiles only, or both")
    item_knowledge: str | None = Field(None, description="side = generated: item outputs (file or folder)")
    user_profiles: str | None = Field(None, description="side = generated: user outputs (file or folder)")
    text_fields: list[str] = Field(default_factory=lambda: ["title", "year", "genres"],
                                   description="catalog fields of the catalog text (control and fallback)")
    profile_items: int = Field(MAX_PROFILE_ITEMS, ge=1, description="cap of KAR's training-prefix rule")
    encoder: EncoderConfig = Field(default_factory=SentenceTransformersEncoderConfig)
    qc: QCConfig = Field(default_factory=QCConfig, description="QC of generated texts; qc.policy decides "
                                                               "what a flagged text becomes")

    @model_validator(mode="after")
    def _generated_needs_files(self) -> SideConfig:
        if self.side == "generated":
            if self.uses_item_side and not self.item_knowledge:
                raise ValueError("side = 'generated' needs item_knowledge (a `llm4rec generate` output) "
                                 "or side_inputs = 'user'")
            if self.uses_user_side and not self.user_profiles:
                raise ValueError("side = 'generated' needs user_profiles (a `llm4rec generate` output) "
                                 "or side_inputs = 'item'")
        return self

    @property
    def uses_item_side(self) -> bool:
        return self.side != "none" and self.side_inputs in ("item", "both")

    @property
    def uses_user_side(self) -> bool:
        return self.side != "none" and self.side_inputs in ("user", "both")


def _generated(path: str, n: int, catalog_texts: list[str | None], cfg: SideConfig, what: str,
               keys: np.ndarray | None) -> tuple[list[str | None], dict[str, float]]:
    """Per dense id: the generated text after QC (catalog fallback for ids the file lacks)."""
    df = read_outputs(path)
    checked = check_frame(df.drop(columns=["qc_flags", "qc_ok"], errors="ignore"), None, cfg.qc)
    texts = apply_policy(checked, cfg.qc.policy)
    index = checked["index"].to_numpy(dtype=np.int64)
    if len(index) and (index.min() < 0 or index.max() >= n):
        raise ConfigError(f"{path}: {what} index outside [0, {n}): generated for another dataset")
    if keys is not None and not all(str(keys[i]) == str(k) for i, k in zip(index, checked["key"], strict=True)):
        raise ConfigError(f"{path}: {what} ids do not match this dataset's catalog: generated for another dataset")
    out: list[str | None] = list(catalog_texts) if cfg.qc.policy == "fallback" else [None] * n
    for i, t in zip(index.tolist(), texts, strict=True):
        out[i] = t
    ok = checked["qc_ok"].to_numpy(dtype=bool)
    stats = {f"side_{what}_generated": float(len(index)), f"side_{what}_qc_pass": float(ok.mean()) if len(ok) else 0.0}
    return out, stats


def _encode(texts: list[str | None], cfg: SideConfig, n: int) -> tuple[np.ndarray, dict[str, float]]:
    """Vectors of ``texts`` (``None``: the zero row)."""
    rows = [i for i, t in enumerate(texts) if t]
    emb, stats = encode_texts([str(texts[i]) for i in rows], cfg.encoder)
    out = np.zeros((n, emb.shape[1] if len(rows) else 1), np.float32)
    if rows:
        out[rows] = emb
    return out, stats


def side_matrices(train: Interactions, cfg: SideConfig) -> tuple[np.ndarray | None, np.ndarray | None,
                                                                  dict[str, float]]:
    """``(item_side (n_items, D) | None, user_side (n_users, D) | None, costs)`` for ``cfg.side``."""
    if cfg.side == "none":
        return None, None, {}
    catalog = train.catalog
    if catalog is None:
        raise ConfigError("side features need an item catalog: the interactions carry none")
    stats: dict[str, float] = {}
    item_mat = user_mat = None
    if cfg.uses_item_side:
        items: list[str | None] = list(item_catalog_texts(catalog, cfg.text_fields))
        if cfg.side == "generated":
            assert cfg.item_knowledge is not None
            items, s = _generated(cfg.item_knowledge, train.n_items, items, cfg, "item", np.asarray(catalog.ids))
            stats.update(s)
        item_mat, s = _encode(items, cfg, train.n_items)
        stats.update({f"item_{k}": v for k, v in s.items()})
    if cfg.uses_user_side:
        inputs = user_inputs(train, None, cfg.text_fields, cfg.profile_items)
        users: list[str | None] = [None] * train.n_users
        for u, t in zip(inputs.index.tolist(), inputs.catalog_text, strict=True):
            users[u] = t
        if cfg.side == "generated":
            assert cfg.user_profiles is not None
            users, s = _generated(cfg.user_profiles, train.n_users, users, cfg, "user", None)
            stats.update(s)
        user_mat, s = _encode(users, cfg, train.n_users)
        stats.update({f"user_{k}": v for k, v in s.items()})
    return item_mat, user_mat, stats
