"""LlamaRec-style tuned ranker over a retriever (Yue et al. 2023).

A retriever (``retriever``, any registered model; default SASRec) is fitted on the training data and
proposes each user's top ``top_n`` (20) unseen items. The prompt (``prompts/templates/llamarec.toml``)
shows the user's ``max_history`` most recent items and the candidates under index letters in the
retriever's order; the generator is tuned (LoRA by default, through :class:`TunedRanker`) to answer the
target's letter. Training examples: each user's last training item is the target and the retriever
ranks from the items before it (its history set to the training data minus that item); users whose
target is in that top N become examples (``max_train_users`` caps them, drawn with ``sample_seed``).

Scoring reads the logits at the answer position once per user (one forward pass of the whole prompt,
``Generator.next_token_logprobs`` with an empty suffix) and takes every letter's probability (the
verbalizer): no free text, so no invalid answer. Full ranking (``score(users)``): the top N in the
LLM's order above every other item, which keeps the retriever's order. Candidates
(``score(users, items)``): the same within the given items, so scores depend on the candidate set
(``candidate_dependent``).

Generation (LLaRA's measure, beside the verbalizer): :meth:`LlamaRec.generate_choice` decodes
``generate_tokens`` tokens greedily and unconstrained from the same prompt and parses the answer into one
of the shown letters (:func:`~llm4rec.models.llm.tuned.parse_choice`; anything else is invalid);
:meth:`LlamaRec.generate_choices` returns a :class:`Generated` with ``validity`` (share of users whose
answer names a shown candidate) and ``gen_hr@1`` (share whose named candidate is the target). Its tokens
and seconds are reported by ``costs()`` as ``gen_*``, apart from the verbalizer's ``lm_*``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.models.base import ModelTags, Recommender, mask_rows
from llm4rec.models.llm.rerank import rerank_top, top_columns
from llm4rec.models.llm.tuned import (
    TunedRanker,
    TunedRankerConfig,
    choice_probabilities,
    greedy_new_tokens,
    parse_choice,
)
from llm4rec.models.registry import make_model
from llm4rec.registry import MODELS

_RETRIEVER = "retriever_."  # state key prefix of the retriever's arrays
_BATCH = 256  # users per retriever scoring call when building examples


class LlamaRecConfig(TunedRankerConfig):
    """Retriever, candidates shown and training users of the LlamaRec-style ranker."""

    retriever: str = Field("sasrec", description="registered model that proposes the candidates")
    retriever_params: dict[str, Any] = Field(default_factory=dict)
    top_n: int = Field(20, ge=2, le=26, description="candidates shown under letters A.. (at most 26)")
    max_train_users: int | None = Field(None, ge=1, description="cap on training examples (seeded draw)")
    sample_seed: int = Field(0, description="seed of the training-user draw")
    generate_tokens: int = Field(4, ge=1, le=64, description="tokens decoded greedily by generate_choice")


@dataclass(frozen=True)
class Generated:
    """Greedy answers of users among the candidates shown to them (:meth:`LlamaRec.generate_choices`)."""

    users: np.ndarray
    shown: np.ndarray  # (users, shown candidates), in the order of the prompt's letters
    chosen: np.ndarray  # the item each answer names, -1 for an invalid answer
    texts: list[str]  # the raw generated text
    targets: np.ndarray | None = None  # each user's target item, when known

    @property
    def valid(self) -> np.ndarray:
        """Per user: the answer names one of the shown candidates."""
        return self.chosen >= 0

    @property
    def hits(self) -> np.ndarray:
        """Per user: the named candidate is the target (HR@1 by generation)."""
        if self.targets is None:
            raise ValueError("no targets: pass targets to generate_choices")
        return self.chosen == self.targets

    def summary(self) -> dict[str, float]:
        """``validity`` and, with targets, ``gen_hr@1`` (means over users; 0 for no users)."""
        out = {"validity": float(self.valid.mean()) if len(self.users) else 0.0}
        if self.targets is not None:
            out["gen_hr@1"] = float(self.hits.mean()) if len(self.users) else 0.0
        return out


@MODELS.register("llm-llamarec")
class LlamaRec(TunedRanker):
    """``llm-llamarec``: a tuned LLM picks the next item among a retriever's top N by letter."""

    Config = LlamaRecConfig
    name = "llm-llamarec"
    kind = "llamarec"
    set_dependent = True
    config: LlamaRecConfig

    def tags(self) -> ModelTags:
        ret = self.__dict__.get("retriever_")
        stage = ret.tags() if isinstance(ret, Recommender) else None
        return replace(super().tags(), candidates_only=False,
                       deterministic=stage is None or stage.deterministic,
                       scores_from_history=stage is None or stage.scores_from_history)

    # ------------------------------------------------------------------ prompt
    def labels(self, n: int) -> list[str]:
        """The first ``n`` candidate labels (``A``, ``B``, ...)."""
        labels = str(self.prompts.template["labels"])
        if n > len(labels):
            raise ValueError(f"{n} candidates but the template has {len(labels)} labels")
        return list(labels[:n])

    def choices(self, n: int) -> list[str]:
        """The answer strings whose first tokens are scored (``" A"``, ``" B"``, ...)."""
        return [self.prompts.fill("choice", label=x) for x in self.labels(n)]

    def prompt_texts(self, items: np.ndarray) -> list[str]:
        """How items read in the prompt (their catalog text; a subclass may add item tokens)."""
        return self.texts(items)

    def prompt(self, history: np.ndarray, candidates: np.ndarray) -> str:
        """The whole prompt: the ``max_history`` most recent items and the lettered candidates."""
        c, p = self.config, self.prompts
        hist = "\n".join(p.fill("history_line", item=t) for t in self.prompt_texts(history[-c.max_history:]))
        cands = "\n".join(p.fill("candidate_line", label=x, item=t)
                          for x, t in zip(self.labels(len(candidates)), self.prompt_texts(candidates), strict=True))
        return p.fill("prefix", noun=c.noun, history=hist, candidates=cands)

    # ------------------------------------------------------------------ fitting
    def use_retriever(self, retriever: Recommender) -> LlamaRec:
        """Take an already fitted retriever (e.g. the SASRec a benchmark compares with) instead of fitting
        one in ``fit``; ``retriever_params`` become its parameters (so a saved model rebuilds it)."""
        retriever.check_fitted()
        if retriever.name != self.config.retriever:
            raise ConfigError(f"retriever {retriever.name!r} is not the configured {self.config.retriever!r}")
        self.config = self.config.model_copy(update={"retriever_params": retriever.config.model_dump()})
        self.__dict__["given_retriever_"] = retriever
        return self

    def _prepare(self, train: Interactions, valid: Interactions | None) -> None:
        c = self.config
        given = self.__dict__.get("given_retriever_")
        if given is not None:
            if (given.n_users_, given.n_items_) != (train.n_users, train.n_items):
                raise ValueError("the given retriever was fitted on another id universe")
            given.set_history(train)
            self.retriever_ = given
            return
        options = replace(self.training_options, callbacks=())  # step callbacks belong to the LLM tuning
        self.retriever_ = make_model(c.retriever, c.retriever_params).fit(train, valid, options)

    def _on_history(self, history: Interactions) -> None:
        super()._on_history(history)
        ret = self.__dict__.get("retriever_")
        if ret is not None and getattr(ret, "history_log_", None) is not history:
            ret.set_history(history)

    def training_targets(self, train: Interactions) -> list[tuple[int, np.ndarray, int]]:
        """(user, candidates in retriever order, target's position) of every training example.

        The target is the user's last training item; the retriever ranks from the items before it
        (seen ones excluded); users whose target is outside the top ``top_n`` are left out, the rest
        capped at ``max_train_users`` (drawn with ``sample_seed``, kept in user order).
        """
        c = self.config
        off = train.user_offsets()
        counts = np.diff(off)
        users = np.flatnonzero(counts >= 2)
        if len(users) == 0:
            return []
        last = np.zeros(len(train), bool)
        last[off[1:][counts > 0] - 1] = True
        prior = train.subset(~last)
        seen = prior.to_csr()
        ret = self.retriever_
        out: list[tuple[int, np.ndarray, int]] = []
        ret.set_history(prior)
        try:
            for s in range(0, len(users), _BATCH):
                batch = users[s:s + _BATCH]
                scores = np.asarray(ret.score(batch), dtype=np.float64)
                mask_rows(scores, seen, batch)
                top = np.argsort(-scores, axis=1, kind="stable")[:, :c.top_n]
                for u, row in zip(batch, top, strict=True):
                    hit = np.flatnonzero(row == train.item[off[u + 1] - 1])
                    if len(hit):
                        out.append((int(u), row, int(hit[0])))
        finally:
            ret.set_history(train)
        self.train_stats_ = {"llamarec_eligible_users": float(len(users)),
                             "llamarec_target_in_top": float(len(out))}
        if c.max_train_users is not None and len(out) > c.max_train_users:
            pick = np.sort(np.random.default_rng(c.sample_seed).choice(len(out), c.max_train_users, replace=False))
            out = [out[int(k)] for k in pick]
        return out

    def examples(self, train: Interactions) -> list[tuple[str, str, str]]:
        """(whole prompt, empty suffix, the target's letter choice) of each training target."""
        out = []
        for u, cands, pos in self.training_targets(train):
            seq = self.seqs_[u]
            out.append((self.prompt(seq[:-1], cands), "", self.choices(len(cands))[pos]))
        return out

    # ------------------------------------------------------------------ scoring
    def _score(self, users: np.ndarray) -> np.ndarray:
        scores = np.asarray(self.retriever_.score(users), dtype=np.float64)
        pickable = scores.copy()
        mask_rows(pickable, self.history_, users)  # never spend the LLM on seen items
        items = np.broadcast_to(np.arange(self.n_items_), scores.shape)
        return rerank_top(items, scores, pickable, self.config.top_n, lambda top: self.letter_scores(users, top))

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        scores = np.asarray(self.retriever_.score(users, items), dtype=np.float64)
        return rerank_top(items, scores, scores, self.config.top_n, lambda top: self.letter_scores(users, top))

    def letter_scores(self, users: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """P(letter) of each shown candidate (rows: users; columns: candidates in the order shown)."""
        out = np.empty(candidates.shape, np.float32)
        with self.track(len(users)):
            for r, u in enumerate(users):
                choices = self.choices(candidates.shape[1])
                lp = self.generator.next_token_logprobs(self.prompt(self.seqs_[int(u)], candidates[r]), [""],
                                                        choices)
                out[r] = choice_probabilities(lp)[0]
        return out

    def _rank_user(self, user: int, items: np.ndarray) -> np.ndarray:
        return self.letter_scores(np.array([user]), items[None, :])[0]

    # ------------------------------------------------------------------ generation
    def answer_embeds(self, user: int, candidates: np.ndarray) -> Any:
        """Input embeddings ``(1, T, d)`` of the user's prompt over ``candidates`` as the tuned model reads it
        (the ids the verbalizer and the training examples use, after a prompt-tuning soft prompt if any)."""
        import torch

        gen: Any = self.generator
        ids = gen.encode_prompt(self.prompt(self.seqs_[int(user)], candidates))
        return gen.input_embeds(torch.tensor([ids], device=gen.device))

    def shown_candidates(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The candidates the prompt shows among ``items`` (one row per user): the retriever's top
        ``top_n`` in its order, as :meth:`score` with these items shows them."""
        scores = np.asarray(self.retriever_.score(users, items), dtype=np.float64)
        return np.take_along_axis(items, top_columns(scores, self.config.top_n), axis=1)

    def generate_choice(self, user: int, candidates: np.ndarray) -> tuple[int | None, str]:
        """(the candidate the greedy answer names, or None when it names none; the raw generated text)
        of ``user`` shown ``candidates`` in this order (at most ``top_n``), decoding ``generate_tokens`` tokens."""
        import torch

        self.check_fitted()
        gen: Any = self.generator
        t0 = time.perf_counter()
        with torch.inference_mode():
            embeds = self.answer_embeds(user, candidates)
            new = greedy_new_tokens(gen, embeds, self.config.generate_tokens)
        text = str(gen.tokenizer.decode(new, skip_special_tokens=True))
        pick = parse_choice(text, self.labels(len(candidates)))
        for name, value in (("gen_users", 1), ("gen_prompt_tokens", embeds.shape[1]), ("gen_new_tokens", len(new)),
                            ("gen_valid", pick is not None), ("gen_seconds", time.perf_counter() - t0)):
            self.count(name, float(value))
        return (None if pick is None else int(candidates[pick])), text

    def generate_choices(self, users: np.ndarray, items: np.ndarray, targets: np.ndarray | None = None) -> Generated:
        """Greedy answers of ``users`` among their ``items`` (one row per user; the prompt shows
        :meth:`shown_candidates` of them), with validity and, given ``targets``, HR@1 by generation."""
        users = np.asarray(users, dtype=np.int64)
        shown = self.shown_candidates(users, np.asarray(items, dtype=np.int64))
        answers = [self.generate_choice(int(u), row) for u, row in zip(users, shown, strict=True)]
        chosen = np.array([-1 if a is None else a for a, _ in answers], dtype=np.int64)
        return Generated(users, shown, chosen, [t for _, t in answers],
                         None if targets is None else np.asarray(targets, dtype=np.int64))

    def generation_costs(self) -> dict[str, float]:
        """Users answered by generation, their validity, and prompt / new tokens and seconds per user."""
        stats = self.__dict__.get("stats_", {})
        n = stats.get("gen_users", 0.0)
        if not n:
            return {}
        return {"gen_users": n, "gen_validity": stats["gen_valid"] / n,
                "gen_tokens_per_user": (stats["gen_prompt_tokens"] + stats["gen_new_tokens"]) / n,
                "gen_new_tokens_per_user": stats["gen_new_tokens"] / n,
                "gen_seconds_per_user": stats["gen_seconds"] / n}

    # ------------------------------------------------------------------ persistence and costs
    def _get_state(self) -> dict[str, np.ndarray]:
        state = super()._get_state()
        state.update({_RETRIEVER + k: v for k, v in self.retriever_.state_dict().items()})
        stats = getattr(self, "train_stats_", {})
        state["train_stats"] = np.array([stats.get("llamarec_eligible_users", 0.0),
                                         stats.get("llamarec_target_in_top", 0.0)])
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        c = self.config
        blank = make_model(c.retriever, c.retriever_params)
        sub = {k[len(_RETRIEVER):]: v for k, v in state.items() if k.startswith(_RETRIEVER)}
        self.retriever_ = type(blank).from_state(blank.config, sub, n_users=self.n_users_, n_items=self.n_items_)
        if "train_stats" in state:
            eligible, hit = (float(x) for x in state["train_stats"])
            self.train_stats_ = {"llamarec_eligible_users": eligible, "llamarec_target_in_top": hit}
        super()._set_state({k: v for k, v in state.items() if not k.startswith(_RETRIEVER) and k != "train_stats"})

    def extra_metrics(self) -> dict[str, float]:
        """Training costs, how many training users had their target in the retriever's top N, and the
        generation costs."""
        return {**super().extra_metrics(), **getattr(self, "train_stats_", {}), **self.generation_costs()}
