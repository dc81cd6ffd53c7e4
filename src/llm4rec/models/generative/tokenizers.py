"""Item tokenizers: every item becomes a fixed-length sequence of codes, one codebook per level.

One interface (:class:`ItemTokenizer`): ``fit(train, n_items, texts=..., vectors=...)`` sees the
training interactions only; ``codes_`` is an ``(n_items, levels)`` int array, unique per item
(a de-duplication level is appended when the scheme's codes collide); ``state()`` /
``from_state()`` persist it as arrays (saved with the model as data, never pickled).

| name | ids from | reference |
|---|---|---|
| ``random`` | a seeded permutation, written in base ``base`` | control |
| ``sequential`` | order of first appearance in users' training sequences | P5 (leaks: next item is often max(seen)+1) |
| ``collaborative`` | hierarchical k-means over a spectral embedding of item co-occurrence | OpenP5 |
| ``svd`` | each truncated-SVD item dimension quantised into ``bins`` quantile bins | GPTRec |
| ``semantic`` | residual k-means over item text embeddings | TIGER (fast RQ option) |
| ``rqvae`` | an RQ-VAE over item text embeddings (:mod:`.rqvae`) | TIGER |
| ``title`` | the title's words (vocabulary fitted on the catalog) | BIGRec-style text ids |
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from llm4rec.config import Config
from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.registry import ITEM_TOKENIZERS


class TokenizerConfig(Config):
    seed: int = 0


class ItemTokenizer(ABC):
    """Items -> fixed-length code sequences; fitted on training data only."""

    Config: ClassVar[type[TokenizerConfig]] = TokenizerConfig
    name: ClassVar[str] = "tokenizer"
    needs: ClassVar[str] = ""  # "texts" / "vectors" when fit needs them

    def __init__(self, config: TokenizerConfig | None = None, **params: Any) -> None:
        self.config = config if config is not None else self.Config(**params)
        self.codes_: np.ndarray | None = None

    def fit(self, train: Interactions, n_items: int, *, texts: Sequence[str] | None = None,
            vectors: np.ndarray | None = None) -> ItemTokenizer:
        if (self.needs == "texts" and texts is None) or (self.needs == "vectors" and vectors is None):
            raise ConfigError(f"item tokenizer {self.name!r} needs item {self.needs}")
        if self.needs == "vectors" and vectors is not None and len(vectors) != n_items:
            raise ConfigError(f"{self.name} ids: {len(vectors)} item vectors for {n_items} items")
        raw = np.asarray(self._codes(train, n_items, texts, vectors), dtype=np.int64)
        self.codes_ = dedup(raw)
        return self

    @abstractmethod
    def _codes(self, train: Interactions, n_items: int, texts: Sequence[str] | None,
               vectors: np.ndarray | None) -> np.ndarray: ...

    @property
    def codebook_sizes(self) -> np.ndarray:
        """Codes per level (max code + 1)."""
        return self.fitted_codes().max(axis=0) + 1

    def usage(self) -> list[dict[str, float]]:
        """Codebook usage per level: codes used, codebook size, share used, largest code's item share
        (codebook collapse shows as few codes used or one code holding most items)."""
        codes = self.fitted_codes()
        out = []
        for level, size in enumerate(self.codebook_sizes):
            counts = np.bincount(codes[:, level], minlength=size)
            out.append({"level": float(level), "used": float((counts > 0).sum()), "size": float(size),
                        "used_share": float((counts > 0).mean()), "max_share": float(counts.max() / len(codes))})
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"codes": self.fitted_codes()}

    @classmethod
    def from_state(cls, config: TokenizerConfig, state: dict[str, np.ndarray]) -> ItemTokenizer:
        tok = cls(config)
        tok.codes_ = np.asarray(state["codes"], dtype=np.int64)
        return tok

    def fitted_codes(self) -> np.ndarray:
        """``codes_`` of the fitted tokenizer (a ConfigError before ``fit``)."""
        if self.codes_ is None:
            raise ConfigError(f"item tokenizer {self.name!r} is not fitted")
        return self.codes_


def make_tokenizer(name: str, params: dict[str, Any] | None = None) -> ItemTokenizer:
    cls: type[ItemTokenizer] = ITEM_TOKENIZERS.get(name)
    return cls(cls.Config(**(params or {})))


def fit_tokenizer(name: str, params: dict[str, Any], train: Interactions,
                  encoder: dict[str, Any] | None = None) -> ItemTokenizer:
    """Make the tokenizer ``name`` and fit it on ``train``, giving it the catalog's titles (``needs = "texts"``)
    or the ``encoder``'s item text embeddings (``needs = "vectors"``) when its scheme reads them."""
    tok = make_tokenizer(name, params)
    texts: list[str] | None = None
    vectors: np.ndarray | None = None
    if tok.needs:
        if train.catalog is None:
            raise ValueError(f"tokenizer {name!r} needs the catalog's item text")
        texts = [train.catalog.title(i) for i in range(train.n_items)]
        if tok.needs == "vectors":
            from llm4rec.lm.config import shared_encoder

            vectors = np.asarray(shared_encoder(encoder).encode(train.catalog.text()))
    return tok.fit(train, train.n_items, texts=texts, vectors=vectors)


def dedup(codes: np.ndarray) -> np.ndarray:
    """Append a level numbering the items that share a code sequence (none when all are unique)."""
    _, inverse = np.unique(codes, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    if len(np.unique(inverse)) == len(codes):
        return codes
    extra = np.zeros(len(codes), dtype=np.int64)
    seen: dict[int, int] = {}
    for i, g in enumerate(inverse):
        extra[i] = seen.get(int(g), 0)
        seen[int(g)] = extra[i] + 1
    return np.column_stack([codes, extra])


def digits(values: np.ndarray, base: int, n: int) -> np.ndarray:
    """``values`` written in ``base`` with ``levels`` digits, most significant first."""
    levels = max(1, int(np.ceil(np.log(max(n, 2)) / np.log(base))))
    return np.stack([(values // base ** (levels - 1 - j)) % base for j in range(levels)], axis=1)


class DigitConfig(TokenizerConfig):
    base: int = Field(32, ge=2, description="codes per level; levels = ceil(log_base(n_items))")


@ITEM_TOKENIZERS.register("random")
class RandomIds(ItemTokenizer):
    """A seeded random permutation of the items, as base-``base`` digits (the leak-free control)."""

    Config = DigitConfig
    config: DigitConfig
    name = "random"

    def _codes(self, train: Interactions, n_items: int, texts: Sequence[str] | None,
               vectors: np.ndarray | None) -> np.ndarray:
        perm = np.random.default_rng(self.config.seed).permutation(n_items)
        return digits(perm, self.config.base, n_items)


@ITEM_TOKENIZERS.register("sequential")
class SequentialIds(ItemTokenizer):
    """P5's original: items numbered by first appearance in users' (time-ordered) training sequences,
    users in id order. Consecutive items of a user get consecutive ids, so the next item is often
    max(seen)+1 -- kept to demonstrate that leak, never as a result to report."""

    Config = DigitConfig
    config: DigitConfig
    name = "sequential"

    def _codes(self, train: Interactions, n_items: int, texts: Sequence[str] | None,
               vectors: np.ndarray | None) -> np.ndarray:
        order = [int(i) for seq in train.sequences() for i in seq]
        first = list(dict.fromkeys(order))
        rest = [i for i in range(n_items) if i not in set(first)]
        ids = np.empty(n_items, dtype=np.int64)
        ids[np.asarray(first + rest, dtype=np.int64)] = np.arange(n_items)
        return digits(ids, self.config.base, n_items)


class ClusterConfig(TokenizerConfig):
    clusters: int = Field(16, ge=2, description="k-means clusters per level")
    levels: int = Field(3, ge=1, description="levels before de-duplication")
    dims: int = Field(32, ge=2, description="embedding dimensions (spectral / SVD)")
    iters: int = Field(20, ge=1)


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain Lloyd's k-means (k-means++ seeding); returns (labels, centres)."""
    k = min(k, len(x))
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d = np.min(((x[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        p = d / d.sum() if d.sum() > 0 else np.full(len(x), 1 / len(x))
        centres.append(x[rng.choice(len(x), p=p)])
    c = np.asarray(centres, dtype=np.float64)
    labels = np.zeros(len(x), dtype=np.int64)
    for _ in range(iters):
        dist = (x ** 2).sum(1)[:, None] - 2 * x @ c.T + (c ** 2).sum(1)[None]
        labels = dist.argmin(1)
        for j in range(k):
            if (labels == j).any():
                c[j] = x[labels == j].mean(0)
    return labels, c


def residual_kmeans(x: np.ndarray, k: int, levels: int, seed: int, iters: int) -> np.ndarray:
    """Residual quantisation: level l clusters what levels < l left unexplained (TIGER's RQ, k-means form)."""
    rng = np.random.default_rng(seed)
    resid = np.asarray(x, dtype=np.float64).copy()
    out = []
    for _ in range(levels):
        labels, centres = kmeans(resid, k, rng, iters)
        resid = resid - centres[labels]
        out.append(labels)
    return np.stack(out, axis=1)


def hierarchical_kmeans(x: np.ndarray, k: int, levels: int, seed: int, iters: int) -> np.ndarray:
    """Recursive clustering: each level splits every cluster of the level above into ``k``."""
    rng = np.random.default_rng(seed)
    codes = np.zeros((len(x), levels), dtype=np.int64)

    def split(idx: np.ndarray, level: int) -> None:
        if level == levels or len(idx) <= 1:
            return
        labels, _ = kmeans(x[idx], k, rng, iters)
        codes[idx, level] = labels
        for j in np.unique(labels):
            split(idx[labels == j], level + 1)

    split(np.arange(len(x)), 0)
    return codes


@ITEM_TOKENIZERS.register("collaborative")
class CollaborativeIds(ItemTokenizer):
    """OpenP5's collaborative indexing: spectral embedding of the item co-occurrence graph
    (training users only), clustered recursively."""

    Config = ClusterConfig
    config: ClusterConfig
    name = "collaborative"

    def _codes(self, train: Interactions, n_items: int, texts: Sequence[str] | None,
               vectors: np.ndarray | None) -> np.ndarray:
        x = train.to_csr().astype(np.float64)
        x.data[:] = 1.0
        co = (x.T @ x).tocsr()
        co.setdiag(0)
        deg = np.asarray(co.sum(1)).ravel() + 1e-9
        d = sp.diags(1 / np.sqrt(deg))
        norm = d @ co @ d
        dims = min(self.config.dims, n_items - 2)
        rng = np.random.default_rng(self.config.seed)
        _, vecs = sp.linalg.eigsh(norm, k=dims, which="LA", v0=rng.standard_normal(n_items))
        return hierarchical_kmeans(vecs, self.config.clusters, self.config.levels, self.config.seed,
                                   self.config.iters)


class SVDConfig(TokenizerConfig):
    dims: int = Field(8, ge=1, description="SVD dimensions (one level each)")
    bins: int = Field(16, ge=2, description="quantile bins per dimension")


@ITEM_TOKENIZERS.register("svd")
class SVDIds(ItemTokenizer):
    """GPTRec's SVD tokenisation: each truncated-SVD item dimension, quantised into quantile bins."""

    Config = SVDConfig
    config: SVDConfig
    name = "svd"

    def _codes(self, train: Interactions, n_items: int, texts: Sequence[str] | None,
               vectors: np.ndarray | None) -> np.ndarray:
        x = train.to_csr().astype(np.float64)
        x.data[:] = 1.0
        rng = np.random.default_rng(self.config.seed)
        k = min(self.config.dims, min(x.shape) - 1)
        _, _, vt = sp.linalg.svds(x, k=k, v0=rng.standard_normal(min(x.shape)))
        emb = vt[::-1].T
        edges = [np.quantile(emb[:, j], np.linspace(0, 1, self.config.bins + 1)[1:-1]) for j in range(k)]
        return np.stack([np.searchsorted(e, emb[:, j]) for j, e in enumerate(edges)], axis=1)


@ITEM_TOKENIZERS.register("semantic")
class SemanticIds(ItemTokenizer):
    """TIGER-style semantic ids: residual k-means over item text embeddings (no interactions used)."""

    Config = ClusterConfig
    config: ClusterConfig
    name = "semantic"
    needs = "vectors"

    def _codes(self, train: Interactions, n_items: int, texts: Sequence[str] | None,
               vectors: np.ndarray | None) -> np.ndarray:
        assert vectors is not None
        return residual_kmeans(vectors, self.config.clusters, self.config.levels, self.config.seed,
                               self.config.iters)


class TitleConfig(TokenizerConfig):
    words: int = Field(6, ge=1, description="title words kept (padded with a pad word)")


@ITEM_TOKENIZERS.register("title")
class TitleIds(ItemTokenizer):
    """The item's title, word by word (vocabulary from the catalog; code 0 pads short titles)."""

    Config = TitleConfig
    config: TitleConfig
    name = "title"
    needs = "texts"

    def _codes(self, train: Interactions, n_items: int, texts: Sequence[str] | None,
               vectors: np.ndarray | None) -> np.ndarray:
        assert texts is not None
        words = [re.findall(r"\w+", t.lower())[: self.config.words] for t in texts]
        vocab = {w: i + 1 for i, w in enumerate(sorted({w for ws in words for w in ws}))}
        codes = np.zeros((n_items, self.config.words), dtype=np.int64)
        for i, ws in enumerate(words):
            codes[i, : len(ws)] = [vocab[w] for w in ws]
        return codes
