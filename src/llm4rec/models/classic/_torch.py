"""Shared PyTorch machinery for the neural classic models (BPR-MF, SASRec, BERT4Rec, GRU4Rec).

:class:`TorchRecommender` owns everything that is not model-specific: seeding,
the Adam training loop with a per-epoch progress bar, early stopping on the
validator's score (``fit(..., options=TrainingOptions(validator=...))``; ``llm4rec
run`` passes NDCG@10 on the validation split by the full-ranking protocol) with the
best weights kept, per-epoch callbacks, batched no-grad scoring and ``state_dict`` <-> numpy
conversion for :meth:`Recommender.save` / :meth:`Recommender.load`.

A subclass provides ``_build_net`` (the ``nn.Module``, rebuilt from config and
``n_items_`` on load), ``_prepare`` (training data, once per fit),
``_batches`` (one epoch of mini-batches), ``_loss`` and ``_forward_scores``.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from abc import abstractmethod
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field
from torch import nn
from tqdm.auto import tqdm

from llm4rec.data.interactions import Interactions
from llm4rec.models.base import ModelConfig, Recommender
from llm4rec.models.training import Validator

Batch = tuple[torch.Tensor, ...]
log = logging.getLogger(__name__)


class TorchConfig(ModelConfig):
    """Training-loop hyper-parameters shared by every torch model."""

    epochs: int = Field(100, ge=1, description="maximum number of passes over the training data")
    max_steps: int | None = Field(None, ge=1, description="maximum optimiser steps (the training budget; "
                                                          "None: epochs only)")
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    weight_decay: float = Field(0.0, ge=0, description="Adam (L2) weight decay")
    eval_every: int = Field(1, ge=1, description="validate every this many epochs at most")
    eval_steps: int = Field(0, ge=0, description="and at least this many optimiser steps apart: on small "
                                                 "data (few batches per epoch) validations, and the patience "
                                                 "counted in them, span several epochs")
    patience: int = Field(5, ge=1, description="stop after this many validations without improvement")
    score_batch_size: int = Field(1024, ge=1, description="users per no-grad scoring batch")
    progress: bool = Field(True, description="show a tqdm bar per epoch (only on a terminal)")


class TorchRecommender(Recommender):
    """Base of the torch models: one training loop, one persistence format, batched scoring.

    Fitted attributes: ``net_`` (the module, in eval mode after fit) and
    ``fit_log_`` (one dict per epoch: ``epoch``, ``steps`` (optimiser steps so far), ``loss``,
    ``seconds``, ``cpu_seconds`` (process CPU time of the epoch's steps) and, on validation epochs,
    ``ndcg@10``). ``best_epoch_`` is the epoch whose weights
    were kept (the last one without a validation split); ``stop_reason_`` is ``"patience"``,
    ``"budget"`` (``epochs`` / ``max_steps`` ran out: a WARNING if validation was still rising)
    or ``"callback"``.
    """

    Config: ClassVar[type[TorchConfig]] = TorchConfig
    config: TorchConfig
    net_: nn.Module

    def build_network(self) -> nn.Module:
        """A fresh, untrained network for this config over ``n_users_`` x ``n_items_`` (set by ``fit``
        or ``from_state``), e.g. to count parameters without training; the model itself is unchanged."""
        return self._build_net()

    # ------------------------------------------------------------------ subclass hooks
    @abstractmethod
    def _build_net(self) -> nn.Module:
        """A fresh network for ``self.config`` and ``self.n_items_`` (``n_users_`` is set too)."""

    @abstractmethod
    def _prepare(self, train: Interactions) -> None:
        """Precompute training data (called once per fit, after the net is built and seeded)."""

    @abstractmethod
    def _batches(self, rng: np.random.Generator) -> Iterator[Batch]:
        """One epoch of training mini-batches; sampling must draw from ``rng`` (or torch's seeded RNG)."""

    @abstractmethod
    def _n_batches(self) -> int:
        """Number of batches ``_batches`` yields (for the progress bar)."""

    @abstractmethod
    def _loss(self, batch: Batch) -> torch.Tensor:
        """Scalar training loss of one batch (the net is in train mode)."""

    @abstractmethod
    def _forward_scores(self, users: np.ndarray) -> torch.Tensor:
        """Scores of all items for ``users`` as a ``(len(users), n_items)`` tensor (under no_grad)."""

    # ------------------------------------------------------------------ training
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        cfg, threads = self.config, self.training_options.threads
        before = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            with torch.random.fork_rng(devices=[]):  # seed without disturbing the caller's global RNG
                torch.manual_seed(cfg.seed)
                rng = np.random.default_rng(cfg.seed)
                self.net_ = self._build_net()
                self._on_history(train)  # validation scores users from their train history
                self._prepare(train)
                self._train_loop(rng, self._validator(valid))
        finally:
            torch.set_num_threads(before)
        self.net_.eval()

    def _train_loop(self, rng: np.random.Generator, validator: Validator | None) -> None:
        cfg, options = self.config, self.training_options
        params = [p for p in self.net_.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.fit_log_: list[dict[str, float]] = []
        n_batches = max(1, self._n_batches())
        eval_every = max(cfg.eval_every, -(-cfg.eval_steps // n_batches))
        epochs = cfg.epochs if cfg.max_steps is None else min(cfg.epochs, -(-cfg.max_steps // n_batches))
        best, best_state, bad, steps = -math.inf, None, 0, 0
        self.best_epoch_, self.stop_reason_ = epochs, "budget"
        show = (cfg.progress if options.progress is None else options.progress) and sys.stderr.isatty()
        for epoch in range(1, epochs + 1):
            start, cpu, total, n = time.perf_counter(), time.process_time(), 0.0, 0
            self.net_.train()
            bar = tqdm(self._batches(rng), total=n_batches, desc=f"{self.name} epoch {epoch}",
                       leave=False, disable=not show)
            for batch in bar:
                loss = self._loss(batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total, n = total + loss.item(), n + 1
                if n % 10 == 0:
                    bar.set_postfix(loss=f"{total / n:.4f}")
            bar.close()
            steps += n
            entry = {"epoch": epoch, "steps": steps, "loss": total / max(n, 1),
                     "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
            self.fit_log_.append(entry)
            stop = False
            if validator is not None and (epoch % eval_every == 0 or epoch == epochs):
                entry[options.validation_name] = score = float(validator(self))
                if score > best:
                    best, bad, self.best_epoch_ = score, 0, epoch
                    best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
                else:
                    bad += 1
                    stop = bad >= cfg.patience
            if options.on_epoch_end(self, entry):
                self.stop_reason_ = "callback"
                break
            if stop:
                self.stop_reason_ = "patience"
                break
        if best_state is not None:
            self.net_.load_state_dict(best_state)
            self._warn_if_rising(options.validation_name)

    def _warn_if_rising(self, metric: str) -> None:
        """WARNING when the budget ran out while the validation score was still improving."""
        scores = [e[metric] for e in self.fit_log_ if metric in e]
        if self.stop_reason_ != "budget" or len(scores) < 2 or self.best_epoch_ < self.fit_log_[-1]["epoch"]:
            return
        log.warning("%s: training stopped by its budget (epoch %d, %d optimiser steps) while validation %s "
                    "was still rising (%.4f -> %.4f); raise epochs / max_steps", self.name,
                    self.fit_log_[-1]["epoch"], self.fit_log_[-1]["steps"], metric, scores[-2], scores[-1])
    def _validator(self, valid: Interactions | None) -> Validator | None:
        """The fit's validator; ``valid`` without one trains the full ``epochs`` (logged once)."""
        validator = self.training_options.validator
        if validator is None and valid is not None and len(valid):
            log.info("%s: no validator passed to fit (options=TrainingOptions(validator=...)); no early stopping, "
                     "training all %d epochs", self.name, self.config.epochs)
        return validator

    # ------------------------------------------------------------------ scoring
    def _score(self, users: np.ndarray) -> np.ndarray:
        was_training = self.net_.training
        self.net_.eval()
        out = np.empty((len(users), self.n_items_), np.float32)
        step = self.config.score_batch_size
        with torch.no_grad():
            for i in range(0, len(users), step):
                out[i:i + step] = self._forward_scores(users[i:i + step]).float().cpu().numpy()
        self.net_.train(was_training)
        return out

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> dict[str, np.ndarray]:
        return {f"net.{k}": v.detach().cpu().numpy() for k, v in self.net_.state_dict().items()}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.net_ = self._build_net()
        self.net_.load_state_dict({k[len("net."):]: torch.from_numpy(np.array(v))
                                   for k, v in state.items() if k.startswith("net.")})
        self.net_.eval()


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled index batches covering ``range(n)`` once."""
    order = rng.permutation(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]
