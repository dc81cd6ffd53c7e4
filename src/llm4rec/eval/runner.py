"""Execute a run: load data, split, fit every model, evaluate every protocol, write the results.

Outputs (in ``RunConfig.output_dir()``):

- ``results.json``: a list of records ``{model, protocol, metric, k, value, ci_low, ci_high, n_users}``
  (a stable schema; costs are records too, with protocol ``"cost"``);
- ``per_user.npz``: per-user metric values keyed by external user id, for paired tests between models
  and runs (:mod:`llm4rec.eval.per_user`);
- ``report.md`` and ``metrics.png`` (see :mod:`llm4rec.eval.report`);
- ``config.toml``: the validated configuration that produced them.

Results are written after every model (atomically, into a locked folder: :mod:`llm4rec.eval.outdir`),
so a crash loses nothing already computed; a model that fails is reported and the run goes on with
the others. ``results.json`` is strict JSON: a metric over no user is ``null`` with ``n_users = 0``.
A run that died (``kill -9``, out of memory) or had failing models is continued with ``resume=True``
(CLI ``--resume``): the models it finished are read back instead of refitted (:mod:`llm4rec.eval.resume`).
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from llm4rec.data.dataset import Dataset
from llm4rec.data.split import Split
from llm4rec.eval.config import DatasetSpec, RunConfig, SplitSpec
from llm4rec.eval.outdir import RunFolder
from llm4rec.eval.protocols import EvalProtocol
from llm4rec.eval.report import write_outputs
from llm4rec.eval.results import USER_ID, Record, RunResult
from llm4rec.eval.resume import Finished, check_same_config, load_finished
from llm4rec.eval.stats import bootstrap_ci
from llm4rec.eval.validation import fit_options
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
    params = {**split.params, "max_users": cfg.eval.max_users}
    return replace(split, test=sub, params=params) if part == "test" else replace(split, valid=sub, params=params)


def run(cfg: RunConfig, output_dir: str | Path | None = None, *, overwrite: bool = False,
        resume: bool = False) -> RunResult:
    """Execute a run configuration end to end and write its outputs.

    The output folder is locked for the whole run and must not hold an earlier run's outputs
    unless ``overwrite`` (see :mod:`llm4rec.eval.outdir`). ``RunResult.empty`` lists the
    (model, protocol) pairs that evaluated no user (the CLI then exits non-zero).

    With ``resume`` (not with ``overwrite``) a folder holding an earlier run of the *same* configuration
    (its ``config.toml`` equals ``cfg.to_toml()``; any difference is refused, naming the first differing
    key) is continued: every model already in ``results.json`` and not in ``failures.json`` (and, with
    ``output.save_models``, saved under ``models/``) is not refitted, its records (``fit_seconds`` of the
    earlier run included) and per-user values are read back; the others are fitted. The outputs then equal
    those of an uninterrupted run. An empty or new folder is a normal run.
    """
    out = Path(output_dir) if output_dir else cfg.output_dir()
    with RunFolder(out, overwrite=overwrite, resume=resume) as folder:
        resuming = resume and check_same_config(out, folder.present, cfg.to_toml())
        folder.write_text("config.toml", cfg.to_toml())
        t0 = time.perf_counter()
        ds = load_data(cfg.dataset)
        split = make_run_split(ds, cfg.dataset, cfg.split)
        log.info("%s: %d train / %d valid / %d test interactions (%.1fs)", ds.name, len(split.train),
                 len(split.valid), len(split.test), time.perf_counter() - t0)
        split = sample_eval_users(split, cfg)
        check_run_data(cfg, split)
        result = RunResult([], {}, {}, out, user_vocab=ds.user_ids, files=["config.toml"])
        finished = load_finished(out, cfg, ds.user_ids) if resuming else {}
        if resuming:
            log.info("resuming the run in %s: reusing %s; fitting %s", out, list(finished) or "no model",
                     [m.display for m in cfg.models if m.display not in finished] or "no model")
        for spec in cfg.models:
            label = spec.display
            if label in finished:
                log.info("reusing %s from the earlier run (not refitted)", label)
                result.records.extend(finished[label].records)
                result.per_user.update(finished[label].per_user)
                continue
            try:
                model = make_model(spec.name, spec.params)
                log.info("fitting %s", label)
                start = time.perf_counter()
                model.fit(split.train, split.valid, fit_options(model, split.train, split.valid))
                fit_seconds = time.perf_counter() - start
                records, per_user = evaluate_model(model, label, split, cfg.protocols, cfg)
                records.append(Record(label, "cost", "fit_seconds", None, fit_seconds, None, None, 0))
                records.extend(_cost_records(model, label))
                result.records.extend(records)
                result.per_user.update(per_user)
                if cfg.output.save_models:
                    model.set_vocabulary(ds.user_ids, ds.catalog.ids).save(out / "models" / label)
            except Exception as exc:  # report, keep the finished models' results, go on
                log.error("model %s failed: %s", label, exc)
                result.failures[label] = "".join(traceback.format_exception(exc))
            write_results(_with_pending(result, finished), folder)
        if resuming:
            write_results(result, folder)  # in the configuration's model order
        written = write_outputs(result, cfg, ds, split, folder)
        if resuming and "metrics.png" not in written:
            folder.remove("metrics.png")  # the earlier run's plot, of other records
        result.files += [f for f in written if f not in result.files]
    return result


def _with_pending(result: RunResult, finished: dict[str, Finished]) -> RunResult:
    """``result`` plus the reused models not reached yet, so that no intermediate write of a resumed run
    drops results of the earlier run."""
    have = {r.model for r in result.records}
    pending = [f for label, f in finished.items() if label not in have]
    if not pending:
        return result
    records = result.records + [r for f in pending for r in f.records]
    per_user = {**result.per_user, **{k: v for f in pending for k, v in f.per_user.items()}}
    return replace(result, records=records, per_user=per_user, files=[])


def check_run_data(cfg: RunConfig, split: Split) -> None:
    """Checks that need the data, run before any model trains: something left to train on and to
    evaluate (a k-core or a split can leave nothing), cut-offs within the catalog."""
    kcore = f" after the {cfg.dataset.kcore}-core filter" if cfg.dataset.kcore else ""
    key = "dataset.kcore" if cfg.dataset.kcore else "split"
    if not len(split.train):
        raise cfg.error(key, f"no training interaction is left{kcore}; lower the k-core or check the data")
    if not len(split.part(cfg.eval.part)):
        raise cfg.error(key, f"the split leaves no user to evaluate in part {cfg.eval.part!r}{kcore}")
    too_big = [k for k in cfg.eval.ks if k > split.n_items]
    if too_big:
        raise cfg.error("eval.ks", f"cut-offs {too_big} exceed the catalog size ({split.n_items} items)")


def _cost_records(model: Recommender, label: str) -> list[Record]:
    """The model's :meth:`~llm4rec.models.base.Recommender.costs` (LM tokens and time, ...) as records."""
    return [Record(label, "cost", name, None, float(value), None, None, 0) for name, value in model.costs().items()]


def write_results(result: RunResult, folder: RunFolder) -> None:
    """Write results.json (strict JSON), per_user.npz and failures.json atomically.

    In ``per_user.npz`` the ``"model|protocol|user_id"`` columns hold external user ids (strings)
    when ``result.user_vocab`` is set; :func:`llm4rec.eval.per_user.load_per_user` reads them back.
    """
    folder.write_json("results.json", [asdict(r) for r in result.records])
    arrays = dict(result.per_user)
    if result.user_vocab is not None:
        vocab = np.asarray(result.user_vocab).astype(str)
        arrays.update({k: vocab[v] for k, v in arrays.items() if k.endswith(f"|{USER_ID}")})
    folder.write_npz("per_user.npz", arrays)
    written = ["results.json", "per_user.npz"]
    if result.failures:
        folder.write_json("failures.json", result.failures)
        written.append("failures.json")
    else:
        folder.remove("failures.json")  # a resumed run's earlier failures, now refitted
    result.files += [f for f in written if f not in result.files]
