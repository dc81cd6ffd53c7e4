"""Shared machinery of the LLM-as-recommender models (no training: prompting only).

Every ranker renders the user's inference-time history (time-ordered, most recent ``max_history``
items) with the prompt library, optionally preceded by in-context demonstrations, and scores
*given candidates* with a :class:`~llm4rec.lm.base.Generator`. Scoring the whole catalog costs one
LLM evaluation per item and user (1682 items x a 135M model on 2 cores: minutes per user), so
``score(users)`` raises unless ``full_catalog = "all"``; use a candidate protocol (sampled) or
``llm-rerank`` (a retriever's top-N) instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator
from tqdm.auto import tqdm

from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.lm.base import Generator
from llm4rec.models.base import ModelConfig, ModelTags, Recommender
from llm4rec.models.llm.backends import DEFAULT_GENERATOR, check_generator_spec, get_generator
from llm4rec.models.llm.explain import phrase, related
from llm4rec.prompts.library import PromptSet, clean_text, format_demos, format_history, item_texts

log = logging.getLogger(__name__)
_USAGE_FIELDS = ("calls", "items", "cache_hits", "prompt_tokens", "completion_tokens", "wall_s")


class LLMRankerConfig(ModelConfig):
    """Prompt and backend settings shared by every LLM ranker."""

    generator: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_GENERATOR),
                                      description="backend block (llm4rec.lm.config), or {backend='toy'}")
    noun: str = Field("movie", description="what an item is called in prompts")
    item_fields: list[str] = Field(default_factory=lambda: ["title", "year"],
                                   description="catalog fields rendered for each item (missing ones skipped)")
    history: Literal["titles", "summary", "combined"] = Field("titles", description="history representation")
    max_history: int = Field(20, ge=1, description="most recent items shown")
    recency: bool = Field(False, description="add the recency-focused sentence (LLMRank)")
    summary_tokens: int = Field(48, ge=8, description="length of an LLM-written history summary")
    template: str = Field("default", description="template variant of the ranker's kind")
    prompt_file: str | None = Field(None, description="TOML file overriding built-in templates")
    icl_demos: int = Field(0, ge=0, description="in-context demonstrations per prompt")
    icl_source: Literal["self", "similar"] = Field("self", description="demos from the user's own history "
                                                   "(a prefix and the item that followed) or similar users")
    icl_history: int = Field(5, ge=1, description="items shown per demonstration")
    full_catalog: Literal["error", "all"] = Field(
        "error", description="score(users) without candidates: raise (default), or score every item")
    progress: bool = Field(True, description="progress bar over users (only on a terminal)")

    @field_validator("generator")
    @classmethod
    def _check_generator(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_generator_spec(v)


class LLMRanker(Recommender):
    """Base of the LLM rankers: prompts, history, demonstrations, accounting.

    Subclasses set ``kind`` (their template file) and implement :meth:`_rank_user`; rankers
    that rank the list they are shown set ``set_dependent`` (the ``candidate_dependent`` tag).
    """

    Config: ClassVar[type[ModelConfig]] = LLMRankerConfig
    name: ClassVar[str] = "llm"
    kind: ClassVar[str] = "likelihood"
    set_dependent: ClassVar[bool] = False
    config: LLMRankerConfig

    def tags(self) -> ModelTags:
        return replace(super().tags(), candidate_dependent=self.set_dependent, needs_text=True,
                       uses_generator=True, candidates_only=self.config.full_catalog == "error")

    # ------------------------------------------------------------------ fitting (no training)
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        if train.catalog is None:
            raise ConfigError(f"{type(self).__name__} needs item text: the interactions carry no catalog")
        cat = train.catalog
        self.item_text_ = np.asarray(item_texts(cat, range(self.n_items_), self.config.item_fields), dtype=str)
        self.item_full_ = np.asarray(cat.text(), dtype=str)

    def _on_history(self, history: Interactions) -> None:
        self.seqs_ = history.sequences()

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"item_text": self.item_text_, "item_full": self.item_full_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        # saved text is re-cleaned: a loaded (or older) folder cannot bring raw text into prompts
        self.item_text_ = np.asarray([clean_text(t) for t in state["item_text"]], dtype=str)
        self.item_full_ = state["item_full"]

    # ------------------------------------------------------------------ backend and prompts
    @property
    def generator(self) -> Generator:
        return get_generator(self.config.generator)

    @property
    def prompts(self) -> PromptSet:
        return PromptSet(self.kind, self.config.template, self.config.prompt_file)

    def history_items(self, user: int) -> np.ndarray:
        """The user's most recent ``max_history`` items, oldest first."""
        return self.seqs_[int(user)][-self.config.max_history:]

    def texts(self, items: Sequence[int] | np.ndarray) -> list[str]:
        return [str(self.item_text_[int(i)]) for i in items]

    def summary(self, user: int) -> str:
        """An LLM-written one-sentence summary of the user's taste (cached by the backend)."""
        c = self.config
        p = PromptSet("history", "summary_prompt", c.prompt_file)
        items = "\n".join(f"- {t}" for t in self.texts(self.history_items(user)))
        text = self.generator.chat(p.messages(noun=c.noun, items=items), max_tokens=c.summary_tokens)
        return " ".join(text.split())

    def history_block(self, user: int, rest: str = "", reserve: int = 0) -> str:
        """Demonstrations (if any) and the rendered history: the shared prefix of every prompt.

        ``rest`` is the longest text that will follow it in one prompt, ``reserve`` the tokens
        kept for the answer. When the backend knows its context window and the whole prompt
        does not fit, the prefix shrinks in this order, never touching the instruction: in-context
        demonstrations (oldest first), then history items (oldest first, down to one). Each
        shrink is logged at WARNING with the counts.
        """
        c = self.config
        texts = self.texts(self.history_items(user))
        summary = self.summary(user) if c.history != "titles" else ""
        demos = self.demos(user)

        def render(n_demos: int, n_hist: int) -> str:
            shown = texts[len(texts) - n_hist:]
            block = format_history(shown, c.history, recency=c.recency, summary=summary, noun=c.noun,
                                   path=c.prompt_file)
            return format_demos(demos[len(demos) - n_demos:], noun=c.noun, path=c.prompt_file) + block

        d, h = len(demos), len(texts)
        prefix = render(d, h)
        budget = self.prompt_budget(reserve)
        if budget is None or self.generator.count_tokens(prefix + rest) <= budget:
            return prefix
        total = self.generator.count_tokens(prefix + rest)
        while (d > 0 or h > 1) and self.generator.count_tokens(prefix + rest) > budget:
            d, h = (d - 1, h) if d > 0 else (d, h - 1)
            prefix = render(d, h)
        self.count("prompts_shrunk")
        self._warn_once("history", f"{self.name} user {user}: prompt of {total} tokens exceeds the budget of {budget} "
                        f"(context window minus {reserve} answer tokens): kept {d}/{len(demos)} demonstrations "
                        f"and {h}/{len(texts)} history items")
        return prefix

    def prompt_budget(self, reserve: int = 0) -> int | None:
        """Prompt tokens available (context window minus ``reserve``), or None when not measurable."""
        window = self.generator.context_window
        return None if window is None else window - reserve

    def _warn_once(self, kind: str, message: str) -> None:
        """WARNING the first time per model and ``kind`` of shrink (then DEBUG)."""
        warned = self.__dict__.setdefault("warned_", set())
        if kind in warned:
            log.debug("%s", message)
        else:
            warned.add(kind)
            log.warning("%s (later shrinks of this kind are logged at DEBUG; see docs/reliability.md)", message)

    def demos(self, user: int) -> list[tuple[list[str], str]]:
        """In-context demonstrations: (history prefix texts, the item that followed)."""
        c = self.config
        if c.icl_demos == 0:
            return []
        out: list[tuple[list[str], str]] = []
        if c.icl_source == "self":
            seq = self.seqs_[int(user)]
            for t in range(len(seq) - 1, 0, -1):  # most recent transitions first
                if len(out) == c.icl_demos:
                    break
                out.append((self.texts(seq[max(0, t - c.icl_history):t]), self.texts([seq[t]])[0]))
        else:
            for v in self.similar_users(user, c.icl_demos):
                seq = self.seqs_[int(v)]
                out.append((self.texts(seq[-c.icl_history - 1:-1]), self.texts([seq[-1]])[0]))
        return out[::-1]

    def similar_users(self, user: int, n: int) -> np.ndarray:
        """The ``n`` users with the most co-consumed items (cosine on the history matrix), not ``user``."""
        h = self.history_
        row = h[int(user)]
        sims = np.asarray((h @ row.T).todense()).ravel()
        norms = np.sqrt(np.asarray(h.sum(axis=1)).ravel()) * max(1.0, float(np.sqrt(row.sum())))
        sims = sims / np.maximum(norms, 1e-9)
        sims[int(user)] = -np.inf
        sims[np.asarray(h.sum(axis=1)).ravel() < 2] = -np.inf  # need a prefix and a next item
        order = np.lexsort((np.arange(len(sims)), -sims))
        return order[:n][np.isfinite(sims[order[:n]])]

    # ------------------------------------------------------------------ scoring
    def _score(self, users: np.ndarray) -> np.ndarray:
        if self.config.full_catalog != "all":
            raise ConfigError(
                f"{type(self).__name__} scores given candidates only: scoring all {self.n_items_} items costs one "
                "LLM evaluation per item and user. Use a candidate protocol (sampled), wrap it in 'llm-rerank' "
                "(a retriever's top-N), or set full_catalog = 'all' (slow, or fast with backend 'toy').")
        items = np.broadcast_to(np.arange(self.n_items_), (len(users), self.n_items_))
        return self._score_items(users, items)

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = np.empty(items.shape, np.float32)
        bar = tqdm(range(len(users)), desc=self.name, disable=not self.config.progress or len(users) < 5,
                   leave=False)
        with self.track(len(users)):
            for r in bar:
                out[r] = self._rank_user(int(users[r]), items[r])
        return out

    def _rank_user(self, user: int, items: np.ndarray) -> np.ndarray:
        """Scores (higher is better) of the candidate ``items`` for one user."""
        raise NotImplementedError

    # ------------------------------------------------------------------ accounting
    @contextmanager
    def track(self, n_users: int) -> Iterator[None]:
        """Attribute backend usage deltas (tokens, seconds, cache hits) to this model."""
        u = self.generator.usage
        before = [getattr(u, f) for f in _USAGE_FIELDS]
        t0 = time.perf_counter()
        try:
            yield
        finally:
            acc = self.__dict__.setdefault("usage_", dict.fromkeys((*_USAGE_FIELDS, "users", "seconds"), 0.0))
            for f, b in zip(_USAGE_FIELDS, before, strict=True):
                acc[f] += getattr(u, f) - b
            acc["users"] += n_users
            acc["seconds"] += time.perf_counter() - t0

    _track = track  # the former private name, kept for subclasses

    def count(self, name: str, value: float = 1.0) -> None:
        """Add to a ranker-specific counter reported by :meth:`costs` (validity and the like)."""
        stats = self.__dict__.setdefault("stats_", {})
        stats[name] = stats.get(name, 0.0) + value

    def extra_metrics(self) -> dict[str, float]:
        """Rates derived from :meth:`count` counters (subclasses add theirs)."""
        return {}

    def costs(self) -> dict[str, float]:
        """Tokens, seconds and cache hits spent by this model, per user too (the runner records these).

        ``lm_*_per_user`` average over every scored user (a cache hit costs nothing);
        ``lm_*_per_live_user`` over the users actually sent to the model (``lm_live_users``:
        users x the share of scored items that missed the cache) -- the cost of a cold run.
        """
        acc = self.__dict__.get("usage_") or dict.fromkeys((*_USAGE_FIELDS, "users", "seconds"), 0.0)
        n = max(1.0, acc["users"])
        tokens = acc["prompt_tokens"] + acc["completion_tokens"]
        live = acc["users"] * (acc["items"] - acc["cache_hits"]) / max(1.0, acc["items"])
        out = {
            "lm_calls": acc["calls"], "lm_items": acc["items"], "lm_cache_hits": acc["cache_hits"],
            "lm_prompt_tokens": acc["prompt_tokens"], "lm_completion_tokens": acc["completion_tokens"],
            "lm_backend_seconds": acc["wall_s"], "lm_users": acc["users"], "lm_seconds": acc["seconds"],
            "lm_tokens_per_user": tokens / n, "lm_seconds_per_user": acc["seconds"] / n, "lm_live_users": live,
            "lm_tokens_per_live_user": tokens / max(1e-9, live) if live else 0.0,
            "lm_seconds_per_live_user": acc["seconds"] / max(1e-9, live) if live else 0.0,
        }
        out.update(self.extra_metrics())
        return {k: float(v) for k, v in out.items()}

    def reset_usage(self) -> None:
        self.__dict__.pop("usage_", None)
        self.__dict__.pop("stats_", None)

    # ------------------------------------------------------------------ explanations
    def evidence(self, user: int, item: int, n: int = 3) -> list[int]:
        """Up to ``n`` items of the user's history most related to ``item`` (best first)."""
        return related(self.seqs_[int(user)], item, self.item_full_, n)

    def phrase(self, evidence_items: Sequence[int], item: int, max_tokens: int = 80) -> str:
        """``Because you watched A; B: <LLM-phrased reason>`` for ``item`` (backend usage is tracked)."""
        c = self.config
        names, name = self.texts(evidence_items), self.texts([item])[0]
        if not names:  # no LLM call (the backend is not even built): nothing to track
            return phrase(None, names, name)
        with self.track(1):
            return phrase(self.generator, names, name, noun=c.noun, prompt_file=c.prompt_file, max_tokens=max_tokens)

    def explain(self, user: int, item: int, n_evidence: int = 3, max_tokens: int = 80) -> str:
        """Why ``item`` suits ``user``, citing the history items most related to it (text overlap)."""
        self._check_users([user])
        if not 0 <= int(item) < self.n_items_:
            raise ValueError(f"item id must lie in [0, {self.n_items_}); got {item}")
        return self.phrase(self.evidence(user, item, n_evidence), item, max_tokens)
