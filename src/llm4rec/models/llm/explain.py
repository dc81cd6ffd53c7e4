"""Explanations grounded in the user's actual history.

The evidence is chosen without the LLM: the history items whose catalog text (genres, year,
title words) overlaps most with the recommended item, most recent first on ties. The LLM only
phrases the reason, and the returned text always names the evidence items, so an explanation
never cites something the user did not consume.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from llm4rec.prompts.library import PromptSet

if TYPE_CHECKING:
    from llm4rec.models.llm.base import LLMRanker

_WORD = re.compile(r"[a-z][a-z']+")  # words, not years: a shared year is weak evidence
_STOP = {"the", "a", "an", "of", "and", "in", "on", "to", "title", "year", "genres", "description", "s"}


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def related(history: Sequence[int], item: int, item_text: Sequence[str], n: int = 3) -> list[int]:
    """Up to ``n`` items of ``history`` (oldest first) whose text overlaps most with ``item``'s;
    ties go to the most recent. ``item`` itself is never its own evidence."""
    target = _words(str(item_text[int(item)]))
    sims = np.array([len(target & _words(str(item_text[int(i)]))) for i in history], dtype=float)
    order = np.lexsort((-np.arange(len(history)), -sims))
    picked: list[int] = []
    for j in order:
        h = int(history[j])
        if h != int(item) and h not in picked:
            picked.append(h)
        if len(picked) == n:
            break
    return picked


def evidence(model: LLMRanker, user: int, item: int, n: int = 3) -> list[int]:
    """Up to ``n`` items of the user's history most related to ``item`` (best first)."""
    return related(model.seqs_[int(user)], item, model.item_full_, n)


def phrase(model: LLMRanker, evidence_items: Sequence[int], item: int, max_tokens: int = 80) -> str:
    """``Because you watched A; B: <LLM-phrased reason>`` (the evidence is named verbatim)."""
    c = model.config
    names = model.texts(evidence_items)
    if not names:
        return f"{model.texts([item])[0]} is a popular choice (no history to relate it to)."
    p = PromptSet("explain", "default", c.prompt_file)
    with model._track(1):
        text = model.generator.chat(p.messages(noun=c.noun, evidence="; ".join(names), item=model.texts([item])[0]),
                                    max_tokens=max_tokens)
    return f"Because you watched {'; '.join(names)}: {_sentences(text)}"


def explain(model: LLMRanker, user: int, item: int, n_evidence: int = 3, max_tokens: int = 80) -> str:
    """``Because you watched A; B: <LLM-phrased reason>`` for recommending ``item`` to ``user``."""
    model._check_users([user])
    if not 0 <= int(item) < model.n_items_:
        raise ValueError(f"item id must lie in [0, {model.n_items_}); got {item}")
    return phrase(model, evidence(model, user, item, n_evidence), item, max_tokens)


def _sentences(text: str) -> str:
    """Whitespace-normalised text cut after its last complete sentence (generation may stop mid-way)."""
    text = " ".join(text.split())
    end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    if text.endswith((".", "!", "?")) or end < 0:
        return text
    return text[:end + 1]
