"""BIGRec-style grounding (Bao et al., 2023): a generator writes the next item's title, and the text is
grounded to catalog items by cosine similarity in a text-embedding space, optionally re-weighted by
popularity: ``score = cos(title, item) + weight * log1p(count) / log1p(max count)``. The weight is
chosen on validation users by the metric being reported (``select_by``), not by another metric.

With ``tune = false`` the generator is used as configured (zero-shot, any backend). With ``tune = true``
(BIGRec's instruction-tuning step) the ``hf`` causal generator is tuned by the shared trainer
(:func:`llm4rec.tuning.generator.tune_generator`, LoRA by default) to write the target title after the
same prompt, on ``train_examples`` (user, position) pairs of the training sequences drawn with
``sample_seed``: "a user watched these titles, in order ... the next title is" -> `` <title>`` + end of
text. The adapter lives in the content-addressed cache (a finished run is reused, an interrupted one
resumes from its checkpoints), is saved inside the model's state and reloaded by ``load``; the
fit's callbacks run after every optimiser step. Generation, grounding and the validation-chosen
popularity weight are the same either way.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.lm.base import Generator
from llm4rec.models.base import ModelConfig, ModelTags, Recommender
from llm4rec.models.llm.backends import get_generator
from llm4rec.registry import MODELS
from llm4rec.tuning.generator import TokenExample, TrainConfig, method_config

PROMPT = ("A user watched these movies, in order:\n{history}\n"
          "The title of the next movie the user will watch is:")


class BIGRecConfig(ModelConfig):
    generator: dict[str, Any] = Field(default_factory=lambda: {"backend": "llama-cpp"})
    encoder: dict[str, Any] | None = Field(None, description="grounding space (default all-MiniLM-L6-v2)")
    history: int = Field(10, ge=1, description="last items shown in the prompt")
    max_tokens: int = Field(24, ge=1)
    pop_weights: list[float] = Field(default_factory=lambda: [0.0, 0.05, 0.1, 0.2])
    select_by: Literal["ndcg@10", "hr@10"] = Field("ndcg@10", description="the reported metric; picks the weight")
    valid_users: int = Field(100, ge=1, description="seeded validation users for the weight")
    tune: bool = Field(False, description="tune the (hf, causal) generator to write the next title first")
    method: dict[str, Any] = Field(default_factory=lambda: {"method": "lora"},
                                   description="tuning method: {method='lora'|'prompt'|'full', ...}")
    train: TrainConfig = Field(default_factory=lambda: TrainConfig.model_validate({"epochs": 1, "max_length": 256}))
    train_examples: int = Field(1024, ge=1, description="(user, position) examples drawn from training sequences")
    sample_seed: int = Field(0, description="seed of the example draw")
    runs_dir: str | None = Field(None, description="checkpoint folder (default <cache>/tuning-runs)")


@MODELS.register("bigrec")
class BIGRec(Recommender):
    Config: ClassVar[type[BIGRecConfig]] = BIGRecConfig
    config: BIGRecConfig
    name: ClassVar[str] = "bigrec"

    def tags(self) -> ModelTags:
        return replace(super().tags(), needs_text=True, uses_generator=True)

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        from llm4rec.lm.config import shared_encoder

        if train.catalog is None:
            raise ValueError("bigrec needs the catalog's item titles")
        self.titles_ = [train.catalog.title(i) for i in range(train.n_items)]
        self.item_vecs_ = np.asarray(shared_encoder(self.config.encoder).encode(self.titles_), np.float32)
        counts = np.bincount(train.item, minlength=train.n_items).astype(np.float32)
        self.pop_ = np.log1p(counts) / max(np.log1p(counts.max()), 1e-9)
        self.gen_seconds_, self.gen_users_ = 0.0, 0
        self.weight_ = self.config.pop_weights[0]
        self._use_history(train)
        self.adapter_dir_: Path | None = None
        if self.config.tune:
            self._tune(train)
        if valid is not None and len(valid) and len(self.config.pop_weights) > 1:
            self.weight_ = self._select_weight(train, valid)

    # ------------------------------------------------------------------ tuning
    def examples(self) -> list[tuple[str, str]]:
        """(prompt, answer) pairs: ``train_examples`` positions (at least one earlier item) of the training
        sequences drawn with ``sample_seed``; the answer is the target's title after a space."""
        where = [(u, t) for u, seq in enumerate(self.seqs_) for t in range(1, len(seq))]
        rng = np.random.default_rng(self.config.sample_seed)
        pick = np.sort(rng.choice(len(where), size=min(self.config.train_examples, len(where)), replace=False))
        out = []
        for k in pick:
            u, t = where[int(k)]
            seq = self.seqs_[u]
            out.append((self.prompt_of(seq[:t]), " " + self.titles_[int(seq[t])]))
        return out

    def _tune(self, train: Interactions) -> None:
        from llm4rec.models.llm.tuned import causal_hf, fit_callbacks, train_adapter
        from llm4rec.tuning.generator.trainer import TrainResult

        c = self.config
        base = causal_hf(c.generator, "bigrec tune = true")
        eos = base.tokenizer.eos_token_id
        examples = [TokenExample(base.encode_prompt(prompt),
                                 [*base.tokenizer(answer, add_special_tokens=False).input_ids, eos])
                    for prompt, answer in self.examples()]
        if not examples:
            raise ValueError("bigrec: the training sequences yield no tuning examples")
        result = TrainResult()
        self.adapter_dir_ = train_adapter(self.name, base, method_config(c.method), c.train, examples, result=result,
                                          callbacks=fit_callbacks(self, result), runs_dir=c.runs_dir,
                                          progress=bool(self.training_options.progress))

    @property
    def generator(self) -> Generator:
        """The configured generator, with the tuned adapter when there is one."""
        adapter = getattr(self, "adapter_dir_", None)
        return get_generator(self.config.generator if adapter is None
                             else {**self.config.generator, "adapter": str(adapter)})

    def training_costs(self) -> dict[str, float]:
        from llm4rec.models.llm.tuned import tuning_costs

        adapter = getattr(self, "adapter_dir_", None)
        return {} if adapter is None else tuning_costs(adapter)

    # ------------------------------------------------------------------ grounding
    def _select_weight(self, train: Interactions, valid: Interactions) -> float:
        rng = np.random.default_rng(self.config.seed)
        rows = rng.permutation(len(valid))[: self.config.valid_users]
        users, targets = valid.user[rows], valid.item[rows]
        sims = self._similarity(users)
        seen = train.to_csr()
        best, best_w = -1.0, self.config.pop_weights[0]
        for w in self.config.pop_weights:
            s = sims + w * self.pop_[None, :]
            for r, u in enumerate(users):
                s[r, seen[u].indices] = -np.inf
            rank = (s > s[np.arange(len(users)), targets][:, None]).sum(1)
            hit = rank < 10
            value = float(hit.mean() if self.config.select_by == "hr@10"
                          else (hit / np.log2(rank + 2)).mean())
            if value > best:
                best, best_w = value, w
        return best_w

    def _on_history(self, history: Interactions) -> None:
        self.seqs_ = history.sequences()
        self.text_cache_: dict[int, np.ndarray] = {}

    def prompt(self, user: int) -> str:
        return self.prompt_of(self.seqs_[user])

    def prompt_of(self, items: np.ndarray) -> str:
        """The prompt after the history ``items`` (its last ``history`` items)."""
        items = items[-self.config.history:]
        return PROMPT.format(history="\n".join(f"- {self.titles_[int(i)]}" for i in items))

    def _similarity(self, users: np.ndarray) -> np.ndarray:
        from llm4rec.lm.config import shared_encoder

        todo = [int(u) for u in users if int(u) not in self.text_cache_]
        if todo:
            start = time.perf_counter()
            texts = self.generator.generate([self.prompt(u) for u in todo], max_tokens=self.config.max_tokens,
                                            stop=["\n"])
            texts = [t.strip().splitlines()[0] if t.strip() else "" for t in texts]
            vecs = np.asarray(shared_encoder(self.config.encoder).encode(texts), np.float32)
            self.gen_seconds_ += time.perf_counter() - start
            self.gen_users_ += len(todo)
            self.text_cache_.update(zip(todo, vecs, strict=True))
        if not len(users):
            return np.zeros((0, len(self.item_vecs_)), np.float32)
        q = np.stack([self.text_cache_[int(u)] for u in users])
        return (q @ self.item_vecs_.T).astype(np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return (self._similarity(users) + self.weight_ * self.pop_[None, :]).astype(np.float32)

    def costs(self) -> dict[str, float]:
        users = float(getattr(self, "gen_users_", 0))
        return {"generated_users": users, "max_tokens": float(self.config.max_tokens),
                "pop_weight": float(getattr(self, "weight_", 0.0)),
                "seconds_per_user": float(getattr(self, "gen_seconds_", 0.0)) / max(users, 1.0),
                **self.training_costs()}

    def _get_state(self) -> dict[str, np.ndarray]:
        from llm4rec.models.llm.tuned import adapter_state

        adapter = getattr(self, "adapter_dir_", None)
        return {"item_vecs": self.item_vecs_, "pop": self.pop_, "weight": np.array([self.weight_]),
                "titles": np.array(self.titles_, dtype=object).astype(str),
                **(adapter_state(adapter) if adapter is not None else {})}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        from llm4rec.models.llm.tuned import restore_adapter

        self.adapter_dir_ = restore_adapter(state) if self.config.tune else None
        self.item_vecs_, self.pop_ = np.asarray(state["item_vecs"]), np.asarray(state["pop"])
        self.weight_ = float(state["weight"][0])
        self.titles_ = [str(t) for t in state["titles"]]
        self.gen_seconds_, self.gen_users_ = 0.0, 0
