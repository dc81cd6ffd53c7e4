"""Training examples for generator tuning: token ids of a prompt and its answer, loss on the answer only.

The sample order of every epoch is drawn up front from the seed and the epochs are laid end to end
in one sequence read in order, so the position in it (the optimiser step times the batch) is all
a resumed run needs to continue with exactly the next unseen sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

IGNORE = -100  # label of tokens that carry no loss (the prompt, padding)


@dataclass(frozen=True)
class TokenExample:
    """One supervised example: the model reads ``prompt`` and is trained to write ``answer``."""

    prompt: list[int]
    answer: list[int]

    def fit(self, max_length: int) -> TokenExample:
        """Left-truncate the prompt so prompt + answer hold at most ``max_length`` tokens."""
        room = max_length - len(self.answer)
        if room < 1:
            raise ValueError(f"answer of {len(self.answer)} tokens does not fit max_length={max_length}")
        return self if len(self.prompt) <= room else TokenExample(self.prompt[len(self.prompt) - room:], self.answer)


class EpochOrderDataset:
    """``epochs`` seeded permutations of ``examples`` laid end to end (read with a sequential sampler)."""

    def __init__(self, examples: Sequence[TokenExample], epochs: int, seed: int, max_length: int) -> None:
        self.examples = [e.fit(max_length) for e in examples]
        rng = np.random.default_rng(seed)
        self.order = np.concatenate([rng.permutation(len(examples)) for _ in range(epochs)]).astype(np.int64)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> dict[str, Any]:
        j = int(self.order[i])
        e = self.examples[j]
        return {"input_ids": e.prompt + e.answer, "labels": [IGNORE] * len(e.prompt) + e.answer, "index": j}


class AnswerCollator:
    """Right-pads a batch; padding is masked out of attention and loss."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[k, :n] = torch.tensor(r["input_ids"])
            labels[k, :n] = torch.tensor(r["labels"])
            mask[k, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}
