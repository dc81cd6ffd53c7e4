"""sentence-transformers encoder (default: all-MiniLM-L6-v2 from the artifact cache)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from llm4rec.lm.base import Encoder
from llm4rec.lm.cache import folder_identity
from llm4rec.lm.registry import require, resolve_sentence_model


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model folder (or ``"minilm"``). Texts longer than the model's
    ``max_seq_length`` are cut at the end by sentence-transformers."""

    backend = "sentence-transformers"

    def __init__(self, model: str | Path = "minilm", device: str = "cpu", batch_size: int = 64,
                 max_seq_length: int | None = None, **lm: Any) -> None:
        require("sentence_transformers")
        from sentence_transformers import SentenceTransformer

        self.folder = resolve_sentence_model(model)
        super().__init__(model_name=str(model), **lm)
        self.default_batch_size = batch_size
        self.model = SentenceTransformer(str(self.folder), device=device)
        if max_seq_length:
            self.model.max_seq_length = max_seq_length

    def _identity(self) -> str:
        return folder_identity(self.folder, self.cache)

    def _key_params(self) -> dict[str, Any]:
        return {"max_seq_length": self.model.max_seq_length}

    @property
    def dim(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get() or 0)  # the method was renamed in sentence-transformers 5

    def _encode(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, int]:
        arr = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=False,
                                show_progress_bar=False)
        ntok = sum(len(x) for x in self.model.tokenizer(texts, truncation=True,
                                                        max_length=self.model.max_seq_length)["input_ids"])
        return np.asarray(arr, dtype=np.float32), ntok
