"""Conversational recommendation: multi-turn, catalog items only, explanations on request.

Each user turn updates the dialogue state (stated preferences, catalog items the user mentions,
items already recommended, items rejected). Recommending is retrieval + LLM: the encoder retrieves
catalog items for the preferences and mentioned items, the LLM reorders the retrieved items by the
likelihood of each as the next item given the dialogue (``Generator.score``), and the reply lists
catalog titles verbatim -- it can only name catalog items. "why" explains the last suggestions,
grounded in what the user said (and, for a known user, their history). The session's wording is the
``chat`` template's ``[session]`` table (the ranker's ``prompt_file`` may override it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llm4rec.models.llm.backends import get_encoder
from llm4rec.models.llm.base import LLMRanker
from llm4rec.models.llm.explain import related
from llm4rec.models.llm.grounding import normalize_title
from llm4rec.prompts.library import PromptSet, format_history

_WHY = re.compile(r"\b(why|explain|reason)\b", re.I)
_MORE = re.compile(r"\b(more|else|other|another|different)\b", re.I)
_NOT = re.compile(r"\b(?:not|no|don't|didn't|hate|dislike)\b[^.,;!?]*", re.I)
_QUOTED = re.compile(r"\"([^\"]+)\"")
_END = {"quit", "exit", "bye", "/quit", "/exit"}


@dataclass
class DialogueState:
    """What the system knows after each turn (JSON-serialisable via :meth:`as_dict`)."""

    preferences: list[str] = field(default_factory=list)
    mentioned: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    recommended: list[int] = field(default_factory=list)
    last: list[int] = field(default_factory=list)
    turns: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ChatSession:
    """One conversation over a fitted LLM ranker's catalog (``user`` personalises it with a history)."""

    def __init__(self, model: LLMRanker, encoder: dict[str, Any], user: int | None = None, k: int = 3,
                 n_retrieve: int = 20, explain_tokens: int = 60) -> None:
        model.check_fitted()
        self.model, self.user, self.k, self.n_retrieve = model, user, k, n_retrieve
        self.explain_tokens = explain_tokens
        self.encoder = get_encoder(encoder)
        self.item_vecs = self.encoder.encode(list(model.item_full_))
        self.state = DialogueState()
        self.text = PromptSet("chat", "session", model.config.prompt_file)
        self._titles: dict[str, int] = {}
        for i, t in enumerate(model.item_text_):
            key = normalize_title(str(t))
            if len(key) >= 5:  # short titles ("heat") would match ordinary words
                self._titles.setdefault(key, i)

    # ------------------------------------------------------------------ understanding
    def mentions(self, text: str) -> list[int]:
        """Catalog items named in ``text`` (quoted titles, or normalised titles appearing in it)."""
        found = [i for q in _QUOTED.findall(text) if (i := self._titles.get(normalize_title(q))) is not None]
        norm = f" {normalize_title(text)} "
        found += [i for key, i in self._titles.items() if f" {key} " in norm]
        return list(dict.fromkeys(found))

    # ------------------------------------------------------------------ turns
    def respond(self, text: str) -> str:
        """Answer one user turn."""
        s = self.state
        s.turns += 1
        text = text.strip()
        if _WHY.search(text) and s.last:
            return self.explain_last(text)
        negative = " ".join(_NOT.findall(text))
        for i in self.mentions(text):
            (s.rejected if normalize_title(self.model.texts([i])[0]) in normalize_title(negative) else
             s.mentioned).append(i)
        more = bool(_MORE.search(text)) and len(text.split()) <= 3  # "more", "something else"
        if text and not more:
            s.preferences.append(text)
        if not s.preferences and not s.mentioned and self.user is None:
            return self.text.fill("ask", noun=self.model.config.noun)
        s.last = self.recommend()
        s.recommended += s.last
        names = "\n".join(self.text.fill("suggestion", rank=j + 1, text=t)
                          for j, t in enumerate(self.model.texts(s.last)))
        return self.text.fill("suggestions", items=names)

    def known_items(self) -> list[int]:
        """Items the recommendation builds on: the user's history, then what they mentioned."""
        hist = list(self.model.history_items(self.user)) if self.user is not None else []
        return [int(i) for i in hist] + self.state.mentioned

    def recommend(self) -> list[int]:
        """Retrieve ``n_retrieve`` items for the dialogue, let the LLM reorder them, return the top ``k``."""
        s, m = self.state, self.model
        query = " ".join(s.preferences + m.texts(s.mentioned)) or " ".join(m.texts(self.known_items()))
        sims = self.item_vecs @ self.encoder.encode([query])[0]
        known = self.known_items()
        if known:
            sims = sims + 0.5 * (self.item_vecs @ self.item_vecs[known].mean(axis=0))
        banned = set(known) | set(s.recommended) | set(s.rejected)
        if self.user is not None:
            banned |= set(m.seqs_[self.user].tolist())
        sims[list(banned)] = -np.inf
        cands = np.argsort(-sims, kind="stable")[:self.n_retrieve]
        cands = cands[np.isfinite(sims[cands])]
        if len(cands) == 0:
            return []
        c = m.config
        prompt = format_history(m.texts(known[-c.max_history:]), noun=c.noun, path=c.prompt_file) if known else ""
        if s.preferences:
            prompt += self.text.fill("looking_for", preferences=" ".join(s.preferences))
        p = PromptSet("likelihood", "default", c.prompt_file)
        conts = [p.fill("continuation", item=t) for t in m.texts(cands)]
        with m.track(1):
            lp = m.generator.score(prompt + p.fill("prompt", noun=c.noun), conts).logprobs
        return [int(i) for i in cands[np.argsort(-lp, kind="stable")[:self.k]]]

    def explain_last(self, text: str) -> str:
        """Explain the suggestion named in ``text``, else each of the last suggestions."""
        s = self.state
        asked = [i for i in self.mentions(text) if i in s.last] or s.last
        known = self.known_items()
        lines = []
        for i in asked:
            ev = related(known, i, self.model.item_full_, 3)
            why = self.model.phrase(ev, i, self.explain_tokens) if ev else self.text.fill("no_evidence")
            lines.append(self.text.fill("reason", text=self.model.texts([i])[0], why=why))
        return "\n".join(lines)

    @staticmethod
    def is_end(text: str) -> bool:
        return text.strip().lower() in _END
