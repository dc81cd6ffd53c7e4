"""A prefix trie over the catalog's token sequences, for constrained decoding.

:meth:`ItemTrie.allowed_fn` builds the callable transformers' ``generate`` takes as
``prefix_allowed_tokens_fn``: at each step only tokens that continue some catalog item are allowed,
and a branch whose items the user has all seen is closed, so beam search of width K returns K
distinct, valid, unseen items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch


class ItemTrie:
    """Prefix -> next tokens, with how many items lie under each prefix."""

    def __init__(self, tokens: np.ndarray) -> None:
        self.tokens = np.asarray(tokens, dtype=np.int64)  # (n_items, length)
        self.length = self.tokens.shape[1]
        self.children: dict[tuple[int, ...], list[int]] = {}
        self.count: Counter[tuple[int, ...]] = Counter()
        self.item_of = {tuple(map(int, row)): i for i, row in enumerate(self.tokens)}
        for row in self.tokens:
            path = tuple(map(int, row))
            for j in range(self.length):
                self.count[path[: j + 1]] += 1
        for path in self.count:
            self.children.setdefault(path[:-1], []).append(path[-1])

    def seen_counts(self, items: Iterable[int]) -> Counter[tuple[int, ...]]:
        out: Counter[tuple[int, ...]] = Counter()
        for i in items:
            path = tuple(map(int, self.tokens[int(i)]))
            for j in range(self.length):
                out[path[: j + 1]] += 1
        return out

    def allowed(self, prefix: tuple[int, ...], seen: Counter[tuple[int, ...]] | None = None) -> list[int]:
        kids = self.children.get(prefix, [])
        if seen:
            paths = [(*prefix, t) for t in kids]
            kids = [path[-1] for path in paths if self.count[path] > seen[path]]
        return kids

    def allowed_fn(self, prompt_len: int, seen: list[Counter[tuple[int, ...]]]
                   ) -> Callable[[int, torch.Tensor], list[int]]:
        """``prefix_allowed_tokens_fn`` for a batch of prompts of length ``prompt_len``; ``seen[b]``
        is prompt ``b``'s seen-item counts."""

        def fn(batch_id: int, input_ids: torch.Tensor) -> list[int]:
            prefix = tuple(input_ids[prompt_len:].tolist())
            return self.allowed(prefix, seen[batch_id]) or self.allowed(prefix)

        return fn

    def item(self, tokens: Sequence[int]) -> int | None:
        """The item a full token sequence names (``None`` for an invalid sequence)."""
        return self.item_of.get(tuple(map(int, tokens)))


def beam_items(model: Any, prompt: Sequence[int], trie: ItemTrie, seen: Iterable[int], beams: int, *,
               constrained: bool = True, pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Beam search of width ``beams`` after ``prompt`` (one user) with a transformers causal LM: the distinct
    items written, best first, and their beams' log-probabilities. With ``constrained`` the trie allows only
    catalog items the user has not all seen; without it, sequences that name no item are dropped."""
    ids = torch.tensor([list(prompt)], device=model.device)
    n = trie.length
    fn = trie.allowed_fn(ids.shape[1], [trie.seen_counts(seen)]) if constrained else None
    with torch.no_grad():
        res = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                             num_beams=beams, num_return_sequences=beams, do_sample=False, length_penalty=0.0,
                             prefix_allowed_tokens_fn=fn, output_scores=True, return_dict_in_generate=True,
                             pad_token_id=pad_id, eos_token_id=None)
    best: dict[int, float] = {}
    for row, s in zip(res.sequences[:, ids.shape[1]:].tolist(), res.sequences_scores.tolist(), strict=True):
        item = trie.item(row)
        if item is not None and item not in best:
            best[item] = s
    return np.fromiter(best, np.int64, len(best)), np.fromiter(best.values(), np.float64, len(best))
