"""Shared machinery of the *tuned* LLM recommenders (TALLRec, the tuned ranker over a retriever).

A tuned recommender builds supervised (prompt, answer) examples from the training interactions,
tunes its ``hf`` generator with :func:`llm4rec.tuning.generator.tune_generator` (LoRA, prompt tuning
or full fine-tuning, from ``method``) and then scores with the tuned generator through the
verbalizer primitive ``Generator.next_token_logprobs`` (no free text, always valid).

* the trained adapter lives in a content-addressed cache folder (``<cache>/tuned/<key>``): fitting
  the same examples with the same settings again reuses it (a finished run is never retrained;
  an interrupted one resumes from its last checkpoint);
* ``save`` stores the adapter files as byte arrays inside the model's ``state.npz`` (data only),
  ``load`` writes them back to the cache and points the generator at them;
* ``adapter = "folder"`` skips training and uses an adapter tuned elsewhere;
* resumable: the trainer checkpoints the trainable weights, optimiser, scheduler, RNG and step every
  ``train.save_steps`` steps into ``<runs_dir>/<fingerprint>``; a fit that dies (``kill -9``, an exception
  from a callback) is continued from its last checkpoint by the next fit of the same config and examples;
* the fit's callbacks (``TrainingOptions.callbacks``) run after every optimiser step with
  ``{"epoch": step, "step", "loss", "seconds"}``; one returning ``True`` stops training (that adapter
  is kept apart from the reusable cache slot, ``<key>-stopped-<step>``);
* ``early_stopping`` validates the model in training every ``eval_steps`` steps with the fit options'
  validator: ``llm4rec run`` builds it with the shared evaluator from :meth:`TunedRanker.validation_request`
  (the subclass's metric on at most ``val_users`` users), and keeps the best weights;
* costs: ``lm_usage`` adds trainable parameters, training seconds / tokens / steps and adapter
  bytes to the inference tokens and seconds per user.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from llm4rec.artifacts import cache_dir
from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.lm.base import Generator
from llm4rec.models.llm.backends import get_generator
from llm4rec.models.llm.base import LLMRanker, LLMRankerConfig
from llm4rec.models.training import Validator
from llm4rec.tuning.generator import (
    MethodConfig,
    TokenExample,
    TrainConfig,
    method_config,
    read_tuned,
    tune_generator,
)
from llm4rec.tuning.generator.trainer import (
    TUNED_FILE,
    TrainResult,
    early_stopping,
    fingerprint,
    live_generator,
    step_callback,
)

log = logging.getLogger(__name__)
_ADAPTER = "adapter."  # state key prefix of the adapter's files


class TunedRankerConfig(LLMRankerConfig):
    """Backend (an ``hf`` model to tune), tuning method and optimisation settings."""

    generator: dict[str, Any] = Field(default_factory=lambda: {"backend": "hf", "model": "smollm2-135m"},
                                      description="the hf backend block of the base model")
    method: dict[str, Any] = Field(default_factory=lambda: {"method": "lora"},
                                   description="tuning method: {method='lora'|'prompt'|'full', ...}")
    train: TrainConfig = Field(default_factory=TrainConfig)
    adapter: str | None = Field(None, description="an already tuned adapter folder: no training")
    early_stopping: bool = Field(False, description="validate every eval_steps steps, keep the best")
    eval_steps: int = Field(10, ge=1)
    patience: int = Field(2, ge=1)
    val_users: int = Field(100, ge=1, description="users of the validation part scored per evaluation")
    runs_dir: str | None = Field(None, description="checkpoint folder (default <cache>/tuning-runs)")

    @field_validator("method")
    @classmethod
    def _check_method(cls, v: dict[str, Any]) -> dict[str, Any]:
        method_config(v)
        return v


class TunedRanker(LLMRanker):
    """Base of the tuned recommenders: subclasses build :meth:`examples` and score through :meth:`generator`."""

    Config: ClassVar[type[TunedRankerConfig]] = TunedRankerConfig
    config: TunedRankerConfig

    # ------------------------------------------------------------------ what subclasses provide
    def examples(self, train: Interactions) -> list[tuple[str, str, str]]:
        """Training examples as (prompt prefix, prompt suffix, answer choice)."""
        raise NotImplementedError

    def validation_request(self) -> dict[str, float | int | str]:
        """What ``llm4rec run`` validates this model on (see ``llm4rec.eval.fit_options``)."""
        return {"metric": "ndcg", "k": 10, "max_users": self.config.val_users}

    def _prepare(self, train: Interactions, valid: Interactions | None) -> None:
        """Hook before the examples are built (e.g. fit a retriever)."""

    def tuning_method(self, base: Any) -> MethodConfig:
        """The tuning method's config (default: ``config.method``)."""
        return method_config(self.config.method)

    def token_examples(self, base: Any, train: Interactions) -> list[TokenExample]:
        """Token ids of the training examples (default: :meth:`examples`, tokenized as the generator reads
        prompts, the answer's first token as the target)."""
        return [TokenExample(base.encode_prompt(pre, suf), [base.choice_ids([ans])[0]])
                for pre, suf, ans in self.examples(train)]

    def tuning_callbacks(self) -> list[Any]:
        """Extra ``TrainerCallback`` objects of the tuning run (default: none)."""
        return []

    # ------------------------------------------------------------------ fitting
    @property
    def base_generator(self) -> Generator:
        return causal_hf(self.config.generator, self.name)

    @property
    def generator(self) -> Generator:
        live = self.__dict__.get("live_")
        if live is not None:
            return live
        adapter = self.__dict__.get("adapter_dir_")
        spec = self.config.generator if adapter is None else {**self.config.generator, "adapter": str(adapter)}
        return get_generator(spec)

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        super()._fit(train, valid)
        c = self.config
        self._use_history(train)  # histories of the training examples
        self._prepare(train, valid)
        if c.adapter is not None:
            self.adapter_dir_ = Path(c.adapter).expanduser()
            read_tuned(self.adapter_dir_)
            return
        base: Any = self.base_generator
        method = self.tuning_method(base)
        examples = self.token_examples(base, train)
        if not examples:
            raise ValueError(f"{self.name}: the training data yields no examples")
        callbacks = list(self.tuning_callbacks())
        validate = self.training_options.validator
        stopping = c.early_stopping and validate is not None
        if c.early_stopping and validate is None:
            log.warning("%s: early_stopping needs a validator in the fit options (llm4rec.eval.fit_options); "
                        "training the full schedule", self.name)
        result = TrainResult()
        if stopping:
            assert validate is not None
            callbacks.append(early_stopping(lambda module: self._live_score(validate, base, module, method),
                                            c.eval_steps, c.patience, result))
        callbacks += fit_callbacks(self, result)
        self.adapter_dir_ = train_adapter(self.name, base, method, c.train, examples, result=result,
                                          callbacks=callbacks, runs_dir=c.runs_dir, progress=c.progress,
                                          key_extra=f"|{c.eval_steps}|{c.patience}|{c.val_users}" if stopping
                                          else "")

    def _live_score(self, validate: Validator, base: Any, module: Any, method: Any) -> float:
        self.__dict__["live_"] = live_generator(base, module, method)
        try:
            return float(validate(self))
        finally:
            self.__dict__.pop("live_", None)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> dict[str, np.ndarray]:
        state = super()._get_state()
        state.update(adapter_state(self.adapter_dir_))
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        super()._set_state(without_adapter(state))
        self.adapter_dir_ = restore_adapter(state)

    # ------------------------------------------------------------------ costs
    def training_costs(self) -> dict[str, float]:
        """Trainable parameters, training seconds / tokens / steps and adapter bytes of the tuned model."""
        return tuning_costs(self.adapter_dir_)

    def extra_metrics(self) -> dict[str, float]:
        return {**super().extra_metrics(), **self.training_costs()}


def choice_probabilities(logprobs: np.ndarray) -> np.ndarray:
    """Row-wise softmax of log-probs restricted to the answer choices (the verbalizer's distribution)."""
    z = logprobs - logprobs.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


_CHOICE_RE = re.compile(r"\s*\(?([A-Za-z])(?![A-Za-z0-9])")


def parse_choice(text: str, labels: Sequence[str]) -> int | None:
    """The position in ``labels`` of the candidate a generated answer names, or None (an invalid answer).

    The rule: after leading whitespace the answer starts with a label letter, optionally inside an
    opening parenthesis, and the letter is not followed by another letter or digit (``"B"``, ``" B"``,
    ``"(B)"``, ``"B)"``, ``"B. Title"``, ``" (B) Title"``). The letter must be one of the shown ``labels``,
    case included; anything else (empty text, ``"Because"``, ``"The answer is B"``, a label beyond the
    shown candidates, a lower-case letter) is invalid.
    """
    m = _CHOICE_RE.match(text)
    if m is None or m.group(1) not in labels:
        return None
    return list(labels).index(m.group(1))


def greedy_new_tokens(generator: Any, embeds: Any, max_new_tokens: int) -> list[int]:
    """Greedy, unconstrained continuation (``model.generate``) of one prompt given as input embeddings
    ``(1, T, d)`` by a causal ``hf`` generator: the new token ids, cut before the first end-of-sequence
    (or padding) token."""
    import torch

    tok = generator.tokenizer
    mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
    with torch.inference_mode():
        out = generator.model.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new_tokens,
                                       do_sample=False, num_beams=1, temperature=None, top_p=None, top_k=None,
                                       pad_token_id=tok.pad_token_id)
    new = [int(t) for t in out[0].tolist()]  # given embeddings only, generate returns the new tokens only
    ends = [i for i, t in enumerate(new) if t in (tok.eos_token_id, tok.pad_token_id)]
    return new[:ends[0]] if ends else new


def quoted(texts: Sequence[str], empty: str) -> str:
    """``"A", "B"`` (TALLRec's list style), or ``empty`` for no items."""
    return ", ".join(f'"{t}"' for t in texts) if texts else empty


# ---------------------------------------------------------------------- shared by every tuned recommender
def causal_hf(spec: dict[str, Any], who: str) -> Any:
    """The (shared) generator of ``spec``, which must be a causal ``hf`` model (the trainer tunes those)."""
    g = get_generator(spec)
    if getattr(g, "backend", None) != "hf" or getattr(g, "kind", None) != "causal":
        raise ConfigError(f"{who} tunes a causal 'hf' generator; got backend {getattr(g, 'backend', None)!r}")
    return g


def fit_callbacks(model: Any, result: TrainResult) -> list[Any]:
    """The running fit's callbacks (``model.training_options``) as a trainer callback after every optimiser step
    (none without them)."""
    options = model.training_options
    if not options.callbacks:
        return []
    return [step_callback(lambda entry: options.on_epoch_end(model, entry), result)]


def train_adapter(name: str, base: Any, method: MethodConfig, train: TrainConfig, examples: Sequence[TokenExample],
                  *, result: TrainResult | None = None, callbacks: Sequence[Any] = (), runs_dir: str | None = None,
                  progress: bool = False, key_extra: str = "") -> Path:
    """Tune ``base`` on ``examples`` into the content-addressed cache slot ``<cache>/tuned/<key>`` and return it.

    A finished slot is reused (never retrained); an interrupted run resumes from its checkpoints in
    ``runs_dir``; ``key_extra`` enters the key (settings outside the examples, e.g. early stopping). A run
    stopped by a callback is moved to ``<key>-stopped-<step>``, out of the reusable slot.
    """
    result = result if result is not None else TrainResult()
    key = fingerprint(base.model_id, method, train, examples)
    if key_extra:
        key = hashlib.sha256(f"{key}{key_extra}".encode()).hexdigest()
    out = cache_dir() / "tuned" / key[:24]
    if (out / TUNED_FILE).is_file():
        log.info("%s: reusing the tuned adapter %s", name, out)
        return out
    tuned = tune_generator(base, examples, method, train, out, runs_dir=runs_dir, progress=progress,
                           callbacks=callbacks)
    meta = json.loads((out / TUNED_FILE).read_text())
    meta["result"].update(validation=result.validation, best_step=result.best_step,
                          stopped_by_callback=result.stopped_by_callback)
    (out / TUNED_FILE).write_text(json.dumps(meta, indent=1))
    if result.stopped_by_callback:  # not the configured schedule: kept out of the reusable cache slot
        cut = out.with_name(f"{out.name}-stopped-{tuned.steps}")
        shutil.rmtree(cut, ignore_errors=True)
        out = out.replace(cut)
    return out


def adapter_state(folder: Path) -> dict[str, np.ndarray]:
    """The files of a tuned adapter folder as byte arrays (``adapter.<relative path>``), for a model's state."""
    return {_ADAPTER + p.relative_to(folder).as_posix(): np.frombuffer(p.read_bytes(), np.uint8)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def restore_adapter(state: dict[str, np.ndarray]) -> Path:
    """Write the adapter files of a saved state back into the cache (``<cache>/tuned/loaded-<digest>``)."""
    files = {k[len(_ADAPTER):]: v for k, v in state.items() if k.startswith(_ADAPTER)}
    if TUNED_FILE not in files:
        raise ValueError(f"no tuned adapter in the saved state ({TUNED_FILE} missing)")
    h = hashlib.sha256()
    for name in sorted(files):
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"adapter file name {name!r} leaves its folder")
        h.update(name.encode() + b"\0" + files[name].tobytes())
    out = cache_dir() / "tuned" / f"loaded-{h.hexdigest()[:24]}"
    if not (out / TUNED_FILE).is_file():
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data.tobytes())
        shutil.rmtree(out, ignore_errors=True)
        tmp.replace(out)
    return out


def without_adapter(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``state`` less the adapter's files."""
    return {k: v for k, v in state.items() if not k.startswith(_ADAPTER)}


def tuning_costs(folder: Path) -> dict[str, float]:
    """Trainable parameters, training seconds / tokens / steps and adapter bytes of a tuned adapter folder."""
    res = read_tuned(folder).get("result", {})
    keys = ("trainable_params", "total_params", "examples", "steps", "train_tokens", "train_seconds",
            "seconds_per_step", "tokens_per_second", "saved_bytes", "best_step", "peak_rss_mb", "resumed_from_step")
    return {f"tune_{k}": float(res.get(k, 0) or 0) for k in keys}
