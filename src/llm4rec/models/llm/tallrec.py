"""TALLRec (Bao et al., RecSys 2023): instruction-tuned yes/no recommendation.

The prompt lists the user's ``max_history`` (10) most recent rated items before the target, split
into liked (rating > ``like_threshold``) and disliked, and asks whether the user will like the
target; the label is the target's rating > ``like_threshold``. The model is tuned (LoRA by default)
on ``n_shots`` examples drawn with ``sample_seed`` from the training interactions (every rated
item with at least ``min_history`` earlier ratings is a candidate example). The score of a
(user, item) pair is P(Yes) from the first answer token, renormalised over the first tokens of
" Yes" and " No" as the tokenizer spells them. Scores are per pair, so the model serves the
pointwise protocol (AUC, logloss) and ranks candidates (sampled, rerank).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.models.llm.tuned import TunedRanker, TunedRankerConfig, choice_probabilities, quoted
from llm4rec.registry import MODELS


class TallRecConfig(TunedRankerConfig):
    """TALLRec: history of rated items split by rating, few-shot budget, sample seed."""

    max_history: int = Field(10, ge=1, description="most recent rated items shown")
    template: str = Field("default", description="variant in templates/tallrec.toml")
    like_threshold: float = Field(3.0, description="liked = rating > this (label and history split)")
    n_shots: int = Field(64, ge=1, description="training examples drawn from the training interactions")
    sample_seed: int = Field(0, description="seed of the few-shot draw")
    min_history: int = Field(1, ge=0, description="earlier ratings an example's target needs")


@MODELS.register("llm-tallrec")
class TallRec(TunedRanker):
    """``llm-tallrec``: P(Yes) of a tuned LLM asked whether the user will like the item."""

    Config = TallRecConfig
    name = "llm-tallrec"
    kind = "tallrec"
    config: TallRecConfig

    def _on_history(self, history: Interactions) -> None:
        super()._on_history(history)
        off = history.user_offsets()
        self.ratings_ = [history.rating[off[u]:off[u + 1]] for u in range(history.n_users)]

    def prefix(self, items: np.ndarray, ratings: np.ndarray) -> str:
        """The instruction and the liked / disliked lists of a history (most recent ``max_history``)."""
        c, t = self.config, self.prompts.template
        items, ratings = items[-c.max_history:], ratings[-c.max_history:]
        liked = self.texts(items[ratings > c.like_threshold])
        disliked = self.texts(items[ratings <= c.like_threshold])
        return self.prompts.fill("prefix", noun=c.noun, liked=quoted(liked, t["empty"]),
                                 disliked=quoted(disliked, t["empty"]))

    def suffix(self, item: int) -> str:
        return self.prompts.fill("suffix", noun=self.config.noun, item=self.texts([item])[0])

    def sample_positions(self) -> list[tuple[int, int]]:
        """``n_shots`` (user, position in the user's training sequence) drawn with ``sample_seed``, in order.

        Candidates are every rated item with at least ``min_history`` earlier ratings of its user.
        """
        c = self.config
        where = [(u, t) for u, seq in enumerate(self.seqs_) for t in range(c.min_history, len(seq))]
        if not where:
            return []
        rng = np.random.default_rng(c.sample_seed)
        pick = np.sort(rng.choice(len(where), size=min(c.n_shots, len(where)), replace=False))
        return [where[int(k)] for k in pick]

    def examples(self, train: Interactions) -> list[tuple[str, str, str]]:
        """(prefix, suffix, answer) of each sampled position: the previous ratings and the target's label."""
        yes, no = self.prompts.template["choices"]
        out = []
        for u, t in self.sample_positions():
            seq, rat = self.seqs_[u], self.ratings_[u]
            answer = yes if rat[t] > self.config.like_threshold else no
            out.append((self.prefix(seq[:t], rat[:t]), self.suffix(int(seq[t])), answer))
        return out

    def validation_request(self) -> dict[str, float | int | str]:
        """Early stopping on AUC of rating > ``like_threshold`` labels (pointwise protocol, ``val_users`` users)."""
        c = self.config
        return {"metric": "auc", "label_threshold": np.nextafter(c.like_threshold, np.inf),
                "max_users": c.val_users, "seed": c.sample_seed}

    def _rank_user(self, user: int, items: np.ndarray) -> np.ndarray:
        choices = list(self.prompts.template["choices"])
        prefix = self.prefix(self.seqs_[user], self.ratings_[user])
        lp = self.generator.next_token_logprobs(prefix, [self.suffix(int(i)) for i in items], choices)
        return choice_probabilities(lp)[:, 0]
