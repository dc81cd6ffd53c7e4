"""Grounding generated text to catalog items: exact, normalised, fuzzy, embedding nearest neighbour.

A generated title is matched against a list of item texts (the candidates, or the whole catalog)
with the cheapest method that succeeds, in the configured order:

- ``exact``: the text equals an item text (or its title part before ``;``);
- ``normalized``: equal after lower-casing, dropping punctuation, a trailing ``(year)`` and a
  leading or trailing article (``"The Godfather"`` = ``"Godfather, The (1972)"``);
- ``fuzzy``: rapidfuzz ``token_sort_ratio`` >= ``fuzzy_threshold`` (optional extra ``fuzzy``;
  skipped when rapidfuzz is missing);
- ``embedding``: cosine similarity of encoder vectors >= ``embedding_threshold`` (needs an encoder).

Anything else is a hallucination.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from llm4rec.lm.base import Encoder

Method = Literal["exact", "normalized", "fuzzy", "embedding"]
METHODS: tuple[str, ...] = ("exact", "normalized", "fuzzy", "embedding")
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_PUNCT = re.compile(r"[^\w\s]")
_ARTICLES = ("the", "a", "an")


def normalize_title(text: str) -> str:
    """Lower-case, title part only, no trailing year, punctuation or leading/trailing article."""
    t = text.split(";")[0].strip()
    t = _YEAR.sub("", t)
    t = " ".join(_PUNCT.sub(" ", t.lower()).split())
    words = t.split()
    if len(words) > 1 and words[-1] in _ARTICLES:  # "godfather the" (from "Godfather, The")
        words = words[:-1]
    if len(words) > 1 and words[0] in _ARTICLES:
        words = words[1:]
    return " ".join(words)


@dataclass
class Grounder:
    """Maps generated strings to indices of ``texts``."""

    texts: Sequence[str]
    methods: Sequence[str] = ("exact", "normalized", "fuzzy")
    fuzzy_threshold: float = 85.0
    encoder: Encoder | None = None
    embedding_threshold: float = 0.8
    _exact: dict[str, int] = field(init=False, repr=False)
    _norm: dict[str, int] = field(init=False, repr=False)
    _vecs: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.methods) - set(METHODS)
        if unknown:
            raise ValueError(f"unknown grounding methods {sorted(unknown)}; use {METHODS}")
        self._exact, self._norm = {}, {}
        for i, t in enumerate(self.texts):
            for key in (t.strip(), t.split(";")[0].strip()):
                self._exact.setdefault(key, i)
            self._norm.setdefault(normalize_title(t), i)

    def ground(self, text: str) -> tuple[int | None, str | None]:
        """``(index, method)`` of the item ``text`` names, or ``(None, None)`` (a hallucination)."""
        text = text.strip().strip("\"'*`").strip()
        if not text:
            return None, None
        for m in self.methods:
            hit = getattr(self, f"_{m}")(text) if m != "exact" else self._exact.get(text)
            if hit is not None:
                return int(hit), m
        return None, None

    def _normalized(self, text: str) -> int | None:
        return self._norm.get(normalize_title(text))

    def _fuzzy(self, text: str) -> int | None:
        if importlib.util.find_spec("rapidfuzz") is None:
            return None
        from rapidfuzz import fuzz, process

        keys = list(self._norm)
        best = process.extractOne(normalize_title(text), keys, scorer=fuzz.token_sort_ratio,
                                  score_cutoff=self.fuzzy_threshold)
        return None if best is None else self._norm[best[0]]

    def _embedding(self, text: str) -> int | None:
        if self.encoder is None:
            return None
        if self._vecs is None:
            self._vecs = self.encoder.encode([t.split(";")[0] for t in self.texts])
        q = self.encoder.encode([text])[0]
        sims = self._vecs @ q
        j = int(np.argmax(sims))
        return j if sims[j] >= self.embedding_threshold else None
