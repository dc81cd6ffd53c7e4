"""WordLlama static embeddings (numpy only, weights shipped inside the ``wordllama`` package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from llm4rec.lm.base import Encoder
from llm4rec.lm.cache import identity_of_files
from llm4rec.lm.registry import require


class WordLlamaEncoder(Encoder):
    """WordLlama ``l2_supercat`` embeddings, truncated to ``dim`` (64, 128, 256, 512 or 1024)."""

    backend = "wordllama"

    def __init__(self, model: str = "wordllama", dim: int = 256, batch_size: int = 512, **lm: Any) -> None:
        require("wordllama")
        import wordllama
        from wordllama import WordLlama

        super().__init__(model_name=model, **lm)
        self._dim, self.default_batch_size = dim, batch_size
        self._root = Path(wordllama.__file__).parent
        # its default load looks in the wrong folder and then tries the hub: point it at the package
        self.model = WordLlama.load(cache_dir=self._root, disable_download=True, dim=dim)

    def _identity(self) -> str:
        weights = sorted((self._root / "weights").glob("*.safetensors"))
        return identity_of_files(weights, self.cache)

    def _key_params(self) -> dict[str, Any]:
        return {"dim": self._dim}

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, int]:
        arr = self.model.embed(texts, norm=False, return_np=True, batch_size=batch_size)
        return np.asarray(arr, dtype=np.float32), 0
