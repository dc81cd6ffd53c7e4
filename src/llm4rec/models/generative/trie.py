"""A prefix trie over the catalog's token sequences, for constrained decoding.

:meth:`ItemTrie.allowed_fn` builds the callable transformers' ``generate`` takes as
``prefix_allowed_tokens_fn``: at each step only tokens that continue some catalog item are allowed,
and a branch whose items the user has all seen is closed, so beam search of width K returns K
distinct, valid, unseen items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

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

    def seen_counts(self, items: Sequence[int]) -> Counter[tuple[int, ...]]:
        out: Counter[tuple[int, ...]] = Counter()
        for i in items:
            path = tuple(map(int, self.tokens[int(i)]))
            for j in range(self.length):
                out[path[: j + 1]] += 1
        return out

    def allowed(self, prefix: tuple[int, ...], seen: Counter[tuple[int, ...]] | None = None) -> list[int]:
        kids = self.children.get(prefix, [])
        if seen:
            kids = [t for t in kids if self.count[(*prefix, t)] > seen[(*prefix, t)]]
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
