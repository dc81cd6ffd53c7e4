"""Resuming a run (``run(..., resume=True)``, ``llm4rec run --resume``): reuse the models an earlier,
interrupted run of the same configuration already finished.

- :func:`check_same_config` compares the folder's ``config.toml`` with the configuration about to run
  and refuses any difference, naming the first differing key.
- :func:`load_finished` reads back the records (``results.json``) and per-user arrays
  (``per_user.npz``) of every model that finished: listed in ``results.json``, not in ``failures.json``,
  with per-user values for every protocol and, when models are saved, a saved folder. It exactly
  inverts :func:`llm4rec.eval.runner.write_results`: external user ids become dense ids again through
  the dataset's vocabulary, ``null`` values become NaN again, and per-user columns keep their order.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llm4rec.config import TOMLDecodeError, loads_toml
from llm4rec.errors import ConfigError
from llm4rec.eval.config import RunConfig
from llm4rec.eval.results import USER_ID, Record

log = logging.getLogger(__name__)

_MISSING = object()


@dataclass
class Finished:
    """One model's outputs from the earlier run: its records (costs included) and per-user arrays."""

    records: list[Record]
    per_user: dict[str, np.ndarray]


def check_same_config(folder: Path, present: list[str], toml_text: str) -> bool:
    """``True`` when ``folder`` holds an earlier run of exactly ``toml_text`` (resume it), ``False`` when it
    holds no run output at all (a normal run). Any other content is refused with a :class:`ConfigError`."""
    stored_path = folder / "config.toml"
    if not stored_path.exists():
        if present:
            raise ConfigError(f"cannot resume in {folder}: it holds run outputs ({', '.join(present)}) but no "
                              "config.toml, so the configuration that produced them is unknown; use a new "
                              "output folder (--out) or --overwrite")
        return False
    try:
        stored = loads_toml(stored_path.read_text(encoding="utf-8"))
    except (TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot resume in {folder}: its config.toml is unreadable ({exc}); use a new output "
                          "folder (--out) or --overwrite") from None
    diff = first_difference(stored, loads_toml(toml_text))
    if diff is not None:
        key, old, new = diff
        raise ConfigError(f"cannot resume in {folder}: it holds a run of another configuration; first difference "
                          f"at {key}: {_show(old)} in its config.toml, {_show(new)} now. Resume only reruns the "
                          "same configuration (eval.max_users included); use a new output folder (--out) or "
                          "--overwrite")
    return True


def first_difference(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """``(dotted key, old value, new value)`` of the first key (in ``new``'s order, then ``old``'s) whose value
    differs; lists of tables are indexed (``models.1.params.epochs``); absent values are ``_MISSING``."""
    a, b = dict(_flatten(old)), dict(_flatten(new))
    for key in [*b, *(k for k in a if k not in b)]:
        if a.get(key, _MISSING) != b.get(key, _MISSING):
            return key, a.get(key, _MISSING), b.get(key, _MISSING)
    return None


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}.{i}")
    else:
        yield prefix, value


def _show(value: Any) -> str:
    return "absent" if value is _MISSING else repr(value)


def load_finished(folder: Path, cfg: RunConfig, user_vocab: np.ndarray) -> dict[str, Finished]:
    """The finished models of the earlier run in ``folder``, by label (see the module docstring)."""
    results, npz = folder / "results.json", folder / "per_user.npz"
    if not results.exists() or not npz.exists():
        return {}
    rows = json.loads(results.read_text(encoding="utf-8"))
    failures_path = folder / "failures.json"
    failed = set(json.loads(failures_path.read_text(encoding="utf-8"))) if failures_path.exists() else set()
    with np.load(npz, allow_pickle=False) as z:
        columns = {key: z[key] for key in z.files}
    to_dense = _inverse_vocabulary(user_vocab)
    finished: dict[str, Finished] = {}
    for spec in cfg.models:
        label = spec.display
        mine = [r for r in rows if r["model"] == label]
        if not mine or label in failed:
            continue
        per_user = {k: v for k, v in columns.items() if k.rsplit("|", 2)[0] == label}
        missing = [p.display for p in cfg.protocols if f"{label}|{p.display}|{USER_ID}" not in per_user]
        if missing:
            log.warning("resume: %s has no per-user values for %s in per_user.npz; refitting it", label, missing)
            continue
        if cfg.output.save_models and not _saved(folder / "models" / label):
            log.warning("resume: the saved model %s is missing; refitting it", folder / "models" / label)
            continue
        for key in per_user:
            if key.endswith(f"|{USER_ID}"):
                per_user[key] = to_dense(per_user[key], key)
        finished[label] = Finished([_record(r, per_user, cfg.eval.bootstrap) for r in mine], per_user)
    return finished


def _saved(path: Path) -> bool:
    return (path / "meta.json").is_file() and (path / "state.npz").is_file()


def _record(row: dict[str, Any], per_user: dict[str, np.ndarray], bootstrap: int) -> Record:
    """A ``results.json`` row as the :class:`Record` the run held: ``null`` was NaN (strict JSON), and so was a
    ``null`` interval of a per-user metric when intervals were bootstrapped."""
    rec = Record(**row)
    nan = math.nan
    rec.value = nan if rec.value is None else rec.value
    name = rec.metric if rec.k is None else f"{rec.metric}@{rec.k}"
    if bootstrap and f"{rec.model}|{rec.protocol}|{name}" in per_user:
        rec.ci_low = nan if rec.ci_low is None else rec.ci_low
        rec.ci_high = nan if rec.ci_high is None else rec.ci_high
    return rec


def _inverse_vocabulary(user_vocab: np.ndarray) -> Callable[[np.ndarray, str], np.ndarray]:
    """External user ids (as written to ``per_user.npz``) -> dense ids of ``user_vocab``."""
    index = pd.Index(np.asarray(user_vocab).astype(str))

    def to_dense(ids: np.ndarray, key: str) -> np.ndarray:
        ids = np.asarray(ids).astype(str)
        pos = index.get_indexer(ids)
        if (pos < 0).any():
            raise ConfigError(f"cannot resume: per_user.npz ({key}) holds user ids the dataset does not have "
                              f"(e.g. {ids[pos < 0][0]!r}); did the data change? use --overwrite")
        return pos.astype(np.int64)

    return to_dense
