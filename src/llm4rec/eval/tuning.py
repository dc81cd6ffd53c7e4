"""Hyper-parameter search on the validation split (``llm4rec tune CONFIG``), with Optuna.

Every trial fits one model of a run config on the train part with early stopping on valid and
scores it by NDCG@10 on valid (:func:`~llm4rec.eval.validation.ndcg_validator`); the test part is
dropped before the search starts, so no trial can see it. The study lives in an SQLite file in the
output folder: running the same command again resumes it (``trials`` is the total to reach).
Outputs: ``best.toml`` (the run config with the best parameters, ready for ``llm4rec run``),
``trials.csv`` and ``trials.md`` (one row per trial), ``study.db`` (the Optuna storage).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field, model_validator

from llm4rec.config import Config, read_toml
from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.eval.config import ModelSpec, RunConfig
from llm4rec.eval.runner import load_data, make_run_split
from llm4rec.eval.validation import early_stopping
from llm4rec.models.registry import make_model

log = logging.getLogger(__name__)


class ParamRange(Config):
    """One searched parameter: a numeric range (``low``..``high``, ``log`` scale, ``integer``) or ``choices``."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ParamRange:
        if (self.choices is None) == (self.low is None or self.high is None):
            raise ValueError("give either choices = [...] or both low and high")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        return self

    def suggest(self, trial: Any, name: str) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(name, self.choices)
        low, high = self.low, self.high
        if low is None or high is None:  # the validator allows this only with choices
            raise ValueError(f"parameter {name!r} has neither choices nor a range")
        if self.integer:
            return trial.suggest_int(name, int(low), int(high), log=self.log)
        return trial.suggest_float(name, low, high, log=self.log)


class SearchSpace(Config):
    """Parameter name -> range; ``--space FILE`` reads one table per parameter, e.g. ``[lr] low = 1e-4 ...``."""

    params: dict[str, ParamRange] = Field(min_length=1)


def _r(low: float, high: float, log: bool = False, integer: bool = False) -> ParamRange:
    return ParamRange(low=low, high=high, log=log, integer=integer)


_SEQ = {"lr": _r(1e-4, 1e-2, log=True), "hidden": ParamRange(choices=[32, 64, 128]),
        "dropout": _r(0.0, 0.5), "max_len": ParamRange(choices=[20, 50, 100, 200])}
#: default search spaces of the registered classic models
DEFAULT_SPACES: dict[str, dict[str, ParamRange]] = {
    "itemknn": {"k": _r(10, 500, log=True, integer=True), "shrink": _r(0.0, 100.0)},
    "bpr": {"lr": _r(1e-4, 1e-2, log=True), "reg": _r(1e-7, 1e-2, log=True),
            "factors": ParamRange(choices=[32, 64, 128])},
    "lightgcn": {"lr": _r(1e-4, 3e-2, log=True), "reg": _r(1e-7, 1e-2, log=True),
                 "layers": _r(1, 4, integer=True)},
    "als": {"factors": ParamRange(choices=[32, 64, 128, 256]), "regularization": _r(1e-3, 10.0, log=True),
            "alpha": _r(0.1, 50.0, log=True), "iterations": _r(5, 50, integer=True)},
    "sasrec": {**_SEQ, "layers": _r(1, 3, integer=True)},
    "gru4rec": _SEQ,
    "bert4rec": {**_SEQ, "mask_prob": _r(0.1, 0.5)},
}


def search_space(model: str, path: str | Path | None = None) -> SearchSpace:
    """The space in ``path`` (TOML), else the model's default; a clear error when there is neither."""
    if path is not None:
        try:
            return SearchSpace(params=read_toml(path))
        except ValueError as exc:
            raise ConfigError(f"search space {path}: {exc}") from None
    if model not in DEFAULT_SPACES:
        raise ConfigError(f"no default search space for model {model!r}; pass --space FILE "
                          f"(defaults exist for {', '.join(sorted(DEFAULT_SPACES))})")
    return SearchSpace(params=DEFAULT_SPACES[model])


@dataclass
class TuneResult:
    best_params: dict[str, Any]
    best_value: float
    trials: pd.DataFrame
    output_dir: Path


def pick_model(cfg: RunConfig, label: str | None) -> ModelSpec:
    """The config's model labelled ``label`` (default: the only one; an error when there are several)."""
    if label is None:
        if len(cfg.models) > 1:
            raise ConfigError(f"the config has {len(cfg.models)} models; choose one with --model "
                              f"({', '.join(m.display for m in cfg.models)})")
        return cfg.models[0]
    for spec in cfg.models:
        if spec.display == label:
            return spec
    raise ConfigError(f"no model labelled {label!r} in the config ({', '.join(m.display for m in cfg.models)})")


def objective_for(spec: ModelSpec, space: SearchSpace, train: Interactions, valid: Interactions):
    """The Optuna objective: fit with the trial's parameters, return validation NDCG@10."""
    options = early_stopping(train, valid)

    def objective(trial: Any) -> float:
        params = {**spec.params, **{k: r.suggest(trial, k) for k, r in space.params.items()}}
        start = time.perf_counter()
        model = make_model(spec.name, params).fit(train, valid, options)
        trial.set_user_attr("fit_seconds", time.perf_counter() - start)
        trial.set_user_attr("best_epoch", getattr(model, "best_epoch_", None))
        return float(options.validator(model)) if options.validator else float("nan")

    return objective


def tune(cfg: RunConfig, *, model: str | None = None, space: SearchSpace | None = None, trials: int = 20,
         timeout: float | None = None, out: str | Path | None = None, seed: int = 0) -> TuneResult:
    """Search ``model``'s parameters on the validation split; resumes the study found in ``out``."""
    try:
        import optuna
    except ImportError as exc:
        raise ConfigError("llm4rec tune needs Optuna: pip install 'llm4rec[tune]'") from exc
    spec = pick_model(cfg, model)
    space = space or search_space(spec.name)
    out = Path(out) if out else cfg.output_dir().with_name(cfg.output_dir().name + "-tune") / spec.display
    out.mkdir(parents=True, exist_ok=True)
    split = make_run_split(load_data(cfg.dataset), cfg.dataset, cfg.split)
    train, valid = split.train, split.valid  # the test part goes no further
    del split
    if len(valid) == 0:
        raise ConfigError("tuning needs a validation part; this split has none")
    study = optuna.create_study(study_name=f"{cfg.name}-{spec.display}", direction="maximize",
                                storage=f"sqlite:///{(out / 'study.db').resolve()}", load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=seed))
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if done:
        log.info("resuming study %s: %d trials done, %d to go", study.study_name, done, max(0, trials - done))
    if trials > done:
        study.optimize(objective_for(spec, space, train, valid), n_trials=trials - done, timeout=timeout,
                       show_progress_bar=False, catch=(ValueError, RuntimeError))
    table = trials_table(study)
    table.to_csv(out / "trials.csv", index=False)
    (out / "trials.md").write_text(markdown_table(table) + "\n")
    best = study.best_trial
    value = best.value
    if value is None:  # only a multi-objective study's trials lack one value
        raise ValueError("the best trial has no single objective value")
    best_params = {**spec.params, **best.params}
    best_cfg = cfg.model_copy(update={"models": [spec.model_copy(update={"params": best_params})]})
    (out / "best.toml").write_text(f"# best of {len(table)} trials by validation NDCG@10 = {value:.4f} "
                                   f"(llm4rec tune)\n" + best_cfg.to_toml())
    return TuneResult(best_params, float(value), table, out)


def trials_table(study: Any) -> pd.DataFrame:
    """One row per trial: number, state, valid NDCG@10, parameters, fit seconds, best epoch."""
    rows = []
    for t in study.trials:
        rows.append({"trial": t.number, "state": t.state.name, "valid_ndcg@10": t.value, **t.params,
                     "fit_s": t.user_attrs.get("fit_seconds"), "best_epoch": t.user_attrs.get("best_epoch")})
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (floats to 4 significant digits, missing values blank)."""
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return ""
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)
