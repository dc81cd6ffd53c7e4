"""Quality control of generated texts: rules, a report with rates and examples, and the policy.

A 135M generator's "knowledge" is unreliable (SmolLM2 called Toy Story "a gritty, action-packed
adventure"), so every generated text is checked before it becomes a feature. The rules are simple
and deterministic on purpose (a reader can predict each flag):

- ``empty``: fewer than ``min_words`` words;
- ``truncated``: generation stopped at ``max_tokens`` (finish reason ``length``, or that many tokens);
- ``repetitive``: more than ``max_repeat_share`` of its word ``repeat_ngram``-grams repeat an earlier one;
- ``copied_prompt``: more than ``max_copy_share`` of its word ``copy_ngram``-grams occur in the prompt;
- ``non_english``: under ``min_ascii_letters`` of its letters are ASCII, or under ``min_alpha`` of its
  non-space characters are letters, or (from 12 words on) under ``min_stopwords`` of its words are
  English function words (set ``min_stopwords = 0`` for keyword lists);
- ``over_long``: more than ``max_words`` words;
- ``year_contradiction``: the item has a catalog year, the text names years (1880-2039; decades such
  as "the 1990s" are not years), and none of them is within ``year_tolerance`` of the catalog year;
- ``genre_contradiction``: the item has catalog genres and the text names genres (lexicon
  :data:`GENRE_WORDS`) all absent from them, or names a *distinctive* genre (:data:`DISTINCTIVE`:
  animation, documentary, horror, western, musical, sci-fi, film-noir) the catalog does not list.

Genre words are MovieLens's 18 genres and their common forms ("animated", "comedic", "science
fiction", "love story"); a text naming "action" and "adventure" for an item the catalog lists as
Animation|Children's|Comedy is flagged, a text naming "comedy" and "adventure" for it is not.

Policy (:func:`apply_policy`): texts flagged by a rule in ``drop_rules`` (default: every rule but
``truncated`` and ``over_long``, which still carry usable text) are

- ``fallback`` (default): replaced by the entity's catalog-only text, so every item keeps a feature;
- ``drop``: removed (the feature is the zero vector: "no knowledge");
- ``keep``: used as generated (the report still counts them).

Regenerating a flagged text means a new generation version: change the temperature / seed or the
prompt in the job config (a new fingerprint) and run again; the LM cache keeps the old answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from llm4rec.config import Config

RULES = ("empty", "truncated", "repetitive", "copied_prompt", "non_english", "over_long", "year_contradiction",
         "genre_contradiction")
Policy = Literal["fallback", "drop", "keep"]

_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*", re.UNICODE)
_YEAR = re.compile(r"(?<!\d)(18[89]\d|19\d\d|20[0-3]\d)(?!\d|['\u2019]?s\b)")  # "1990s" is a decade
_STOPWORDS = frozenset((
    "the", "a", "an", "and", "or", "of", "in", "on", "at", "to", "for", "with", "by", "from", "is", "are",
    "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "as", "he", "she", "they",
    "his", "her", "their", "who", "which", "what", "about", "into", "than", "then", "there", "also", "but",
    "not", "has", "have", "had", "while", "when", "where", "after", "before",
))

#: MovieLens genre -> words that name it (lower case; multi-word phrases allowed)
GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "Action": ("action", "action-packed"),
    "Adventure": ("adventure", "adventures", "adventurous"),
    "Animation": ("animation", "animated", "cartoon"),
    "Children's": ("children's", "kids", "family-friendly"),
    "Comedy": ("comedy", "comedic", "comedies", "funny", "hilarious"),
    "Crime": ("crime", "gangster", "heist", "mafia"),
    "Documentary": ("documentary",),
    "Drama": ("drama", "dramatic"),
    "Fantasy": ("fantasy",),
    "Film-Noir": ("film-noir", "film noir", "noir"),
    "Horror": ("horror", "slasher"),
    "Musical": ("musical",),
    "Mystery": ("mystery", "whodunit"),
    "Romance": ("romance", "romantic", "love story"),
    "Sci-Fi": ("sci-fi", "science fiction", "science-fiction"),
    "Thriller": ("thriller", "suspense"),
    "War": ("war film", "war movie", "world war", "wartime"),
    "Western": ("western",),
}
#: genres whose mention is a strong claim about an item (a text calling a drama "animated" is wrong)
DISTINCTIVE = frozenset({"Animation", "Documentary", "Horror", "Western", "Musical", "Sci-Fi", "Film-Noir"})
_GENRE_RE = {g: re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in ws) + r")(?![\w-])", re.IGNORECASE)
             for g, ws in GENRE_WORDS.items()}


class QCConfig(Config):
    """Thresholds of the QC rules and the policy for flagged texts (see the module docstring)."""

    min_words: int = Field(3, ge=0)
    max_words: int = Field(250, ge=1)
    repeat_ngram: int = Field(3, ge=1)
    max_repeat_share: float = Field(0.3, ge=0, le=1)
    copy_ngram: int = Field(4, ge=1)
    max_copy_share: float = Field(0.5, ge=0, le=1)
    min_ascii_letters: float = Field(0.9, ge=0, le=1)
    min_alpha: float = Field(0.6, ge=0, le=1)
    min_stopwords: float = Field(0.1, ge=0, le=1, description="0 for keyword lists (no function words)")
    year_tolerance: int = Field(1, ge=0)
    policy: Policy = "fallback"
    drop_rules: list[str] = Field(default_factory=lambda: [r for r in RULES if r not in ("truncated", "over_long")])


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def repeat_share(tokens: Sequence[str], n: int) -> float:
    """Share of word n-grams that repeat an earlier n-gram of the same text."""
    grams = _ngrams(tokens, n)
    return 0.0 if not grams else 1.0 - len(set(grams)) / len(grams)


def copy_share(tokens: Sequence[str], prompt_tokens: Sequence[str], n: int) -> float:
    """Share of the text's word n-grams that occur in the prompt."""
    grams = _ngrams(tokens, n)
    if not grams:
        return 0.0
    seen = set(_ngrams(prompt_tokens, n))
    return sum(g in seen for g in grams) / len(grams)


def genres_named(text: str) -> set[str]:
    """MovieLens genres the text names (by :data:`GENRE_WORDS`)."""
    return {g for g, rx in _GENRE_RE.items() if rx.search(text)}


def check(text: str, *, prompt: str = "", finish_reason: str | None = None, completion_tokens: int = 0,
          max_tokens: int | None = None, year: int | None = None, genres: Sequence[str] = (),
          config: QCConfig | None = None) -> list[str]:
    """The rules (of :data:`RULES`) that flag ``text``; catalog facts ``year`` / ``genres`` enable the
    contradiction rules."""
    c = config or QCConfig()
    toks = words(text)
    flags: list[str] = []
    if len(toks) < c.min_words:
        flags.append("empty")
    if finish_reason == "length" or (max_tokens is not None and completion_tokens >= max_tokens > 0):
        flags.append("truncated")
    if repeat_share(toks, c.repeat_ngram) > c.max_repeat_share:
        flags.append("repetitive")
    if prompt and copy_share(toks, words(prompt), c.copy_ngram) > c.max_copy_share:
        flags.append("copied_prompt")
    if toks and _non_english(text, toks, c):
        flags.append("non_english")
    if len(toks) > c.max_words:
        flags.append("over_long")
    if year is not None:
        named = [int(y) for y in _YEAR.findall(text)]
        if named and all(abs(y - year) > c.year_tolerance for y in named):
            flags.append("year_contradiction")
    known = set(genres)
    if known:
        named_genres = genres_named(text)
        if (named_genres and not named_genres & known) or (named_genres & DISTINCTIVE) - known:
            flags.append("genre_contradiction")
    return flags


def _non_english(text: str, toks: list[str], c: QCConfig) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    visible = [ch for ch in text if not ch.isspace()]
    if not letters or len(letters) / max(1, len(visible)) < c.min_alpha:
        return True
    if sum(ch.isascii() for ch in letters) / len(letters) < c.min_ascii_letters:
        return True
    return len(toks) >= 12 and sum(t in _STOPWORDS for t in toks) / len(toks) < c.min_stopwords


def _prompt_text(prompt: object) -> str:
    """The prompt as plain text (stored as JSON chat messages or a string)."""
    if not isinstance(prompt, str):
        return ""
    try:
        msgs = json.loads(prompt)
    except ValueError:
        return prompt
    if isinstance(msgs, list):
        return "\n".join(str(m.get("content", "")) for m in msgs if isinstance(m, dict))
    return prompt


def _opt_int(value: object) -> int | None:
    if value is None or value is pd.NA:
        return None
    try:
        f = float(str(value))
    except ValueError:
        return None
    return None if np.isnan(f) else int(f)


def check_frame(df: pd.DataFrame, max_tokens: int | None = None, config: QCConfig | None = None) -> pd.DataFrame:
    """``df`` (a generation's rows) with ``qc_flags`` (comma-joined rule names) and ``qc_ok`` (no rule of
    ``drop_rules`` fired) added."""
    c = config or QCConfig()
    flags = []
    for row in df.itertuples(index=False):
        r = row._asdict()
        genre_cell = r.get("genres")
        flags.append(check(str(r.get("text") or ""), prompt=_prompt_text(r.get("prompt")),
                           finish_reason=r.get("finish_reason"),
                           completion_tokens=_opt_int(r.get("completion_tokens")) or 0, max_tokens=max_tokens,
                           year=_opt_int(r.get("year")),
                           genres=[g for g in str(genre_cell).split("|") if g] if isinstance(genre_cell, str) else (),
                           config=c))
    out = df.copy()
    out["qc_flags"] = [",".join(f) for f in flags]
    out["qc_ok"] = [not set(f) & set(c.drop_rules) for f in flags]
    return out


@dataclass
class QCReport:
    """Rates and examples of every rule over one generation."""

    n: int
    counts: dict[str, int]
    examples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    n_ok: int = 0
    policy: str = "fallback"
    drop_rules: list[str] = field(default_factory=list)

    @property
    def rates(self) -> dict[str, float]:
        return {r: self.counts[r] / self.n if self.n else 0.0 for r in self.counts}

    def as_dict(self) -> dict[str, object]:
        return {"n": self.n, "n_ok": self.n_ok, "counts": self.counts, "rates": self.rates,
                "policy": self.policy, "drop_rules": self.drop_rules,
                "examples": {k: [list(e) for e in v] for k, v in self.examples.items()}}

    def markdown(self, title: str = "Quality control") -> str:
        lines = [f"# {title}", "",
                 f"{self.n} texts; {self.n_ok} ({self.n_ok / max(1, self.n):.1%}) pass the rules "
                 f"{', '.join(self.drop_rules) or '(none)'}; policy for the others: `{self.policy}`.", "",
                 "| rule | texts | rate | example (key: text) |", "|---|---:|---:|---|"]
        for rule in RULES:
            ex = "; ".join(f"{k}: {_excerpt(t)}" for k, t in self.examples.get(rule, [])[:2])
            lines.append(f"| {rule} | {self.counts.get(rule, 0)} | {self.rates.get(rule, 0.0):.1%} | {ex} |")
        return "\n".join(lines) + "\n"


def _excerpt(text: str, n: int = 100) -> str:
    t = " ".join(str(text).split()).replace("|", "/")
    return repr(t if len(t) <= n else t[:n] + "...")


def report(checked: pd.DataFrame, config: QCConfig | None = None, n_examples: int = 3) -> QCReport:
    """Rates and the first ``n_examples`` examples of every rule over :func:`check_frame`'s output."""
    c = config or QCConfig()
    counts = dict.fromkeys(RULES, 0)
    examples: dict[str, list[tuple[str, str]]] = {r: [] for r in RULES}
    for key, text, flags in zip(checked["key"], checked["text"], checked["qc_flags"], strict=True):
        for rule in (f for f in str(flags).split(",") if f):
            counts[rule] += 1
            if len(examples[rule]) < n_examples:
                examples[rule].append((str(key), str(text)))
    return QCReport(len(checked), counts, {k: v for k, v in examples.items() if v},
                    int(np.sum(checked["qc_ok"])), c.policy, list(c.drop_rules))


def apply_policy(checked: pd.DataFrame, policy: Policy = "fallback") -> list[str | None]:
    """The text each row contributes as a feature under ``policy`` (``None``: dropped)."""
    out: list[str | None] = []
    for text, ok, fallback in zip(checked["text"], checked["qc_ok"], checked["catalog_text"], strict=True):
        if ok or policy == "keep":
            out.append(str(text))
        elif policy == "fallback":
            out.append(str(fallback))
        else:
            out.append(None)
    return out
