"""Evaluation protocols on one :class:`~llm4rec.data.split.Split`: full ranking, sampled, pointwise.

Each protocol is a typed config (``kind`` discriminates them in a run TOML) with
``evaluate(model, split, part)``. Targets of a user are their distinct items in
``split.part(part)`` that are not already in ``split.known_for(part)`` (an item
the model has seen is excluded from every ranking, so it cannot be a target).

The caller sets the model's inference-time history (``model.set_history(
split.known_for(part))``) before evaluating; protocols only read scores.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PrivateAttr, TypeAdapter, ValidationError

from llm4rec.config import Config
from llm4rec.data.interactions import Interactions
from llm4rec.data.split import Split
from llm4rec.errors import ConfigError
from llm4rec.eval import metrics as M
from llm4rec.models.base import Recommender, mask_rows, top_k

ALL_METRICS: tuple[str, ...] = (*M.RANKING_METRICS, "coverage", "popularity", "auc", "gauc", "logloss")
DEFAULT_METRICS: tuple[str, ...] = ALL_METRICS
_PART_CODE = {"train": 0, "valid": 1, "test": 2}
_CELLS_PER_BATCH = 8_000_000  # scores held per batch (float32: 32 MB)


@dataclass
class ProtocolResult:
    """What one protocol measured for one model.

    ``users`` is aligned with every array of ``per_user`` (``"ndcg@10"``,
    ``"hr@10"``, ``"auc"``, ...): evaluated user ids, or for
    :class:`SampledCandidates` the user of each (user, target) row (a user with
    several targets repeats; :meth:`by_user` averages them). ``global_metrics``
    holds values that are not means over users (``"coverage@10"``, the pooled
    ``"auc"``, ``"gauc"``, ``"logloss"``). A name appears in one of the two only.
    """

    protocol: str
    users: np.ndarray
    per_user: dict[str, np.ndarray]
    global_metrics: dict[str, float]
    seconds: float
    part: str = "test"
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """One number per metric: its global value if it has one, else the mean over users (NaN skipped)."""
        out = {k: float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan")
               for k, v in self.per_user.items()}
        out.update(self.global_metrics)
        return out

    def by_user(self) -> ProtocolResult:
        """Per-user means of row-level values (for bootstraps that resample users, not rows)."""
        ids, inverse = np.unique(self.users, return_inverse=True)
        if len(ids) == len(self.users):
            return self
        n = np.bincount(inverse, minlength=len(ids))
        per_user = {k: np.bincount(inverse, weights=v, minlength=len(ids)) / n
                    for k, v in self.per_user.items()}
        return ProtocolResult(self.protocol, ids, per_user, dict(self.global_metrics), self.seconds,
                              self.part, list(self.notes))


# ---------------------------------------------------------------------------- shared helpers
def resolve_metrics(metrics: Iterable[str], ks: Iterable[int]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Check metric names (lower-cased, de-duplicated) and cut-offs; :class:`ConfigError` lists valid ones."""
    names = tuple(dict.fromkeys(str(m).lower() for m in metrics))
    unknown = [m for m in names if m not in ALL_METRICS]
    if unknown:
        raise ConfigError(f"unknown metrics {unknown}; valid: {', '.join(ALL_METRICS)}")
    ks = tuple(sorted(set(int(k) for k in ks)))
    if not ks or ks[0] < 1:
        raise ConfigError(f"cut-offs ks must be positive integers; got {list(ks)}")
    return names, ks


def _keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    return np.asarray(users, dtype=np.int64) * n_items + np.asarray(items, dtype=np.int64)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (numpy 2's hash-based unique is much slower on large int arrays)."""
    a = np.sort(a)
    return a[np.r_[True, a[1:] != a[:-1]]] if len(a) else a


def _unique_keys(inters: Iterable[Interactions], n_items: int) -> np.ndarray:
    return _sorted_unique(np.concatenate([_keys(x.user, x.item, n_items) for x in inters]))


def _contains(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Elementwise ``queries in sorted_keys`` via binary search (any shape)."""
    if len(sorted_keys) == 0:
        return np.zeros(np.shape(queries), bool)
    pos = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return sorted_keys[pos] == queries


def targets(split: Split, part: str, known: Interactions | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) targets of ``part`` not already known before it, sorted by user then item.

    ``known`` defaults to ``split.known_for(part)`` (pass it when already built).
    """
    n_items = split.n_items
    known = split.known_for(part) if known is None else known
    keys = _unique_keys([split.part(part)], n_items)
    keys = keys[~_contains(_unique_keys([known], n_items), keys)]
    return keys // n_items, keys % n_items


def _select_users(all_users: np.ndarray, users: np.ndarray | None) -> np.ndarray:
    """Boolean mask over ``all_users``: those in the optional subset ``users``."""
    if users is None:
        return np.ones(len(all_users), bool)
    return np.isin(all_users, np.asarray(users, dtype=np.int64))


def _batches(n: int, size: int, progress: bool, desc: str) -> Iterable[slice]:
    starts = range(0, n, max(1, size))
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=desc, unit="batch")
    for s in starts:
        yield slice(s, min(n, s + size))


def _finite_scores(scores: np.ndarray, shape: tuple[int, ...], who: str) -> np.ndarray:
    """A writable float32 copy; NaN (an unscorable item) becomes -inf so it ranks last, never first."""
    s = np.array(scores, dtype=np.float32)
    if s.shape != shape:
        raise ValueError(f"{who}.score returned shape {s.shape}; expected {shape}")
    s[np.isnan(s)] = -np.inf
    return s


def sample_negatives(row_users: np.ndarray, n: int, exclude_keys: np.ndarray, n_items: int,
                     weights: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct negatives per row: items the row's user has no key for in ``exclude_keys``.

    ``exclude_keys`` are sorted, distinct ``user * n_items + item`` keys.

    Draws i.i.d. item ids (uniform, or proportional to ``weights``), keeps each
    row's first ``n`` distinct admissible ones (= sequential sampling without
    replacement), and redraws only for rows still short; rows whose admissible
    mass is tiny fall back to an exact per-row draw. Vectorised over rows.
    Raises :class:`ConfigError` when a user has fewer than ``n`` admissible items.
    """
    row_users = np.asarray(row_users, dtype=np.int64)
    out = np.empty((len(row_users), n), np.int64)
    if n == 0 or len(row_users) == 0:
        return out
    ex_user, ex_item = exclude_keys // n_items, exclude_keys % n_items
    n_users = int(max(row_users.max(), ex_user.max(initial=-1))) + 1
    if weights is None:
        p = np.full(n_items, 1.0 / n_items)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (n_items,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError("sampling weights must be non-negative, one per item, with a positive sum")
        p = w / w.sum()
    positive = p > 0
    n_ok = positive.sum() - np.bincount(ex_user, weights=positive[ex_item], minlength=n_users)
    short = n_ok[row_users] < n
    if short.any():
        u = int(row_users[short][0])
        raise ConfigError(f"user {u} has only {int(n_ok[u])} items to sample negatives from, fewer than "
                          f"n_negatives={n}; lower n_negatives")
    mass = np.maximum(1.0 - np.bincount(ex_user, weights=p[ex_item], minlength=n_users)[row_users], 1e-12)
    cdf = np.cumsum(p)

    def draw(shape: tuple[int, int]) -> np.ndarray:
        if weights is None:
            return rng.integers(0, n_items, size=shape, dtype=np.int64)
        return np.minimum(np.searchsorted(cdf, rng.random(shape) * cdf[-1], side="right"), n_items - 1)

    def fill(rows: np.ndarray, buf: np.ndarray) -> np.ndarray:
        """Write rows that have ``n`` admissible distinct draws; return the mask of rows still short."""
        ok = ~_contains(exclude_keys, row_users[rows, None] * n_items + buf)
        order = np.argsort(buf, axis=1, kind="stable")
        srt = np.take_along_axis(buf, order, axis=1)
        dup_sorted = np.zeros(buf.shape, bool)
        dup_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]  # stable sort: the first occurrence is not a duplicate
        dup = np.empty_like(dup_sorted)
        np.put_along_axis(dup, order, dup_sorted, axis=1)
        keep = ok & ~dup
        done = keep.sum(axis=1) >= n
        kd = keep[done]
        out[rows[done]] = buf[done][kd & (np.cumsum(kd, axis=1) <= n)].reshape(-1, n)
        return ~done

    def width(rows: np.ndarray) -> int:  # draws that usually yield n admissible distinct items
        return min(max_width, int(np.ceil(1.3 * n / np.median(mass[rows]))) + 16)

    max_width = 4 * n_items + 64
    hopeless = 1.3 * n / mass + 16 > max_width  # admissible mass too small for rejection sampling
    rest = [np.flatnonzero(hopeless)]
    candidates = np.flatnonzero(~hopeless)
    chunk = max(1, 4_000_000 // width(candidates)) if len(candidates) else 1
    for start in range(0, len(candidates), chunk):
        rows = candidates[start:start + chunk]
        buf = np.empty((len(rows), 0), np.int64)
        while len(rows) and buf.shape[1] < max_width and buf.size < 20_000_000:
            buf = np.concatenate([buf, draw((len(rows), max(width(rows), buf.shape[1])))], axis=1)
            pending = fill(rows, buf)
            rows, buf = rows[pending], buf[pending]
        rest.append(rows)
    for r in np.concatenate(rest):  # rare: exact draw per row
        u = row_users[r]
        lo, hi = np.searchsorted(exclude_keys, [u * n_items, (u + 1) * n_items])
        allowed = positive.copy()
        allowed[exclude_keys[lo:hi] - u * n_items] = False
        ids = np.flatnonzero(allowed)
        out[r] = rng.choice(ids, size=n, replace=False, p=None if weights is None else p[ids] / p[ids].sum())
    return out


# ---------------------------------------------------------------------------- protocols
class EvalProtocol(Config):
    """Base of the protocols: ``evaluate`` a fitted model on one part of a split."""

    kind: str
    label: str | None = Field(None, description="name shown in results (default: built from the parameters)")

    #: metric names this protocol computes; other valid names passed to ``evaluate`` are skipped
    supported_metrics: ClassVar[tuple[str, ...]] = ()

    _cache: dict[tuple, tuple] = PrivateAttr(default_factory=dict)

    def _cached(self, split: Split, part: str, what: str, build: Callable[[], Any]) -> Any:
        """Memoise ``build()`` per split object (identity), part and parameter values."""
        key = (id(split), part, what, self.model_dump_json(exclude={"label"}))
        hit = self._cache.get(key)
        if hit is None or hit[0] is not split:
            hit = (split, build())
            self._cache[key] = hit
        return hit[1]

    @property
    def display(self) -> str:
        return self.label or self._default_label()

    def _default_label(self) -> str:
        return self.kind

    def evaluate(self, model: Recommender, split: Split, part: str = "test", *,
                 ks: Sequence[int] = (5, 10, 20), metrics: Sequence[str] = DEFAULT_METRICS,
                 batch_size: int | None = None, users: np.ndarray | None = None,
                 progress: bool = False) -> ProtocolResult:
        """Score ``model`` on ``split.part(part)`` and compute ``metrics`` at cut-offs ``ks``.

        ``users`` restricts the evaluation to a subset of user ids; ``batch_size``
        is the number of users (rows) scored per call (default: sized to memory).
        Valid metric names this protocol does not compute (see ``supported_metrics``)
        are skipped, so one metric list can serve every protocol of a run.
        """
        if part not in ("valid", "test"):
            raise ConfigError(f"protocols evaluate 'valid' or 'test', not {part!r}")
        names, ks = resolve_metrics(metrics, ks)
        self._prepare(split, part)  # candidates / pairs, shared by every model: not part of its cost
        start = time.perf_counter()
        result = self._evaluate(model, split, part, ks, [m for m in names if m in self.supported_metrics],
                                batch_size, users, progress)
        result.seconds = time.perf_counter() - start
        result.part = part
        return result

    def _prepare(self, split: Split, part: str) -> Any:
        """Hook: build (and cache, see ``_cached``) what every model is evaluated on."""

    @abstractmethod
    def _evaluate(self, model: Recommender, split: Split, part: str, ks: tuple[int, ...], names: list[str],
                  batch_size: int | None, users: np.ndarray | None, progress: bool) -> ProtocolResult: ...


class FullRanking(EvalProtocol):
    """Rank the whole catalog per user, known items (``split.known_for(part)``) excluded.

    Ties in score are broken by a fixed random order of the items (seeded), so a
    model that scores everything alike gets a random list rather than the lowest
    item ids (ids often correlate with popularity or age); ``tie_break="index"``
    keeps :func:`~llm4rec.models.base.top_k`'s lower-id-first order. Either way the
    order is exact across the cut-off, so metrics at one K do not depend on the
    other ``ks`` requested.
    """

    kind: Literal["full"] = "full"
    tie_break: Literal["random", "index"] = "random"
    seed: int = 0

    supported_metrics: ClassVar[tuple[str, ...]] = (*M.RANKING_METRICS, "coverage", "popularity")

    def _prepare(self, split: Split, part: str) -> tuple[np.ndarray, np.ndarray, Any]:
        """(target keys, targets per user, known-items CSR), cached per split and part."""
        def build() -> tuple[np.ndarray, np.ndarray, Any]:
            known = split.known_for(part)
            t_users, t_items = targets(split, part, known)
            n_rel = np.bincount(t_users, minlength=split.n_users)
            return _keys(t_users, t_items, split.n_items), n_rel, known.to_csr()

        return self._cached(split, part, "targets", build)

    def _evaluate(self, model, split, part, ks, names, batch_size, users, progress) -> ProtocolResult:
        n_items = split.n_items
        target_keys, n_rel_all, known_csr = self._prepare(split, part)
        eval_users = np.flatnonzero(n_rel_all)
        eval_users = eval_users[_select_users(eval_users, users)]
        n_rel = n_rel_all[eval_users]
        perm = np.random.default_rng(self.seed).permutation(n_items) if self.tie_break == "random" else None
        k_max = min(max(ks), n_items)
        top = np.full((len(eval_users), k_max), -1, np.int64)
        size = batch_size or max(1, min(4096, _CELLS_PER_BATCH // max(1, n_items)))
        for sl in _batches(len(eval_users), size, progress, f"full ranking ({part})"):
            batch = eval_users[sl]
            scores = _finite_scores(model.score(batch), (len(batch), n_items), type(model).__name__)
            mask_rows(scores, known_csr, batch)
            if perm is None:
                idx, vals = top_k(scores, k_max)
            else:
                idx, vals = top_k(scores[:, perm], k_max)
                idx = perm[idx]
            top[sl] = np.where(vals > -np.inf, idx, -1)  # -inf: seen or unscorable, not a recommendation
        hits = (top >= 0) & _contains(target_keys, eval_users[:, None] * n_items + top)
        ranking = [m for m in names if m in M.RANKING_METRICS]
        per_user = M.ranking_metrics(hits, n_rel, ks, ranking) if ranking else {}
        global_metrics: dict[str, float] = {}
        counts = split.train.item_counts()
        for k in ks:
            if "coverage" in names:
                global_metrics[f"coverage@{k}"] = M.coverage(top, n_items, k)
            if "popularity" in names:
                per_user[f"popularity@{k}"] = M.average_popularity(top, counts, k)
        return ProtocolResult(self.display, eval_users, per_user, global_metrics, 0.0)


class _NegativeSampling(EvalProtocol):
    """Shared: negatives drawn from items the user never interacted with in any part of the split."""

    n_negatives: int = Field(100, ge=1)
    sampler: Literal["uniform", "popularity"] = "uniform"
    seed: int = 0

    def _rng(self, part: str, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, _PART_CODE[part], stream])

    def _negatives(self, split: Split, part: str, row_users: np.ndarray) -> np.ndarray:
        exclude = _unique_keys([split.train, split.valid, split.test], split.n_items)
        weights = None if self.sampler == "uniform" else split.train.item_counts()
        return sample_negatives(row_users, self.n_negatives, exclude, split.n_items, weights,
                                self._rng(part, 0))


class SampledCandidates(_NegativeSampling):
    """Rank each target among ``n_negatives`` sampled negatives (one row per (user, target)).

    Candidates are fixed by ``seed`` and identical for every model (cached per
    split and part); :meth:`candidates` exposes them with the target in column 0.
    The model sees each row in a seeded random column order, so a position-biased
    scorer (an LLM reading a list) gains nothing from the target's place.

    Ties: the target's position is taken as uniform over its tie block (the
    negatives scoring strictly higher come first, then the ties in random order),
    and metrics are exact expectations over that (see
    :func:`~llm4rec.eval.metrics.expected_single_target_metrics`): constant scores
    give chance level, e.g. HR@1 = 1 / (n_negatives + 1). ``"auc"`` per row is
    ``(#negatives scored lower + 0.5 * #tied) / n_negatives``.
    """

    kind: Literal["sampled"] = "sampled"

    supported_metrics: ClassVar[tuple[str, ...]] = (*M.RANKING_METRICS, "auc")

    def _default_label(self) -> str:
        return f"sampled-{self.sampler}-{self.n_negatives}"

    def candidates(self, split: Split, part: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """``(users, items)``: each row's user and candidates ``(n_rows, 1 + n_negatives)``, target first."""
        def build() -> tuple[np.ndarray, np.ndarray]:
            users, items = targets(split, part)
            negatives = self._negatives(split, part, users)
            return users, np.concatenate([items[:, None], negatives], axis=1)

        return self._cached(split, part, "candidates", build)

    def shown_order(self, split: Split, part: str = "test") -> np.ndarray:
        """Per row, the column order in which candidates are handed to the model (seeded permutation)."""
        def build() -> np.ndarray:
            users, items = self.candidates(split, part)
            return self._rng(part, 1).permuted(np.tile(np.arange(items.shape[1]), (len(users), 1)), axis=1)

        return self._cached(split, part, "order", build)

    def _prepare(self, split: Split, part: str) -> None:
        self.shown_order(split, part)

    def _evaluate(self, model, split, part, ks, names, batch_size, users, progress) -> ProtocolResult:
        row_users, items = self.candidates(split, part)
        order = self.shown_order(split, part)
        keep = _select_users(row_users, users)
        row_users, items, order = row_users[keep], items[keep], order[keep]
        n_cand = items.shape[1]
        n_higher = np.empty(len(row_users), np.int64)
        n_ties = np.empty(len(row_users), np.int64)
        size = batch_size or max(1, _CELLS_PER_BATCH // max(1, n_cand) // 8)
        for sl in _batches(len(row_users), size, progress, f"sampled candidates ({part})"):
            shown = np.take_along_axis(items[sl], order[sl], axis=1)
            s_shown = _finite_scores(model.score(row_users[sl], shown), shown.shape, type(model).__name__)
            scores = np.empty_like(s_shown)
            np.put_along_axis(scores, order[sl], s_shown, axis=1)  # back to target-first columns
            target = scores[:, :1]
            n_higher[sl] = (scores[:, 1:] > target).sum(axis=1)
            n_ties[sl] = (scores[:, 1:] == target).sum(axis=1)
        ranking = [m for m in names if m in M.RANKING_METRICS]
        per_user = M.expected_single_target_metrics(n_higher, n_ties, ks, ranking) if ranking else {}
        if "auc" in names:
            n_neg = max(1, n_cand - 1)
            per_user["auc"] = (n_neg - n_higher - 0.5 * n_ties) / n_neg
        return ProtocolResult(self.display, row_users, per_user, {}, 0.0)


class Pointwise(_NegativeSampling):
    """Yes/no labels scored one (user, item) pair at a time: AUC, GAUC and logloss (the TALLRec setting).

    By default positives are the part's targets and each gets ``n_negatives``
    sampled negatives (as in :class:`SampledCandidates`). With
    ``label_threshold`` the part's explicit ratings are the labels instead
    (rating >= threshold -> 1, else 0), no sampling. Logloss is reported only
    when every score lies in [0, 1]. ``global_metrics`` holds the pooled
    ``auc``, the impression-weighted ``gauc`` and the mean ``logloss`` over pairs;
    ``per_user`` holds ``user_auc`` (each user's AUC, NaN for a user whose labels
    are all one class; the input to paired tests) and ``user_logloss``.
    """

    kind: Literal["pointwise"] = "pointwise"
    n_negatives: int = Field(1, ge=1, description="negatives per positive (unused with label_threshold)")
    label_threshold: float | None = None

    supported_metrics: ClassVar[tuple[str, ...]] = ("auc", "gauc", "logloss")

    def _default_label(self) -> str:
        if self.label_threshold is not None:
            return f"pointwise-rating>={self.label_threshold:g}"
        return f"pointwise-{self.sampler}-{self.n_negatives}"

    def pairs(self, split: Split, part: str = "test") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(users, items, labels)`` sorted by user: the labelled pairs every model is scored on."""
        def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if self.label_threshold is not None:
                inter = split.part(part)
                keys = _keys(inter.user, inter.item, split.n_items)
                # one label per (user, item): the last rating in time order
                last = len(keys) - 1 - np.unique(keys[::-1], return_index=True)[1]
                labels = (inter.rating[last] >= self.label_threshold).astype(np.int8)
                return keys[last] // split.n_items, keys[last] % split.n_items, labels
            users, items = targets(split, part)
            negatives = self._negatives(split, part, users)
            n_cols = 1 + negatives.shape[1]
            all_items = np.concatenate([items[:, None], negatives], axis=1).ravel()
            labels = np.zeros((len(users), n_cols), np.int8)
            labels[:, 0] = 1
            return np.repeat(users, n_cols), all_items, labels.ravel()

        return self._cached(split, part, f"pairs{self.label_threshold}", build)

    def _prepare(self, split: Split, part: str) -> None:
        self.pairs(split, part)

    def _evaluate(self, model, split, part, ks, names, batch_size, users, progress) -> ProtocolResult:
        p_users, p_items, labels = self.pairs(split, part)
        keep = _select_users(p_users, users)
        p_users, p_items, labels = p_users[keep], p_items[keep], labels[keep]
        scores = _score_pairs(model, p_users, p_items, batch_size, progress, f"pointwise ({part})")
        ids, user_auc, _ = M.group_auc(p_users, labels, scores)
        per_user: dict[str, np.ndarray] = {}
        global_metrics: dict[str, float] = {}
        notes: list[str] = []
        if "auc" in names:
            per_user["user_auc"] = user_auc
            global_metrics["auc"] = M.auc(labels, scores)
        if "gauc" in names:
            global_metrics["gauc"] = M.gauc(p_users, labels, scores)
        if "logloss" in names:
            if M.is_probability(scores):
                loss = M.logloss(labels, scores)
                inverse = np.searchsorted(ids, p_users)
                per_user["user_logloss"] = np.bincount(inverse, weights=loss) / np.bincount(inverse)
                global_metrics["logloss"] = float(loss.mean())
            else:
                notes.append(f"{self.display}: logloss skipped: scores are not probabilities in [0, 1]")
        return ProtocolResult(self.display, ids, per_user, global_metrics, 0.0, notes=notes)


def _score_pairs(model: Recommender, users: np.ndarray, items: np.ndarray, batch_size: int | None,
                 progress: bool, desc: str) -> np.ndarray:
    """Scores of (user, item) pairs sorted by user: one ``score(users, items)`` call per batch of users.

    Users are batched in order of list length and each list is padded to the
    batch's longest (repeating the user's first item), so padding stays small.
    """
    out = np.empty(len(users), np.float32)
    if len(users) == 0:
        return out
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    lengths = np.diff(np.r_[starts, len(users)])
    by_length = np.argsort(lengths, kind="stable")
    starts, lengths = starts[by_length], lengths[by_length]
    size = batch_size or max(1, _CELLS_PER_BATCH // 8 // max(1, int(lengths.max())))
    for sl in _batches(len(starts), size, progress, desc):
        first, count = starts[sl], lengths[sl]
        width = int(count.max())
        row = np.repeat(np.arange(len(first)), count)
        col = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        pair = np.repeat(first, count) + col
        grid = np.repeat(items[first][:, None], width, axis=1)
        grid[row, col] = items[pair]
        scores = _finite_scores(model.score(users[first], grid), grid.shape, type(model).__name__)
        out[pair] = scores[row, col]
    return out


Protocol = Annotated[FullRanking | SampledCandidates | Pointwise, Field(discriminator="kind")]
_PROTOCOL_ADAPTER: TypeAdapter = TypeAdapter(Protocol)


def make_protocol(spec: Mapping[str, Any] | Config) -> FullRanking | SampledCandidates | Pointwise:
    """Build a protocol from a TOML table / dict (or a config with those fields); ``kind`` picks the class."""
    data = spec.model_dump(exclude_none=True) if isinstance(spec, Config) else dict(spec)
    try:
        return _PROTOCOL_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid protocol {data!r}: {exc}") from exc
