"""The leakage check every item tokenizer passes before its results are reported.

1. **Cut**: the ids are refitted from the training interactions alone and must equal the ids the
   model uses (so nothing after the training cut shaped them), and a refit that also sees the test
   rows must not be what the model used.
2. **Predictability**: the share of test items whose id follows from the user's training ids alone,
   reading a code sequence as a number (its rank in lexicographic code order): the test item is
   ``max(seen) + 1`` or ``last seen + 1``. P5's sequential ids expose this; random ids give the
   chance level (about 2 / n_items).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llm4rec.data.split import Split
from llm4rec.models.generative.tokenizers import ItemTokenizer


@dataclass(frozen=True)
class LeakageReport:
    tokenizer: str
    cut_ok: bool  # ids refitted on train alone equal the ids in use
    predictable_max: float  # share of test items with id == max(seen id) + 1
    predictable_last: float  # share with id == last seen id + 1
    chance: float  # share expected by chance for one guess (1 / n_items)

    @property
    def predictable(self) -> float:
        return max(self.predictable_max, self.predictable_last)

    @property
    def passed(self) -> bool:
        """The ids respect the training cut. Predictability is reported, not judged: collaborative or
        semantic ids put related items next to each other on purpose; the benchmark sets it beside
        chance and beside the metric inflation of sequential versus random ids."""
        return self.cut_ok


def id_numbers(codes: np.ndarray) -> np.ndarray:
    """Each item's rank in lexicographic order of its code sequence (the id read as a number)."""
    order = np.lexsort(codes.T[::-1])
    ranks = np.empty(len(codes), dtype=np.int64)
    ranks[order] = np.arange(len(codes))
    return ranks


def leakage_check(tokenizer: ItemTokenizer, split: Split, *, texts: Sequence[str] | None = None,
                  vectors: np.ndarray | None = None) -> LeakageReport:
    """Check ``tokenizer`` (fitted) against ``split`` (see the module docstring)."""
    n_items = split.train.n_items
    codes = tokenizer.fitted_codes()
    refit = type(tokenizer)(tokenizer.config).fit(split.train, n_items, texts=texts, vectors=vectors)
    again = refit.fitted_codes()
    cut_ok = again.shape == codes.shape and bool(np.array_equal(again, codes))
    num = id_numbers(codes)
    seq_of = split.known_for("test").sequences()  # what the model sees before the test item
    hit_max = hit_last = total = 0
    for u, i in zip(split.test.user, split.test.item, strict=True):
        seen = seq_of[int(u)]
        if len(seen) == 0:
            continue
        total += 1
        target = num[int(i)]
        hit_max += int(target == num[seen].max() + 1)
        hit_last += int(target == num[int(seen[-1])] + 1)
    total = max(total, 1)
    return LeakageReport(tokenizer.name, cut_ok, hit_max / total, hit_last / total, 1 / n_items)
