"""Explanations grounded in the user's actual history.

The evidence is chosen without the LLM: the history items whose catalog text (genres, year,
title words) overlaps most with the recommended item, most recent first on ties. The LLM only
phrases the reason, and the returned text always names the evidence items, so an explanation
never cites something the user did not consume. Plain functions over ids, texts and a generator:
:meth:`LLMRanker.explain <llm4rec.models.llm.base.LLMRanker.explain>` and the chat build on them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from llm4rec.lm.base import Generator
from llm4rec.prompts.library import PromptSet

_WORD = re.compile(r"[a-z][a-z']+")  # words, not years: a shared year is weak evidence
_STOP = {"the", "a", "an", "of", "and", "in", "on", "to", "title", "year", "genres", "description", "s"}


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def related(history: Sequence[int] | np.ndarray, item: int, item_text: Sequence[str] | np.ndarray, n: int = 3
            ) -> list[int]:
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


def phrase(generator: Generator | None, evidence_names: Sequence[str], item_name: str, *, noun: str = "movie",
           prompt_file: str | None = None, max_tokens: int = 80) -> str:
    """``Because you watched A; B: <LLM-phrased reason>`` (the evidence is named verbatim; the wording
    is the ``explain`` template's ``lead`` and ``no_history``)."""
    p = PromptSet("explain", "default", prompt_file)
    if not evidence_names or generator is None:
        return p.fill("no_history", item=item_name, noun=noun)
    names = "; ".join(evidence_names)
    text = generator.chat(p.messages(noun=noun, evidence=names, item=item_name), max_tokens=max_tokens)
    return p.fill("lead", evidence=names, reason=_sentences(text), noun=noun)


def _sentences(text: str) -> str:
    """Whitespace-normalised text cut after its last complete sentence (generation may stop mid-way)."""
    text = " ".join(text.split())
    end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    if text.endswith((".", "!", "?")) or end < 0:
        return text
    return text[:end + 1]
