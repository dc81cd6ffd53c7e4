"""P5-style multi-task instruction tuning over item identifiers (Geng et al., RecSys 2022; OpenP5): ``p5``.

Items become code sequences through any :mod:`item tokenizer <llm4rec.models.generative.tokenizers>`
fitted on the training log; each (level, code) becomes a new token of the LLM's vocabulary (``<a_3>``,
``<b_17>``, ...), so an item is written as a few atomic tokens. The ``hf`` causal generator (SmolLM2 by
default) is tuned by the shared trainer (:mod:`llm4rec.tuning.generator`) with the ``lora-tokens``
method: LoRA on ``lora.target_modules`` plus the new tokens' embeddings, on a seeded mix of tasks drawn
from the training sequences (templates ``prompts/templates/p5.toml``):

* ``sequential``: the user's recent identifiers -> the next item's identifier;
* ``direct``: the same history and ``candidates`` identifiers (the target among random unseen items,
  shuffled) -> the target's identifier (the "pick" form of direct recommendation);
* ``explanation``: the history and an item's identifier -> the item's catalog text (no reviews in
  MovieLens: the model learns to say what the identifier stands for).

A user's ranking is beam search of width ``beams`` after the ``sequential`` prompt, constrained by the
catalog trie (seen items closed, :func:`~llm4rec.models.generative.trie.beam_items`), scored by the
beams' log-probabilities; items outside the beam get one floor score. ``explain(user, item)`` writes the
explanation task's text. The adapter (LoRA + the new rows, a few MB) is cached by content, resumes
from the trainer's checkpoints and is saved inside the model's state with the tokenizer's codes.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from llm4rec.data.interactions import Interactions
from llm4rec.models.base import ModelConfig, ModelTags, Recommender
from llm4rec.models.generative.tokenizers import ItemTokenizer, fit_tokenizer, make_tokenizer
from llm4rec.models.generative.trie import ItemTrie, beam_items
from llm4rec.prompts.library import render, template
from llm4rec.registry import MODELS
from llm4rec.tuning.generator import TokenExample, TrainConfig, read_tuned
from llm4rec.tuning.generator.newtokens import LoraTokensMethod, load_with_tokens

FLOOR = -1e4  # score of items the beam did not write
Task = Literal["sequential", "direct", "explanation"]
TASKS: list[Task] = ["sequential", "direct", "explanation"]


class P5Config(ModelConfig):
    generator: dict[str, Any] = Field(default_factory=lambda: {"backend": "hf", "model": "smollm2-135m"},
                                      description="the hf (causal) backend block of the model to tune")
    tokenizer: str = Field("random", description="item tokenizer name (ITEM_TOKENIZERS)")
    tokenizer_params: dict[str, Any] = Field(default_factory=dict)
    encoder: dict[str, Any] | None = Field(None, description="text encoder for semantic / rqvae ids")
    template: str = Field("default", description="variant in prompts/templates/p5.toml")
    tasks: list[Task] = Field(default_factory=lambda: list(TASKS))
    train_examples: int = Field(512, ge=1, description="examples per task, drawn from the training sequences")
    sample_seed: int = Field(0, description="seed of the example draw and the direct task's candidates")
    history: int = Field(20, ge=1, description="most recent items in a prompt")
    candidates: int = Field(5, ge=2, description="items listed by the direct task (target included)")
    explain_tokens: int = Field(32, ge=1, description="answer tokens of the explanation task")
    beams: int = Field(20, ge=1, description="beam width = items written per user")
    lora: dict[str, Any] = Field(default_factory=lambda: {"r": 8, "alpha": 16, "dropout": 0.05},
                                 description="LoRA settings (r, alpha, dropout, target_modules)")
    train: TrainConfig = Field(default_factory=lambda: TrainConfig.model_validate({"epochs": 1, "max_length": 256}))
    runs_dir: str | None = Field(None, description="checkpoint folder (default <cache>/tuning-runs)")


@MODELS.register("p5")
class P5(Recommender):
    Config: ClassVar[type[P5Config]] = P5Config
    config: P5Config
    name: ClassVar[str] = "p5"
    adapter_dir_: Path  # the tuned adapter (trained by fit, restored by from_state)

    def tags(self) -> ModelTags:
        return replace(super().tags(), needs_text=True, uses_generator=True)

    # ------------------------------------------------------------------ identifiers
    def _base(self) -> Any:
        from llm4rec.models.llm.tuned import causal_hf

        return causal_hf(self.config.generator, self.name)

    def _set_tokenizer(self, tok: ItemTokenizer) -> None:
        """Identifier tokens ``<a_0>``.. per (level, code), added to a private copy of the text tokenizer."""
        base = self._base()
        self.tokenizer_ = tok
        codes = tok.fitted_codes()
        sizes = [int(s) for s in tok.codebook_sizes]
        names = [[f"<{chr(ord('a') + level)}_{c}>" for c in range(size)] for level, size in enumerate(sizes)]
        self.text_tokenizer_ = copy.deepcopy(base.tokenizer)
        self.text_tokenizer_.add_tokens([n for level in names for n in level])
        ids = [self.text_tokenizer_.convert_tokens_to_ids(level) for level in names]
        self.item_tokens_ = np.stack([np.asarray(ids[level])[codes[:, level]] for level in range(len(sizes))], 1)
        self.item_names_ = ["".join(names[level][c] for level, c in enumerate(row)) for row in codes]
        rows = int(base.model.get_input_embeddings().weight.shape[0])
        self.method_ = LoraTokensMethod(**self.config.lora, token_ids=[t for level in ids for t in level],
                                        vocab=max(rows, len(self.text_tokenizer_)))
        self.trie_ = ItemTrie(self.item_tokens_)

    # ------------------------------------------------------------------ prompts and examples
    def _fill(self, task: Task, seq: np.ndarray, **fields: str) -> str:
        history = ", ".join(self.item_names_[int(i)] for i in seq[-self.config.history:])
        return render(template("p5", self.config.template)[task], history=history, **fields)

    def _ids(self, prompt: str) -> list[int]:
        return list(self.text_tokenizer_(prompt).input_ids)

    def examples(self, train: Interactions) -> list[tuple[Task, str, list[int]]]:
        """(task, prompt, answer token ids): ``train_examples`` seeded positions (at least one earlier item) of the
        training sequences per task."""
        c = self.config
        seqs = train.sequences()
        texts = train.catalog.text() if train.catalog is not None else [""] * train.n_items
        where = [(u, t) for u, seq in enumerate(seqs) for t in range(1, len(seq))]
        eos = self.text_tokenizer_.eos_token_id
        out: list[tuple[Task, str, list[int]]] = []
        for k, task in enumerate(c.tasks):
            rng = np.random.default_rng([c.sample_seed, k])
            for p in np.sort(rng.choice(len(where), size=min(c.train_examples, len(where)), replace=False)):
                u, t = where[int(p)]
                seq, target = seqs[u][:t], int(seqs[u][t])
                answer = self.item_tokens_[target].tolist()
                if task == "sequential":
                    prompt = self._fill(task, seq)
                elif task == "direct":
                    pool = np.setdiff1d(np.arange(train.n_items), seqs[u][: t + 1])
                    cands = [target, *rng.choice(pool, size=min(c.candidates - 1, len(pool)), replace=False)]
                    prompt = self._fill(task, seq, candidates=", ".join(
                        self.item_names_[int(i)] for i in rng.permutation(cands)))
                else:
                    prompt = self._fill(task, seq, item=self.item_names_[target])
                    text = " " + texts[target][:400]
                    answer = [*self.text_tokenizer_(text, add_special_tokens=False).input_ids[:c.explain_tokens], eos]
                out.append((task, prompt, answer))
        return out

    # ------------------------------------------------------------------ fitting
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        from llm4rec.models.llm.tuned import fit_callbacks, train_adapter
        from llm4rec.tuning.generator.trainer import TrainResult

        c = self.config
        if train.catalog is None:
            raise ValueError("p5 needs the catalog (item text for the explanation task)")
        self._set_tokenizer(fit_tokenizer(c.tokenizer, {"seed": c.seed, **c.tokenizer_params}, train, c.encoder))
        examples = [TokenExample(self._ids(prompt), answer) for _, prompt, answer in self.examples(train)]
        if not examples:
            raise ValueError("p5: the training sequences yield no examples")
        result = TrainResult()
        self.adapter_dir_: Path = train_adapter(self.name, self._base(), self.method_, c.train, examples, result=result,
                                          callbacks=fit_callbacks(self, result), runs_dir=c.runs_dir,
                                          progress=bool(self.training_options.progress))
        self.__dict__.pop("lm_", None)
        self.gen_seconds_, self.gen_users_ = 0.0, 0

    @property
    def lm(self) -> Any:
        """The tuned model: a private copy of the base, grown by the identifier tokens, adapter merged."""
        if "lm_" not in self.__dict__:
            base = self._base()
            self.__dict__["lm_"] = load_with_tokens(copy.deepcopy(base.model), self.adapter_dir_, self.method_)
        return self.__dict__["lm_"]

    # ------------------------------------------------------------------ decoding
    def _on_history(self, history: Interactions) -> None:
        self.seqs_ = history.sequences()
        self.beam_cache_: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def generate(self, user: int, constrained: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Beam search after the sequential prompt: (items, log-probabilities), best first."""
        start = time.perf_counter()
        seq = self.seqs_[user]
        out = beam_items(self.lm, self._ids(self._fill("sequential", seq)), self.trie_, seq, self.config.beams,
                         constrained=constrained, pad_id=int(self.text_tokenizer_.pad_token_id))
        self.gen_seconds_ = getattr(self, "gen_seconds_", 0.0) + time.perf_counter() - start
        self.gen_users_ = getattr(self, "gen_users_", 0) + 1
        return out

    def _score(self, users: np.ndarray) -> np.ndarray:
        out = np.full((len(users), self.n_items_), FLOOR, dtype=np.float32)
        for r, u in enumerate(users):
            if int(u) not in self.beam_cache_:
                self.beam_cache_[int(u)] = self.generate(int(u))
            items, scores = self.beam_cache_[int(u)]
            out[r, items] = scores
        return out

    def explain(self, user: int, item: int) -> str:
        """The explanation task's text for ``item`` after ``user``'s history (greedy)."""
        import torch

        self.check_fitted()
        ids = torch.tensor([self._ids(self._fill("explanation", self.seqs_[int(user)],
                                                 item=self.item_names_[int(item)]))])
        with torch.no_grad():
            res = self.lm.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=self.config.explain_tokens,
                                   do_sample=False, pad_token_id=self.text_tokenizer_.eos_token_id)
        return str(self.text_tokenizer_.decode(res[0, ids.shape[1]:], skip_special_tokens=True)).strip()

    # ------------------------------------------------------------------ contract
    def costs(self) -> dict[str, float]:
        from llm4rec.models.llm.tuned import tuning_costs

        users = float(getattr(self, "gen_users_", 0))
        adapter = getattr(self, "adapter_dir_", None)
        return {"beams": float(self.config.beams), "tokens_per_item": float(self.item_tokens_.shape[1]),
                "new_tokens": float(len(self.method_.token_ids)), "generated_users": users,
                "seconds_per_user": float(getattr(self, "gen_seconds_", 0.0)) / max(users, 1.0),
                **(tuning_costs(adapter) if adapter is not None else {})}

    def _get_state(self) -> dict[str, np.ndarray]:
        from llm4rec.models.llm.tuned import adapter_state

        return {"tokenizer.codes": self.tokenizer_.fitted_codes(), **adapter_state(self.adapter_dir_)}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        from llm4rec.models.llm.tuned import restore_adapter

        tok = make_tokenizer(self.config.tokenizer, {"seed": self.config.seed, **self.config.tokenizer_params})
        self._set_tokenizer(type(tok).from_state(tok.config, {"codes": state["tokenizer.codes"]}))
        self.adapter_dir_ = restore_adapter(state)
        saved = read_tuned(self.adapter_dir_)["method"]
        if saved.get("token_ids") != self.method_.token_ids:
            raise ValueError("p5: the saved adapter's identifier tokens differ from this tokenizer's")
        self.__dict__.pop("lm_", None)
        self.gen_seconds_, self.gen_users_ = 0.0, 0
