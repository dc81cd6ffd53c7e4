"""The serving core, free of HTTP: external ids, ad-hoc histories, batched scoring, explanations.

A :class:`Service` holds fitted models over one id universe (the dataset they were trained on)
and translates between external ids and dense indices. Scoring runs on one worker thread per
*lane* (a model, or every model that uses a language-model backend, since backends such as
llama.cpp are not thread-safe), so a model is never called from two threads at once.

Ad-hoc histories are scored by a scratch copy of the model whose inference-time history holds
only those histories (one per user slot); the fitted weights are shared, not copied. That is
exact for every model whose scores depend on the history (item-kNN, sequential, text and LLM
models) and is refused for models that learned one vector per known user (e.g. BPR-MF).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from llm4rec.data.catalog import Catalog
from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.models.base import Recommender, top_k
from llm4rec.serve.metrics import Metrics
from llm4rec.serve.settings import ServeSettings


class ServiceError(Exception):
    """A request the service refuses: HTTP ``status``, a stable ``code`` and a readable message."""

    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass
class ScoreJob:
    """One recommend request in dense ids: a known ``user`` or an ad-hoc ``history``."""

    user: int | None
    history: np.ndarray | None
    candidates: np.ndarray | None
    k: int
    exclude_seen: bool


def sub_models(model: Recommender) -> list[Recommender]:
    """Models a pipeline holds (a reranker's retriever and ranker), in attribute order."""
    return [v for v in vars(model).values() if isinstance(v, Recommender)]


def adhoc_ok(model: Recommender) -> bool:
    """Whether scores follow from the history alone (so an ad-hoc history can be scored exactly).

    Read from the model's tags (``scores_from_history``: models that react to a new history, and
    user-free ones such as pop/random); a pipeline qualifies when every stage does.
    """
    subs = sub_models(model)
    if subs:
        return all(adhoc_ok(s) for s in subs)
    return model.tags().scores_from_history


def uses_lm(model: Recommender) -> bool:
    """Whether the model (or a stage of it) calls a language-model generator."""
    return model.tags().uses_generator or any(uses_lm(s) for s in sub_models(model))


def explains(model: Recommender) -> bool:
    """Whether the model implements :meth:`~llm4rec.models.base.Recommender.explain` (its tags say so)."""
    return model.tags().explains


def scratch_copy(model: Recommender) -> Recommender:
    """A shallow copy (weights shared) whose history can be replaced without touching ``model``."""
    out = copy.copy(model)
    for name, value in vars(model).items():
        if isinstance(value, Recommender):
            setattr(out, name, scratch_copy(value))
    return out


def with_histories(model: Recommender, histories: Sequence[np.ndarray]) -> Recommender:
    """A scratch copy of ``model`` whose users ``0..len(histories)-1`` have exactly these histories."""
    lens = [len(h) for h in histories]
    items = np.concatenate(histories) if histories else np.zeros(0, np.int64)
    users = np.repeat(np.arange(len(histories)), lens)
    catalog = getattr(model.history_log_, "catalog", None)
    inter = Interactions.build(users, items, np.arange(len(items)), None, n_users=model.n_users_,
                               n_items=model.n_items_, catalog=catalog)
    scratch = scratch_copy(model)
    scratch.set_history(inter)
    return scratch


class Service:
    """Fitted models (label -> model) over one dataset's ids, its catalog and user vocabulary."""

    def __init__(self, models: dict[str, Recommender], user_ids: Sequence[str] | np.ndarray, catalog: Catalog,
                 settings: ServeSettings | None = None, metrics: Metrics | None = None) -> None:
        if not models:
            raise ConfigError("a service needs at least one model")
        for label, m in models.items():
            m.check_fitted()
            if (m.n_users_, m.n_items_) != (len(user_ids), len(catalog)):
                raise ConfigError(f"model {label!r} is fitted on {m.n_users_} users x {m.n_items_} items, the "
                                  f"vocabulary has {len(user_ids)} x {len(catalog)}")
        self.models, self.catalog = dict(models), catalog
        self.user_ids = np.asarray(user_ids).astype(str)
        self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        self.settings = settings or ServeSettings()
        self.metrics = metrics or Metrics()
        self._lanes: dict[str, ThreadPoolExecutor] = {}

    # ------------------------------------------------------------------ ids and lookups
    def model(self, label: str | None) -> tuple[str, Recommender]:
        if label is None:
            label = next(iter(self.models))
        if label not in self.models:
            raise ServiceError(404, "unknown_model", f"no model {label!r}; served: {', '.join(self.models)}")
        return label, self.models[label]

    def user(self, external: str) -> int:
        try:
            return self._user_index[str(external)]
        except KeyError:
            raise ServiceError(404, "unknown_user", f"unknown user {external!r}; pass an ad-hoc 'history' "
                                                    "for new users") from None

    def items(self, external: Sequence[str], field: str) -> np.ndarray:
        """Dense ids of external item ids; a 422 names the unknown ones (at most five)."""
        out, bad = [], []
        for x in external:
            try:
                out.append(self.catalog.lookup(str(x)))
            except KeyError:
                bad.append(str(x))
        if bad:
            shown = ", ".join(repr(b) for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
            raise ServiceError(422, "unknown_item", f"{len(bad)} unknown item id(s) in '{field}': {shown}",
                               [{"field": field, "unknown": bad[:5]}])
        return np.asarray(out, dtype=np.int64)

    def item_info(self, item: int, with_text: bool = False) -> dict:
        info = {"id": str(self.catalog.ids[item]), "title": self.catalog.title(item)}
        if with_text:
            info["text"] = self.catalog.text([item])[0]
        return info

    def history(self, user: int, limit: int = 50) -> list[int]:
        """The most recent ``limit`` items of a known user (oldest first), from the first model's history."""
        h = next(iter(self.models.values())).history_log_
        off = h.user_offsets()
        return [int(i) for i in h.item[off[user]:off[user + 1]][-limit:]]

    def job(self, model: Recommender, label: str, user: str | None, history: list[str] | None,
            candidates: list[str] | None, k: int, exclude_seen: bool) -> ScoreJob:
        """Validate one recommend request and resolve its ids."""
        s = self.settings
        if k > s.max_k:
            raise ServiceError(422, "invalid_request", f"k={k} is above the limit {s.max_k}")
        hist = None
        if history is not None:
            if len(history) > s.max_history:
                raise ServiceError(422, "invalid_request", f"history has {len(history)} items; at most "
                                                           f"{s.max_history}")
            if not adhoc_ok(model):
                raise ServiceError(422, "adhoc_unsupported", f"model {label!r} learned one vector per known user "
                                   "and cannot score an ad-hoc history; pass a known 'user' or pick another model")
            hist = self.items(history, "history")
        cands = None
        if candidates is not None:
            if len(candidates) > s.max_candidates:
                raise ServiceError(422, "invalid_request", f"{len(candidates)} candidates; at most "
                                                           f"{s.max_candidates}")
            cands = self.items(candidates, "candidates")
        elif getattr(model.config, "full_catalog", "all") == "error":
            raise ServiceError(422, "candidates_required", f"model {label!r} ranks given candidates only "
                                                           "(an LLM call per item); pass 'candidates'")
        return ScoreJob(None if user is None else self.user(user), hist, cands, k, exclude_seen)

    # ------------------------------------------------------------------ compute
    def lane(self, label: str) -> ThreadPoolExecutor:
        """The single worker thread that runs ``label``'s model (shared by every LM-using model)."""
        key = "lm" if uses_lm(self.models[label]) else label
        if key not in self._lanes:
            self._lanes[key] = ThreadPoolExecutor(1, thread_name_prefix=f"llm4rec-{key}")
        return self._lanes[key]

    def run_jobs(self, label: str, jobs: list[ScoreJob]) -> list[tuple[np.ndarray, np.ndarray] | Exception]:
        """Top-k (ids, scores) for each job, scoring jobs that fit together in one call.

        Known users without candidates share one full-catalog call; jobs with the same number of
        candidates share one 2-D candidate call; ad-hoc histories do the same on one scratch copy.
        """
        model = self.models[label]
        groups: dict[tuple[bool, int | None], list[int]] = {}
        for j, job in enumerate(jobs):
            key = (job.history is not None, None if job.candidates is None else len(job.candidates))
            groups.setdefault(key, []).append(j)
        out: list = [None] * len(jobs)
        for (adhoc, _), idx in groups.items():
            for start in range(0, len(idx), model.n_users_ if adhoc else len(idx)):
                part = idx[start:start + (model.n_users_ if adhoc else len(idx))]
                try:
                    for j, res in zip(part, self._score_group(label, model, [jobs[j] for j in part], adhoc),
                                      strict=True):
                        out[j] = res
                except Exception as exc:  # one failing group does not fail the others
                    for j in part:
                        out[j] = exc
        return out

    def _score_group(self, label: str, model: Recommender, jobs: list[ScoreJob], adhoc: bool
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
        # a group shares (ad-hoc or not, candidate count): every job has a history / candidates, or none has
        if adhoc:
            model = with_histories(model, [j.history for j in jobs if j.history is not None])
            users = np.arange(len(jobs))
        else:
            users = np.asarray([j.user for j in jobs], dtype=np.int64)
        rows = [j.candidates for j in jobs if j.candidates is not None]
        cands = np.stack(rows) if rows else None
        self.metrics.score_calls.labels(label).inc()
        scores = np.array(model.score(users, cands), dtype=np.float32)
        results = []
        for r, job in enumerate(jobs):
            row = scores[r:r + 1]
            if job.exclude_seen:
                seen = model.history_[int(users[r])].indices
                row[0, np.isin(cands[r], seen) if cands is not None else seen] = -np.inf
            idx, vals = top_k(row, job.k)
            idx, vals = idx[0], vals[0]
            keep = np.isfinite(vals)
            ids = idx[keep] if cands is None else cands[r][idx[keep]]
            results.append((ids, vals[keep]))
        return results

    def explain(self, label: str, user: int | None, history: np.ndarray | None, item: int) -> str:
        model = self.models[label]
        if not explains(model):
            can = [m for m, x in self.models.items() if explains(x)]
            raise ServiceError(422, "explain_unsupported", f"model {label!r} cannot explain; models that can: "
                                                           f"{', '.join(can) or 'none'}")
        if history is not None:
            if not adhoc_ok(model):
                raise ServiceError(422, "adhoc_unsupported", f"model {label!r} cannot use an ad-hoc history")
            model, user = with_histories(model, [history]), 0
        if user is None:
            raise ServiceError(422, "invalid_request", "give a user or a history")
        return model.explain(int(user), int(item))

    def close(self) -> None:
        for pool in self._lanes.values():
            pool.shutdown(wait=False, cancel_futures=True)
