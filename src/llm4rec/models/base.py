"""The Recommender contract every model implements (classic, LLM-embedding, LLM-token, LLM-as-RS).

scikit-learn habits: ``__init__`` stores a typed config only, fitted state ends
in ``_``, ``fit`` returns ``self``. Scoring is batch-first: ``score(users)``
gives a ``(len(users), n_items)`` matrix, ``score(users, items)`` scores given
candidates (1-D: the same for every user; 2-D: one row per user).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp

from llm4rec import __version__
from llm4rec.config import Config, read_toml
from llm4rec.data.interactions import Interactions
from llm4rec.errors import ArtifactError, ConfigError, NotFittedError, UnknownUserError
from llm4rec.lm.policy import Backends, guard_loaded
from llm4rec.models.training import TrainingOptions
from llm4rec.registry import MODELS
from llm4rec.versioning import check_format

#: version of the saved model folder layout (meta.json, config.toml, state.npz); bump on change
MODEL_FORMAT = 1


class ModelConfig(Config):
    """Base of every model's hyper-parameters; ``seed`` makes training deterministic."""

    seed: int = 42


@dataclass(frozen=True)
class ModelTags:
    """What a model can do (as scikit-learn's estimator tags); tests, the runner and the server read
    these instead of special-casing model names. A subclass overrides :meth:`Recommender.tags`."""

    #: two fits with the same seed and data give identical scores
    deterministic: bool = True
    #: a candidate's score depends on the other candidates shown (listwise, pairwise, rerank's top N),
    #: so ``score(users, items)`` is not a slice of ``score(users)``
    candidate_dependent: bool = False
    #: scores only given candidates by default (the full catalog is refused or too costly)
    candidates_only: bool = False
    #: reads item text (the catalog) to fit or score
    needs_text: bool = False
    #: calls a generative language model when scoring
    uses_generator: bool = False
    #: a user's scores follow from their inference-time history alone (an ad-hoc history scores exactly)
    scores_from_history: bool = False
    #: implements :meth:`Recommender.explain`
    explains: bool = False


R = TypeVar("R", bound="Recommender")


class Recommender(ABC):
    """Base class: subclasses set ``Config`` and implement ``_fit`` and ``_score``.

    Optional hooks: ``_score_items`` (score only given candidates, for costly
    models), ``_on_history`` (react to new inference-time history, e.g. user
    sequences), ``_get_state``/``_set_state`` (fitted arrays behind the public
    :meth:`state_dict` / :meth:`from_state`), ``costs``, ``tags``, ``explain``.
    """

    Config: ClassVar[type[ModelConfig]] = ModelConfig
    name: ClassVar[str] = "recommender"

    def __init__(self, config: ModelConfig | None = None, **params: Any) -> None:
        if config is None:
            config = self.Config(**params)
        elif params:
            config = config.model_copy(update=params)
        if not isinstance(config, self.Config):
            raise ConfigError(f"{type(self).__name__} takes a {self.Config.__name__}, got {type(config).__name__}")
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Interactions, valid: Interactions | None = None,
            options: TrainingOptions | None = None) -> Recommender:
        """Train on ``train``; returns ``self``.

        ``valid`` serves model selection; early stopping reads it through
        ``options.validator`` (see :class:`~llm4rec.models.training.TrainingOptions`).
        """
        if len(train) == 0:
            raise ValueError("cannot fit on an empty interaction log")
        self.n_users_ = train.n_users
        self.n_items_ = train.n_items
        self._options = options or TrainingOptions()
        try:
            self._fit(train, valid)
        finally:
            del self._options  # runtime options are not fitted state
        self._use_history(train)
        return self

    @property
    def training_options(self) -> TrainingOptions:
        """The options of the ``fit`` call in progress (defaults outside ``fit``)."""
        return getattr(self, "_options", None) or TrainingOptions()

    @abstractmethod
    def _fit(self, train: Interactions, valid: Interactions | None) -> None: ...

    def set_history(self, history: Interactions) -> Recommender:
        """Replace the interactions known at inference time (seen items; sequence inputs), no retraining.

        The evaluation runner calls this with train + valid before scoring the test split.
        """
        self.check_fitted()
        if (history.n_users, history.n_items) != (self.n_users_, self.n_items_):
            raise ValueError("history is over a different id universe than the fitted model")
        if history.catalog is not None and hasattr(self, "item_ids_") and not np.array_equal(
                np.asarray(history.catalog.ids).astype(str), self.item_ids_):
            raise ValueError(f"{type(self).__name__} was trained on other item ids than this history's catalog")
        self._use_history(history)
        return self

    def _use_history(self, history: Interactions) -> None:
        self.history_log_ = history
        self.history_ = history.to_csr()
        self._on_history(history)

    def _on_history(self, history: Interactions) -> None:  # noqa: B027 - optional hook
        """Hook: called after fit, set_history and load with the inference-time history (time-ordered)."""

    # ------------------------------------------------------------------ scoring
    @abstractmethod
    def _score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user: float32 ``(len(users), n_items)``."""

    def _score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores of candidate ``items`` (2-D, one row per user); default gathers from ``_score``."""
        return np.take_along_axis(self._score(users), items, axis=1)

    def score(self, users: np.ndarray | list[int] | int, items: np.ndarray | None = None) -> np.ndarray:
        """Score the catalog (``items=None``) or given candidates for each user. Higher is better."""
        users = self._check_users(users)
        if items is None:
            return np.asarray(self._score(users), dtype=np.float32)
        items = np.asarray(items, dtype=np.int64)
        if items.ndim == 1:
            items = np.broadcast_to(items, (len(users), len(items)))
        if items.ndim != 2 or items.shape[0] != len(users):
            raise ValueError(f"items must be 1-D or have one row per user; got shape {items.shape}")
        if items.size and (items.min() < 0 or items.max() >= self.n_items_):
            raise ValueError(f"item ids must lie in [0, {self.n_items_}); got {items.min()}..{items.max()}")
        return np.asarray(self._score_items(users, np.ascontiguousarray(items)), dtype=np.float32)

    def recommend(self, users: np.ndarray | list[int] | int, k: int = 10, exclude_seen: bool = True,
                  batch_size: int = 1024, *, candidates: np.ndarray | list[int] | None = None,
                  exclude: np.ndarray | list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item ids and scores per user, best first; seen items excluded by default.

        ``candidates`` restricts a request to given items: 1-D (the same for every user) or 2-D
        (one row per user); only they are scored, so candidate-only rankers (LLM rankers) and
        pipelines can serve requests; a row with fewer than ``k`` admissible candidates ends with id
        ``-1`` and score ``-inf``. ``exclude`` lists items never returned (a filter; scored ``-inf``).
        """
        users = self._check_users(users)
        banned = None if exclude is None else np.asarray(exclude, dtype=np.int64).ravel()
        if candidates is not None:
            return self._recommend_among(users, k, exclude_seen, batch_size, candidates, banned)
        k = min(int(k), self.n_items_)
        ids = np.empty((len(users), k), np.int64)
        vals = np.empty((len(users), k), np.float32)
        for start in range(0, len(users), batch_size):
            batch = users[start:start + batch_size]
            scores = np.array(self._score(batch), dtype=np.float32)
            if exclude_seen:
                mask_rows(scores, self.history_, batch)
            if banned is not None:
                scores[:, banned] = -np.inf
            ids[start:start + len(batch)], vals[start:start + len(batch)] = top_k(scores, k)
        return ids, vals

    def _recommend_among(self, users: np.ndarray, k: int, exclude_seen: bool, batch_size: int,
                         candidates: np.ndarray | list[int], banned: np.ndarray | None
                         ) -> tuple[np.ndarray, np.ndarray]:
        cand = np.asarray(candidates, dtype=np.int64)
        if cand.ndim == 1:
            cand = np.broadcast_to(cand, (len(users), len(cand)))
        if cand.ndim != 2 or cand.shape[0] != len(users):
            raise ValueError(f"candidates must be 1-D or have one row per user; got shape {cand.shape}")
        k = min(int(k), cand.shape[1])
        ids = np.empty((len(users), k), np.int64)
        vals = np.empty((len(users), k), np.float32)
        for start in range(0, len(users), batch_size):
            batch, rows = users[start:start + batch_size], cand[start:start + batch_size]
            scores = np.array(self.score(batch, rows), dtype=np.float32)
            scores[np.isnan(scores)] = -np.inf
            if exclude_seen and rows.size:
                seen = self.history_[np.repeat(batch, rows.shape[1]), rows.ravel()]
                scores[np.asarray(seen).reshape(rows.shape) != 0] = -np.inf
            if banned is not None:
                scores[np.isin(rows, banned)] = -np.inf
            idx, v = top_k(scores, k)
            ids[start:start + len(batch)] = np.where(v > -np.inf, np.take_along_axis(rows, idx, axis=1), -1)
            vals[start:start + len(batch)] = v
        return ids, vals

    def explain(self, user: int, item: int) -> str:
        """A natural-language reason for recommending ``item`` to ``user`` (models that can)."""
        raise NotImplementedError(f"{type(self).__name__} does not explain its recommendations")

    # ------------------------------------------------------------------ external ids
    def set_vocabulary(self, user_ids: Sequence[str] | np.ndarray, item_ids: Sequence[str] | np.ndarray
                       ) -> Recommender:
        """Attach the external ids (dense id ``i`` is ``user_ids[i]`` / ``item_ids[i]``), e.g. a dataset's
        ``user_ids`` and ``catalog.ids``; :meth:`save` stores them with a fingerprint, so a loaded model
        recommends by external id and refuses data over other ids (:meth:`check_vocabulary`)."""
        self.check_fitted()
        users, items = np.asarray(user_ids).astype(str), np.asarray(item_ids).astype(str)
        if (len(users), len(items)) != (self.n_users_, self.n_items_):
            raise ValueError(f"vocabularies of {len(users)} users x {len(items)} items do not fit a model over "
                             f"{self.n_users_} x {self.n_items_} ids")
        self.user_ids_, self.item_ids_ = users, items
        return self

    def vocabulary_fingerprint(self) -> str | None:
        """SHA-256 of the external id vocabularies (``None`` when none is attached)."""
        return _vocab_fingerprint(self.user_ids_, self.item_ids_) if hasattr(self, "item_ids_") else None

    def check_vocabulary(self, user_ids: Sequence[str] | np.ndarray, item_ids: Sequence[str] | np.ndarray) -> None:
        """Refuse data whose id vocabularies differ from the ones the model was trained on (if attached)."""
        known = self.vocabulary_fingerprint()
        if known is not None and _vocab_fingerprint(user_ids, item_ids) != known:
            raise ValueError(f"{type(self).__name__} was trained on other user/item ids (vocabulary fingerprint "
                             f"{known[:12]}); refit it on this data")

    def recommend_ids(self, users: Sequence[str], k: int = 10, **kwargs: Any) -> list[list[str]]:
        """:meth:`recommend` by external ids: item ids (best first) for each external user id."""
        if not hasattr(self, "user_ids_"):
            raise NotFittedError(f"{type(self).__name__} has no id vocabularies; call set_vocabulary() first")
        index = {u: i for i, u in enumerate(self.user_ids_.tolist())}
        unknown = [u for u in users if str(u) not in index]
        if unknown:
            raise UnknownUserError(f"user id {unknown[0]!r} is not in the model's vocabulary")
        ids, _ = self.recommend(np.array([index[str(u)] for u in users], np.int64), k, **kwargs)
        return [[str(self.item_ids_[i]) for i in row if i >= 0] for row in ids]

    # ------------------------------------------------------------------ description
    def tags(self) -> ModelTags:
        """What this model can do; subclasses return ``dataclasses.replace(super().tags(), ...)``."""
        return ModelTags(scores_from_history=type(self)._on_history is not Recommender._on_history,
                         explains=type(self).explain is not Recommender.explain)

    def costs(self) -> dict[str, float]:
        """Scalar costs of the last fit and of scoring so far (LM tokens, seconds, trained parameters...);
        the runner records each as a ``cost`` row. Empty by default."""
        return {}

    def lm_usage(self) -> dict[str, float]:
        """Former name of :meth:`costs` (kept for old call sites)."""
        return self.costs()

    # ------------------------------------------------------------------ checks
    @property
    def is_fitted(self) -> bool:
        """Whether ``fit``, ``load`` or ``from_state`` has run."""
        return hasattr(self, "n_items_")

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless the model is fitted."""
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() first")

    _check_fitted = check_fitted  # the former private name, kept for subclasses

    def _check_users(self, users: np.ndarray | list[int] | int) -> np.ndarray:
        self.check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        if users.ndim != 1:
            raise ValueError(f"users must be a 1-D array of ids; got shape {users.shape}")
        bad = (users < 0) | (users >= self.n_users_)
        if bad.any():
            raise UnknownUserError(f"user id {int(users[bad][0])} is unknown to {type(self).__name__} "
                                   f"(fitted on ids 0..{self.n_users_ - 1}); new users need a refit or a "
                                   "history via set_history()")
        return users

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> dict[str, np.ndarray]:
        """Fitted arrays to persist (besides the history); override in subclasses."""
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027 - optional hook
        """Restore what ``_get_state`` returned."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """The fitted state as named arrays (no pickles; the config and history travel apart).

        ``type(model).from_state(model.config, model.state_dict(), n_users=..., n_items=...,
        history=...)`` rebuilds an equal model; :meth:`save` writes exactly these arrays.
        """
        self.check_fitted()
        return {k: np.asarray(v) for k, v in self._get_state().items()}

    @classmethod
    def from_state(cls: type[R], config: ModelConfig, state: dict[str, np.ndarray], *, n_users: int,
                   n_items: int, history: Interactions | None = None) -> R:
        """A fitted model from its config and :meth:`state_dict` over ``n_users`` x ``n_items`` ids.

        ``history`` (the inference-time interactions) is required to score unless a caller such as
        a pipeline sets it afterwards with :meth:`set_history`.
        """
        model = cls(config)
        model.n_users_, model.n_items_ = int(n_users), int(n_items)
        model._set_state(dict(state))
        if history is not None:
            model.set_history(history)
        return model

    def save(self, path: str | Path) -> Path:
        """Write ``config.toml``, ``meta.json`` (registered model name, sizes) and ``state.npz`` into ``path``."""
        self.check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.config.save(path / "config.toml")
        meta = {"model": self.name, "format": MODEL_FORMAT, "llm4rec": __version__, "n_users": self.n_users_,
                "n_items": self.n_items_}
        (path / "meta.json").write_text(json.dumps(meta, indent=1))
        h = self.history_log_
        state = {f"state.{k}": v for k, v in self.state_dict().items()}
        np.savez(path / "state.npz", allow_pickle=False, history_user=h.user, history_item=h.item,
                 history_timestamp=h.timestamp, history_rating=h.rating, **state)
        if hasattr(self, "item_ids_"):
            np.savez(path / "vocab.npz", allow_pickle=False, user_ids=self.user_ids_, item_ids=self.item_ids_)
            meta["vocab_fingerprint"] = self.vocabulary_fingerprint()
            (path / "meta.json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path, *, backends: Backends = None) -> Recommender:
        """Load a model written by :meth:`save` (called on the base class, it finds the right subclass).

        The folder is data only: the class is looked up in the model registry by the saved name
        (never imported from a path in the files) and must subclass ``cls``; no pickle is read.
        Saved remote LM backend blocks (endpoint, key variable) are refused unless the caller
        passes its own, ``backends={"generator": {...}}``, or ``backends="trust"`` (see
        docs/reliability.md). Damaged files raise :class:`ArtifactError` naming the file.
        """
        path = Path(path)
        meta = _read_meta(path / "meta.json")
        check_format(meta, MODEL_FORMAT, "model folder", path / "meta.json", ArtifactError)
        name = meta.get("model") or _name_for_class(str(meta.get("class", "")))
        if not isinstance(name, str):
            raise ArtifactError(f"{path / 'meta.json'} names no registered model (key 'model')")
        try:
            klass = MODELS.get(name)
        except ConfigError as exc:
            raise ArtifactError(f"{path / 'meta.json'}: {exc}") from None
        if not (isinstance(klass, type) and issubclass(klass, cls)):
            raise ArtifactError(f"{path} holds a {name!r} model ({klass.__name__}), not a {cls.__name__}")
        raw = guard_loaded(_read_toml(path / "config.toml"), backends, str(path))
        try:
            config = klass.Config.model_validate(raw)
            n_users, n_items = _size(meta, "n_users"), _size(meta, "n_items")
        except ValueError as exc:
            raise ArtifactError(f"{path / 'config.toml'} / meta.json: invalid for {name!r}: {exc}") from None
        try:
            with np.load(path / "state.npz", allow_pickle=False) as z:
                history = Interactions.build(z["history_user"], z["history_item"], z["history_timestamp"],
                                             z["history_rating"], n_users=n_users, n_items=n_items)
                state = {k[len("state."):]: z[k] for k in z.files if k.startswith("state.")}
            for ids, n, what in ((history.user, n_users, "user"), (history.item, n_items, "item")):
                if len(ids) and (ids.min() < 0 or ids.max() >= n):
                    raise ValueError(f"history {what} ids outside [0, {n})")
            model = klass.from_state(config, state, n_users=n_users, n_items=n_items, history=history)
            if (path / "vocab.npz").exists() or "vocab_fingerprint" in meta:
                with np.load(path / "vocab.npz", allow_pickle=False) as z:
                    model.set_vocabulary(z["user_ids"], z["item_ids"])
                if model.vocabulary_fingerprint() != meta.get("vocab_fingerprint"):
                    raise ValueError("vocab.npz does not match meta.json's vocab_fingerprint")
            _check_scores_one_user(model, history)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, IndexError, TypeError, RuntimeError,
                MemoryError) as exc:  # arrays of the wrong shape, type or size (RuntimeError: torch's load_state_dict)
            raise ArtifactError(f"{path / 'state.npz'} is damaged or incomplete ({type(exc).__name__}: "
                                f"{str(exc)[:300]}); save the model again") from None
        return model


def _check_scores_one_user(model: Recommender, history: Interactions) -> None:
    """A loaded local model scores the first user of its history with the right shape, so arrays of
    the wrong shape or type in ``state.npz`` fail at load (as :class:`ArtifactError`) rather than
    at the first request. Skipped for models that call a language model or read item text."""
    tags = model.tags()
    if tags.uses_generator or tags.needs_text or tags.candidates_only or not len(history.user):
        return
    scores = model.score(history.user[:1])
    if scores.shape != (1, model.n_items_):
        raise ValueError(f"scoring one user gave shape {scores.shape}, not (1, {model.n_items_})")


def _vocab_fingerprint(user_ids: Sequence[str] | np.ndarray, item_ids: Sequence[str] | np.ndarray) -> str:
    h = hashlib.sha256()
    for ids in (user_ids, item_ids):
        h.update("\x1f".join(np.asarray(ids).astype(str).tolist()).encode() + b"\x1e")
    return h.hexdigest()


def _name_for_class(target: str) -> str | None:
    """The registered name of a ``"module:Class"`` (folders saved before names were stored); no import."""
    return next((n for n, k in MODELS.items() if f"{k.__module__}:{k.__qualname__}" == target), None)


def _read_meta(file: Path) -> dict[str, Any]:
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{file.parent} is not a saved model folder (no meta.json)") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{file} is damaged: {exc}") from None
    if not isinstance(meta, dict):
        raise ArtifactError(f"{file} is damaged: not a JSON object")
    return meta


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        return read_toml(file)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{file} cannot be read as TOML: {exc}") from None


def _size(meta: dict[str, Any], key: str) -> int:
    value = meta.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"meta.json {key} must be a non-negative integer, got {value!r}")
    return value


def mask_rows(scores: np.ndarray, matrix: sp.csr_matrix, users: np.ndarray, value: float = -np.inf) -> None:
    """Set ``scores[i, j] = value`` for every non-zero ``matrix[users[i], j]`` (in place, vectorised)."""
    sub = matrix[users]
    rows = np.repeat(np.arange(len(users)), np.diff(sub.indptr))
    scores[rows, sub.indices] = value


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries per row, sorted descending.

    Ties: the lower index comes first, exactly, also across the cut-off: the
    result equals the first ``k`` columns of a stable descending sort, so the
    top 5 is always the head of the top 10 (and of any larger ``k``). NaN ranks
    below every number (as ``-inf``, lower index first among them).

    Vectorised: ``argpartition`` picks ``k`` entries in linear time; only rows
    whose k-th value is tied with entries left outside the partition are fixed,
    by taking the boundary group's lowest indices, and the ``k`` winners are
    sorted by (value descending, index ascending).
    """
    scores = np.asarray(scores)
    n = scores.shape[1]
    k = max(0, min(int(k), n))
    if k == 0 or scores.shape[0] == 0:
        empty = np.empty((scores.shape[0], k), np.int64)
        return empty, np.take_along_axis(scores, empty, axis=1)
    if np.issubdtype(scores.dtype, np.floating) and np.isnan(scores).any():
        scores = np.where(np.isnan(scores), -np.inf, scores)
    part = np.argpartition(scores, n - k, axis=1)[:, n - k:] if k < n else np.broadcast_to(
        np.arange(n), scores.shape)
    vals = np.take_along_axis(scores, part, axis=1)
    if k < n:
        kth = vals.min(axis=1)  # the k-th largest value of each row
        n_above = (vals > kth[:, None]).sum(axis=1)
        n_tied = (scores == kth[:, None]).sum(axis=1)
        fix = np.flatnonzero(n_above + n_tied > k)  # rows where the boundary tie group is cut
        if len(fix):
            sub = scores[fix]
            at_kth = sub == kth[fix, None]
            room = (k - n_above[fix])[:, None]  # boundary entries that fit, lowest index first
            take = (sub > kth[fix, None]) | (at_kth & (np.cumsum(at_kth, axis=1, dtype=np.int32) <= room))
            part = np.array(part)
            part[fix] = np.nonzero(take)[1].reshape(len(fix), k)
            vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64, copy=False)
    return idx, np.take_along_axis(scores, idx, axis=1)
