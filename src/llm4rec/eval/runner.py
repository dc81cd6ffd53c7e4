"""Execute a run: load data, split, fit every model, evaluate every protocol, write the results.

Outputs (in ``RunConfig.output_dir()``):

- ``results.json``: a list of records ``{model, protocol, metric, k, value, ci_low, ci_high, n_users}``
  (a stable schema; costs are records too, with protocol ``"cost"``);
- ``per_user.npz``: per-user metric values keyed by external user id, for paired tests between models
  and runs (:mod:`llm4rec.eval.per_user`);
- ``report.md`` and ``metrics.png`` (see :mod:`llm4rec.eval.report`);
- ``config.toml``: the validated configuration that produced them.

Results are written after every model, so a crash loses nothing already computed;
a model that fails is reported and the run goes on with the others.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from llm4rec.data.dataset import Dataset
from llm4rec.data.split import Split
from llm4rec.eval.config import DatasetSpec, RunConfig, SplitSpec
from llm4rec.eval.protocols import EvalProtocol
from llm4rec.eval.report import write_outputs
from llm4rec.eval.results import USER_ID, Record, RunResult
from llm4rec.eval.stats import bootstrap_ci
from llm4rec.eval.validation import early_stopping
from llm4rec.models.base import Recommender
from llm4rec.models.registry import make_model

log = logging.getLogger(__name__)


def load_data(spec: DatasetSpec) -> Dataset:
    """The dataset a run names: built-in by name, or a file with a column mapping."""
    from llm4rec.data import load_dataset
    from llm4rec.data.formats import read_format

    if spec.path is None:
        return load_dataset(spec.name or "ml-100k")
    return read_format(spec.format, spec)


def make_run_split(ds: Dataset, dspec: DatasetSpec, sspec: SplitSpec) -> Split:
    """The run's split; rows a k-core filter removes stay known to it (``Split.unused``), so sampled
    negatives never include an item the user rated before filtering."""
    from llm4rec.data.split import kcore_with_removed, make_split

    removed = None
    if dspec.kcore:
        ds, removed = kcore_with_removed(ds, dspec.kcore)
    params = {"ties": sspec.ties, **sspec.params}
    split = make_split(ds, sspec.kind, seed=sspec.seed, **params)
    return split if removed is None else split.with_unused(removed)


def split_metric(name: str) -> tuple[str, int | None]:
    """``"ndcg@10" -> ("ndcg", 10)``; ``"auc" -> ("auc", None)``."""
    metric, _, k = name.partition("@")
    return metric, int(k) if k else None


def evaluate_model(model: Recommender, label: str, split: Split, protocols: list[EvalProtocol],
                   cfg: RunConfig) -> tuple[list[Record], dict[str, np.ndarray]]:
    """Evaluate one fitted model under every protocol; per-user values and bootstrapped records.

    Row-level values (a user with several sampled targets) are averaged per user first, so the
    bootstrap resamples users. The protocols cache their candidates, so every model sees the same.
    """
    ev = cfg.eval
    model.set_history(split.known_for(ev.part))
    records: list[Record] = []
    per_user: dict[str, np.ndarray] = {}
    for protocol in protocols:
        name_p = protocol.display
        res = protocol.evaluate(model, split, ev.part, ks=tuple(ev.ks), metrics=tuple(ev.metrics)).by_user()
        for name, values in res.per_user.items():
            mean, low, high = bootstrap_ci(values, n_boot=ev.bootstrap, alpha=ev.alpha, seed=ev.seed)
            metric, k = split_metric(name)
            records.append(Record(label, name_p, metric, k, float(mean),
                                  None if ev.bootstrap == 0 else float(low),
                                  None if ev.bootstrap == 0 else float(high), len(values)))
            per_user[f"{label}|{name_p}|{name}"] = values
        per_user[f"{label}|{name_p}|{USER_ID}"] = np.asarray(res.users, dtype=np.int64)
        n = len(res.users)
        for name, value in res.global_metrics.items():
            metric, k = split_metric(name)
            records.append(Record(label, name_p, metric, k, float(value), None, None, n))
        records.append(Record(label, "cost", f"eval_seconds[{name_p}]", None, res.seconds, None, None, n))
    return records, per_user


def sample_eval_users(split: Split, cfg: RunConfig) -> Split:
    """Keep a seeded random subset of evaluated users when ``eval.max_users`` is set (same for every model).

    Only the evaluated part shrinks; the history the models see is unchanged.
    """
    part = cfg.eval.part
    target = split.part(part)
    users = np.unique(target.user)
    if cfg.eval.max_users is None or len(users) <= cfg.eval.max_users:
        return split
    keep = np.random.default_rng(cfg.eval.seed).choice(users, cfg.eval.max_users, replace=False)
    sub = target.subset(np.isin(target.user, keep))
    return replace(split, **{part: sub}, params={**split.params, "max_users": cfg.eval.max_users})


def run(cfg: RunConfig, output_dir: str | Path | None = None) -> RunResult:
    """Execute a run configuration end to end and write its outputs."""
    out = Path(output_dir) if output_dir else cfg.output_dir()
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(out / "config.toml")
    t0 = time.perf_counter()
    ds = load_data(cfg.dataset)
    split = make_run_split(ds, cfg.dataset, cfg.split)
    log.info("%s: %d train / %d valid / %d test interactions (%.1fs)", ds.name, len(split.train),
             len(split.valid), len(split.test), time.perf_counter() - t0)
    split = sample_eval_users(split, cfg)
    result = RunResult([], {}, {}, out, user_vocab=ds.user_ids, files=["config.toml"])
    options = early_stopping(split.train, split.valid)  # NDCG@10 on the validation part
    for spec in cfg.models:
        label = spec.display
        try:
            model = make_model(spec.name, spec.params)
            log.info("fitting %s", label)
            start = time.perf_counter()
            model.fit(split.train, split.valid, options)
            fit_seconds = time.perf_counter() - start
            records, per_user = evaluate_model(model, label, split, cfg.protocols, cfg)
            records.append(Record(label, "cost", "fit_seconds", None, fit_seconds, None, None, 0))
            records.extend(_lm_cost_records(model, label))
            result.records.extend(records)
            result.per_user.update(per_user)
            if cfg.output.save_models:
                model.save(out / "models" / label)
        except Exception as exc:  # report, keep the finished models' results, go on
            log.error("model %s failed: %s", label, exc)
            result.failures[label] = "".join(traceback.format_exception(exc))
        write_results(result, out)
    result.files += [f for f in write_outputs(result, cfg, ds, split) if f not in result.files]
    return result


def _lm_cost_records(model: Recommender, label: str) -> list[Record]:
    """Token and time accounting of language-model backends the model used (if any)."""
    usage = getattr(model, "lm_usage", None)
    if not callable(usage):
        return []
    return [Record(label, "cost", name, None, float(value), None, None, 0) for name, value in usage().items()]


def write_results(result: RunResult, out: Path) -> None:
    """Write results.json, per_user.npz and failures.json atomically (tmp file + rename).

    In ``per_user.npz`` the ``"model|protocol|user_id"`` columns hold external user ids (strings)
    when ``result.user_vocab`` is set; :func:`llm4rec.eval.per_user.load_per_user` reads them back.
    """
    _atomic_write(out / "results.json", json.dumps([asdict(r) for r in result.records], indent=1))
    arrays = dict(result.per_user)
    if result.user_vocab is not None:
        vocab = np.asarray(result.user_vocab).astype(str)
        arrays.update({k: vocab[v] for k, v in arrays.items() if k.endswith(f"|{USER_ID}")})
    tmp = out / "per_user.tmp.npz"
    np.savez(tmp, **arrays)
    tmp.replace(out / "per_user.npz")
    written = ["results.json", "per_user.npz"]
    if result.failures:
        _atomic_write(out / "failures.json", json.dumps(result.failures, indent=1))
        written.append("failures.json")
    result.files += [f for f in written if f not in result.files]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
