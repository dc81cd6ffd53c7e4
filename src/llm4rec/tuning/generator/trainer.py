"""Supervised tuning of a causal LM on (prompt, answer) examples with transformers' ``Trainer`` + peft.

* the method (LoRA, prompt tuning, full fine-tuning) comes from a typed config (:mod:`.base`);
* loss on answer tokens only; gradient accumulation; seeded (sample order, dropout, init);
* checkpoints every ``save_steps`` optimiser steps hold the trainable weights, optimiser, scheduler,
  RNG states and the step; the run folder is named by a fingerprint of (base model, method,
  hyper-parameters, examples), so running the same job again after a crash (even ``kill -9``)
  resumes from the last complete checkpoint and sees exactly the samples not yet trained on;
* early stopping (:func:`early_stopping`): every ``every`` steps a validation score of the model in
  training (any ``module -> float``, e.g. a recommender scored by the shared evaluator through
  :func:`live_generator`); training stops after ``patience`` evaluations without improvement and
  the best weights are kept;
* progress lines with loss, tokens/s and ETA; the result is saved by :func:`tune_generator` as a
  small adapter (or a whole model for full fine-tuning) plus ``llm4rec_tuned.json`` naming the
  base model and its weights' identity. ``HFGenerator(model, adapter=folder)`` loads it back.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from llm4rec.artifacts import cache_dir
from llm4rec.config import Config
from llm4rec.tuning.generator.base import MethodConfig
from llm4rec.tuning.generator.data import AnswerCollator, EpochOrderDataset, TokenExample

if TYPE_CHECKING:
    from llm4rec.lm.hf import HFGenerator

log = logging.getLogger(__name__)

TUNED_FILE = "llm4rec_tuned.json"
FORMAT_VERSION = 1


class TrainConfig(Config):
    """Optimisation hyper-parameters of one tuning run (the method has its own config)."""

    epochs: int = Field(3, ge=1)
    lr: float = Field(3e-4, gt=0)
    batch_size: int = Field(4, ge=1, description="examples per forward pass")
    grad_accum: int = Field(4, ge=1, description="forward passes per optimiser step")
    max_length: int = Field(512, ge=8, description="prompt + answer tokens (prompts are cut on the left)")
    weight_decay: float = Field(0.0, ge=0)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    scheduler: Literal["linear", "constant", "cosine"] = "linear"
    save_steps: int = Field(10, ge=1, description="checkpoint every this many optimiser steps")
    keep_checkpoints: int = Field(2, ge=1)
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimiser steps")
    seed: int = 42


@dataclass
class TrainResult:
    """What a tuning run did and cost."""

    method: str = ""
    trainable_params: int = 0
    total_params: int = 0
    examples: int = 0
    steps: int = 0
    train_tokens: int = 0
    train_seconds: float = 0.0
    tokens_per_second: float = 0.0
    seconds_per_step: float = 0.0
    final_loss: float = float("nan")
    resumed_from_step: int = 0
    peak_rss_mb: float = 0.0
    saved_bytes: int = 0
    losses: list[float] = field(default_factory=list)
    #: (step, validation score) of each early-stopping evaluation; best_step is the one kept
    validation: list[list[float]] = field(default_factory=list)
    best_step: int = 0
    #: a step callback asked to stop before the schedule's end
    stopped_by_callback: bool = False

    def costs(self) -> dict[str, float]:
        """Scalar costs (for result tables)."""
        d = asdict(self)
        return {f"train_{k}" if not k.startswith("train") else k: float(v) for k, v in d.items()
                if isinstance(v, int | float) and not isinstance(v, bool)}


def fingerprint(base_identity: str, method: MethodConfig, train: TrainConfig,
                examples: Sequence[TokenExample]) -> str:
    """Digest of everything that determines the trained weights (names the run folder)."""
    h = hashlib.sha256()
    h.update(json.dumps([base_identity, method.model_dump(mode="json"), train.model_dump(mode="json")],
                        sort_keys=True).encode())
    for e in examples:
        h.update(json.dumps([e.prompt, e.answer]).encode())
    return h.hexdigest()


def last_checkpoint(run_dir: Path) -> Path | None:
    """The newest *complete* checkpoint (its trainer state, written last, parses), or None."""
    found = []
    for p in run_dir.glob("checkpoint-*"):
        try:
            state = json.loads((p / "trainer_state.json").read_text())
            found.append((int(state["global_step"]), p))
        except (OSError, ValueError, KeyError):
            continue  # killed while writing: ignore it
    return max(found)[1] if found else None


def _progress_callback(result: TrainResult, every: int) -> Any:
    """A ``TrainerCallback`` that logs loss, tokens/s and ETA and keeps the loss history in ``result``."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        t0, tok0, step0 = 0.0, 0, 0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t0, self.tok0, self.step0 = time.perf_counter(), state.num_input_tokens_seen, state.global_step
            result.resumed_from_step = state.global_step

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
                   **kw: Any) -> None:
            if not logs or "loss" not in logs:
                return
            result.losses.append(float(logs["loss"]))
            dt = time.perf_counter() - self.t0
            tps = (state.num_input_tokens_seen - self.tok0) / max(dt, 1e-9)
            eta = dt / max(state.global_step - self.step0, 1) * (state.max_steps - state.global_step)
            if state.global_step % every == 0 or state.global_step == state.max_steps:
                log.info("step %d/%d  loss %.4f  %.0f tokens/s  ETA %.0fs", state.global_step, state.max_steps,
                         logs["loss"], tps, eta)

    return ProgressCallback()


def early_stopping(evaluate: Callable[[Any], float], every: int, patience: int, result: TrainResult) -> Any:
    """A ``TrainerCallback``: ``evaluate(module)`` (higher is better) every ``every`` optimiser steps and at the
    end; stop after ``patience`` evaluations without improvement; the best trainable weights are restored
    into the module when training ends (so they are what gets saved)."""
    from transformers import TrainerCallback

    class EarlyStopping(TrainerCallback):
        best, stale, weights = -math.inf, 0, None

        def _evaluate(self, state: Any, module: Any) -> float:
            module.eval()
            try:
                score = float(evaluate(module))
            finally:
                module.train()
            result.validation.append([state.global_step, score])
            log.info("step %d  validation %.4f", state.global_step, score)
            if score > self.best:
                self.best, self.stale, result.best_step = score, 0, state.global_step
                self.weights = {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}
            else:
                self.stale += 1
            return score

        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            if state.global_step % every == 0 or state.global_step == state.max_steps:
                self._evaluate(state, model)
                if self.stale >= patience:
                    log.info("early stop at step %d (best %.4f at step %d)", state.global_step, self.best,
                             result.best_step)
                    control.should_training_stop = True

        def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            if self.weights is not None:
                params = dict(model.named_parameters())
                for n, w in self.weights.items():
                    params[n].data.copy_(w)

    return EarlyStopping()


def step_callback(call: Callable[[dict[str, Any]], bool], result: TrainResult) -> Any:
    """A ``TrainerCallback`` that calls ``call({"epoch": step, "step": step, "loss": ..., "seconds": ...})``
    after every optimiser step (its training log); ``True`` stops training (``result.stopped_by_callback``).
    An exception raised by ``call`` ends the run; the checkpoints already written stay, so the next run of
    the same job resumes from the last one."""
    from transformers import TrainerCallback

    class StepCallback(TrainerCallback):
        t0 = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t0 = time.perf_counter()

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
                   **kw: Any) -> None:
            if not logs or "loss" not in logs:
                return
            entry = {"epoch": state.global_step, "step": state.global_step, "loss": float(logs["loss"]),
                     "seconds": time.perf_counter() - self.t0}
            if call(entry):
                result.stopped_by_callback = True
                control.should_training_stop = True

    return StepCallback()


def live_generator(base: HFGenerator, trained: Any, method: MethodConfig) -> HFGenerator:
    """A copy of ``base`` that runs ``trained`` (the module in training), uncached: for validation."""
    view = copy.copy(base)
    view.set_cache("off")
    view._model_id = f"{base.model_id}+live"
    method.view(view, trained)
    return view


def train(model: Any, tokenizer: Any, examples: Sequence[TokenExample], method: MethodConfig,
          config: TrainConfig, run_dir: str | Path, *, device: str = "cpu", progress: bool = False,
          resume: bool = True, log_every: int = 1, callbacks: Sequence[Any] = ()) -> tuple[Any, TrainResult]:
    """Train ``method`` on a private copy of ``model``; returns (trained module, result).

    ``run_dir`` holds the checkpoints; with ``resume`` the newest complete one is continued.
    ``callbacks`` are extra ``transformers.TrainerCallback`` objects (early stopping, logging).
    """
    import torch
    from transformers import PrinterCallback, Trainer, TrainingArguments, set_seed

    if not examples:
        raise ValueError("no training examples")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    set_seed(config.seed)
    work = method.prepare(copy.deepcopy(model).float().train())
    result = TrainResult(method=method.method, examples=len(examples))
    result.trainable_params = sum(p.numel() for p in work.parameters() if p.requires_grad)
    result.total_params = sum(p.numel() for p in work.parameters())
    data = EpochOrderDataset(examples, config.epochs, config.seed, config.max_length)
    steps = math.ceil(len(data) / (config.batch_size * config.grad_accum))
    args = TrainingArguments(
        output_dir=str(run_dir), per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.lr, weight_decay=config.weight_decay,
        warmup_steps=int(config.warmup_ratio * steps), lr_scheduler_type=config.scheduler,
        num_train_epochs=1, max_steps=min(steps, config.max_steps or steps), seed=config.seed,
        data_seed=config.seed, train_sampling_strategy="sequential", save_strategy="steps",
        save_steps=config.save_steps, save_total_limit=config.keep_checkpoints, logging_steps=1,
        report_to="none", disable_tqdm=not progress, dataloader_num_workers=0, remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding", use_cpu=device == "cpu", save_only_model=False)
    trainer = Trainer(model=work, args=args, train_dataset=data, data_collator=AnswerCollator(_pad_id(tokenizer)),
                      callbacks=[_progress_callback(result, log_every), *callbacks])
    trainer.remove_callback(PrinterCallback)  # our progress lines replace its raw dicts
    ckpt = last_checkpoint(run_dir) if resume else None
    if ckpt is not None:
        log.info("resuming %s from %s", run_dir.name, ckpt.name)
    t0 = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    result.train_seconds = time.perf_counter() - t0
    result.steps = int(trainer.state.global_step)
    result.train_tokens = int(trainer.state.num_input_tokens_seen)
    done = result.steps - result.resumed_from_step
    result.tokens_per_second = float(out.metrics.get("train_tokens_per_second") or 0.0) or (
        result.train_tokens / max(result.train_seconds, 1e-9))
    result.seconds_per_step = result.train_seconds / max(done, 1)
    result.final_loss = result.losses[-1] if result.losses else float("nan")
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device != "cpu" and torch.cuda.is_available():
        result.peak_rss_mb = max(result.peak_rss_mb, torch.cuda.max_memory_allocated() / 2**20)
    work.eval()
    return work, result


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return int(pad)


def runs_root() -> Path:
    """Default parent of tuning run folders (checkpoints): ``cache_dir()/tuning-runs``."""
    return cache_dir() / "tuning-runs"


def tune_generator(base: HFGenerator, examples: Sequence[TokenExample], method: MethodConfig,
                   config: TrainConfig, out_dir: str | Path, *, runs_dir: str | Path | None = None,
                   device: str | None = None, progress: bool = False, resume: bool = True,
                   callbacks: Sequence[Any] = ()) -> TrainResult:
    """Tune ``base`` (an ``hf`` generator) and save the result in ``out_dir`` (loadable as its ``adapter``).

    Checkpoints live in ``runs_dir/<fingerprint>`` and are removed once the result is saved.
    """
    if base.kind != "causal":
        raise ValueError("generator tuning supports causal (decoder-only) models")
    method = method.model_copy(update={"tokenizer_path": str(base.folder)}) if hasattr(method, "tokenizer_path") \
        else method
    fp = fingerprint(base.model_id, method, config, examples)
    run_dir = Path(runs_dir or runs_root()) / fp[:20]
    work, result = train(base.model, base.tokenizer, examples, method, config, run_dir,
                         device=device or base.device, progress=progress, resume=resume, callbacks=callbacks)
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    method.save_trained(work, tmp)
    if not method.is_adapter:
        base.tokenizer.save_pretrained(tmp)
    result.saved_bytes = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    meta = {"format": FORMAT_VERSION, "method": method.model_dump(mode="json", exclude={"tokenizer_path"}),
            "base": {"model": base.model_name, "identity": base.model_id, "gguf_file": base.gguf_file},
            "fingerprint": fp, "result": asdict(result)}
    (tmp / TUNED_FILE).write_text(json.dumps(meta, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


def read_tuned(folder: str | Path) -> dict[str, Any]:
    """The ``llm4rec_tuned.json`` of a saved tuning result (data only; format checked)."""
    meta = json.loads((Path(folder) / TUNED_FILE).read_text())
    if int(meta.get("format", 0)) > FORMAT_VERSION:
        raise ValueError(f"{folder} was written by a newer llm4rec (format {meta['format']})")
    return meta
