"""Splits: train / valid / test over one dataset, built deterministically from a seed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llm4rec import __version__
from llm4rec.data.dataset import Dataset
from llm4rec.data.exceptions import DataError
from llm4rec.data.interactions import Interactions
from llm4rec.errors import ConfigError
from llm4rec.registry import SPLITS
from llm4rec.versioning import check_format


@dataclass(eq=False)
class Split:
    """Train / valid / test interactions over one id universe, plus how they were made.

    ``known_for("valid")`` is what a model may see when predicting valid (train);
    ``known_for("test")`` is train + valid. Protocols exclude those items from
    the ranking and the runner passes them to ``Recommender.set_history``.
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    dataset: str = ""
    #: rows of the source log that no part holds: left out by the split (a new user's later
    #: interactions) or filtered out before it (k-core). Never targets or history, but real
    #: interactions: sampled negatives avoid them.
    unused: Interactions | None = None

    @property
    def n_users(self) -> int:
        return self.train.n_users

    @property
    def n_items(self) -> int:
        return self.train.n_items

    def part(self, name: str) -> Interactions:
        if name not in ("train", "valid", "test"):
            raise ValueError(f"unknown split part {name!r}; use 'train', 'valid' or 'test'")
        return getattr(self, name)

    def known_for(self, part: str) -> Interactions:
        """Interactions observable before predicting ``part``."""
        if part == "valid":
            return self.train
        if part == "test":
            return self.train.concat(self.valid) if len(self.valid) else self.train
        raise ValueError(f"known_for takes 'valid' or 'test', not {part!r}")

    def with_unused(self, rows: Interactions) -> Split:
        """A copy whose :attr:`unused` also holds ``rows`` (e.g. the interactions a filter removed)."""
        from dataclasses import replace

        if len(rows) == 0:
            return self
        return replace(self, unused=rows if self.unused is None else self.unused.concat(rows))

    def save(self, path: str | Path) -> Path:
        """Write the split to the folder ``path``: ``split.npz`` (arrays), ``split.json`` (kind, params)."""
        return _save_split(self, path)

    @staticmethod
    def load(path: str | Path, dataset: Dataset | None = None) -> Split:
        """Read a split written by :meth:`save` (exact round-trip of every array, kind and params).

        Pass the ``dataset`` it was made from to attach its catalog and user info
        (its id universe must match).
        """
        return _load_split(path, dataset)


@SPLITS.register("leave_one_out")
def leave_one_out(ds: Dataset | Interactions, *, min_train: int = 1, seed: int = 0,
                  ties: str = "file_order") -> Split:
    """Leave-one-out by time: per user the last interaction is test, the second-last valid.

    Users with fewer than ``min_train + 2`` interactions keep everything in train
    (they are not evaluated). Interactions at the same time are ordered by ``ties``
    (see :func:`order_ties`; default: file order), so the split is deterministic;
    ``seed`` only seeds ``ties="random"``.
    """
    inter = order_ties(ds.interactions if isinstance(ds, Dataset) else ds, ties, seed)
    off = inter.user_offsets()
    counts = np.diff(off)
    pos = np.arange(len(inter)) - np.repeat(off[:-1], counts)  # position within the user's sequence
    n_of_row = np.repeat(counts, counts)
    evaluated = n_of_row >= min_train + 2
    test = evaluated & (pos == n_of_row - 1)
    valid = evaluated & (pos == n_of_row - 2)
    train = ~(test | valid)
    name = ds.name if isinstance(ds, Dataset) else ""
    return Split(inter.subset(train), inter.subset(valid), inter.subset(test), "leave_one_out",
                 _params({"min_train": min_train, "seed": seed}, ties), name)


SplitSource = Dataset | Interactions


def _interactions(ds: SplitSource) -> Interactions:
    return ds.interactions if isinstance(ds, Dataset) else ds


def _name(ds: SplitSource) -> str:
    return ds.name if isinstance(ds, Dataset) else ""


TIE_POLICIES = ("file_order", "item_id", "random", "random(SEED)")
_RANDOM_TIES = re.compile(r"random(?:\((-?\d+)\))?")


def order_ties(inter: Interactions, ties: str = "file_order", seed: int = 0) -> Interactions:
    """Order each user's interactions that share a timestamp by the tie policy ``ties``.

    A split takes positions in each user's time-ordered log (the last one is the
    leave-one-out test item, the first ``max_train`` are a new user's history) and
    sequential models read that order, so rows with equal timestamps need a rule:

    - ``"file_order"`` (default): the order of the source file (a stable sort by time);
    - ``"item_id"``: ascending item id (dense ids follow the external ids' natural
      order), independent of how the file was written;
    - ``"random(N)"``: a random order drawn with seed ``N`` (``"random"``: the split's seed),
      also independent of the file order.

    Returns the log re-ordered (the same object for ``"file_order"``).
    """
    if ties == "file_order":
        return inter
    if ties == "item_id":
        key = inter.item
    else:
        m = _RANDOM_TIES.fullmatch(str(ties))
        if m is None:
            raise ConfigError(f"unknown tie policy {ties!r}; use 'file_order', 'item_id', 'random' or "
                              "'random(SEED)'")
        # random ranks handed out in a canonical (user, item, time) order, so the file order plays no part
        key = np.empty(len(inter), np.int64)
        key[np.lexsort((inter.timestamp, inter.item, inter.user))] = np.random.default_rng(
            int(m.group(1)) if m.group(1) else seed).permutation(len(inter))
    return inter.subset(np.lexsort((key, inter.timestamp, inter.user)))


def timestamp_ties(inter: Interactions) -> dict[str, float]:
    """How much a split depends on the tie policy: share of users whose last timestamp (the
    leave-one-out test item) or second-last row (valid) is shared with another of their rows."""
    off = inter.user_offsets()
    counts = np.diff(off)
    users = np.flatnonzero(counts >= 2)
    last = off[users + 1] - 1
    same_last = inter.timestamp[last] == inter.timestamp[last - 1]
    out = {"users": float(len(users)), "last_tied": float(same_last.mean()) if len(users) else 0.0}
    three = users[counts[users] >= 3]
    if len(three):
        second = off[three + 1] - 2
        out["second_last_tied"] = float(((inter.timestamp[second] == inter.timestamp[second - 1])
                                         | (inter.timestamp[second] == inter.timestamp[second + 1])).mean())
    return out


def _check_fractions(**fracs: float) -> None:
    for key, value in fracs.items():
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{key} must be in [0, 1), not {value}")
    if sum(fracs.values()) >= 1.0:
        raise ValueError(f"{' + '.join(fracs)} must leave something for train, got {sum(fracs.values())}")


def _params(params: dict[str, Any], ties: str) -> dict[str, Any]:
    """Split parameters for the record; the tie policy only when it is not the default."""
    return params if ties == "file_order" else {**params, "ties": ties}


def _by_role(inter: Interactions, role: np.ndarray, kind: str, params: dict[str, Any], name: str) -> Split:
    """Split rows by a role array: 0 train, 1 valid, 2 test (row order kept)."""
    train, valid, test = (inter.subset(role == r) for r in (0, 1, 2))
    unused = inter.subset(role < 0) if (role < 0).any() else None
    return Split(train, valid, test, kind, params, name, unused)


@SPLITS.register("temporal")
def temporal(ds: SplitSource, valid: float = 0.1, test: float = 0.1, *, seed: int = 0,
             ties: str = "file_order") -> Split:
    """Global temporal split: the earliest ``1 - valid - test`` share of all interactions is train,
    the next ``valid`` share valid, the latest ``test`` share test.

    Shares are exact row counts (rounded). Rows with equal timestamps are ordered
    by dense user id, then by ``ties`` (:func:`order_ties`; default: their order in
    the log), so a tie that straddles a cut is split deterministically; every
    valid/test timestamp is ``>=`` every train timestamp. ``seed`` only seeds
    ``ties="random"``.
    """
    _check_fractions(valid=valid, test=test)
    inter = order_ties(_interactions(ds), ties, seed)
    n = len(inter)
    n_test, n_valid = round(n * test), round(n * valid)
    n_train = n - n_valid - n_test
    rank = np.empty(n, np.int64)
    rank[np.argsort(inter.timestamp, kind="stable")] = np.arange(n)
    role = (rank >= n_train).astype(np.int8) + (rank >= n_train + n_valid)
    return _by_role(inter, role, "temporal", _params({"valid": valid, "test": test, "seed": seed}, ties),
                    _name(ds))


@SPLITS.register("cold_start_items")
def cold_start_items(ds: SplitSource, test_frac: float = 0.1, valid_frac: float = 0.1, *,
                     seed: int = 0, ties: str = "file_order") -> Split:
    """Cold-start items: a random ``test_frac`` (``valid_frac``) share of the rated items, drawn with
    ``seed``, sends all its interactions to test (valid); train never sees those items.

    Shares are of items with at least one interaction (rounded), not of rows.
    ``ties`` orders same-time rows within each part (:func:`order_ties`).
    """
    _check_fractions(test_frac=test_frac, valid_frac=valid_frac)
    inter = order_ties(_interactions(ds), ties, seed)
    rated = np.flatnonzero(inter.item_counts())
    perm = np.random.default_rng(seed).permutation(rated)
    n_test, n_valid = round(len(rated) * test_frac), round(len(rated) * valid_frac)
    item_role = np.zeros(inter.n_items, np.int8)
    item_role[perm[n_test:n_test + n_valid]] = 1
    item_role[perm[:n_test]] = 2
    params = _params({"test_frac": test_frac, "valid_frac": valid_frac, "seed": seed}, ties)
    return _by_role(inter, item_role[inter.item], "cold_start_items", params, _name(ds))


@SPLITS.register("cold_start_users")
def cold_start_users(ds: SplitSource, max_train: int = 5, frac: float = 0.1, *, seed: int = 0,
                     ties: str = "file_order") -> Split:
    """Few-interaction users: a seeded ``frac`` share of the users with at least ``max_train + 2``
    interactions becomes *new users* who are the only ones evaluated.

    A new user keeps only their first ``max_train + 2`` interactions by time: the first
    ``max_train`` are train, the next one valid, the next one test (their later interactions are
    not used, as if the log had ended there). Every other user keeps all but their last interaction
    in train and the second-last in valid (as in :func:`leave_one_out`, for early stopping); their
    last interaction is not used, so test holds only the new users' targets. ``ties`` orders
    same-time interactions (:func:`order_ties`).
    """
    if max_train < 1:
        raise ValueError(f"max_train must be >= 1, not {max_train}")
    if not 0.0 < frac < 1.0:
        raise ValueError(f"frac must be in (0, 1), not {frac}")
    inter = order_ties(_interactions(ds), ties, seed)
    off = inter.user_offsets()
    counts = np.diff(off)
    eligible = np.flatnonzero(counts >= max_train + 2)
    if not len(eligible):
        raise DataError(f"no user has the {max_train + 2} interactions a cold-start user needs")
    n_cold = max(1, round(len(eligible) * frac))
    cold = np.zeros(inter.n_users, bool)
    cold[np.random.default_rng(seed).choice(eligible, n_cold, replace=False)] = True
    pos = np.arange(len(inter)) - np.repeat(off[:-1], counts)
    n_of_row, cold_row = np.repeat(counts, counts), cold[inter.user]
    role = np.full(len(inter), -1, np.int8)  # -1: not used
    role[cold_row & (pos < max_train)] = 0
    role[cold_row & (pos == max_train)] = 1
    role[cold_row & (pos == max_train + 1)] = 2
    warm = ~cold_row & (n_of_row >= 3)
    role[warm & (pos < n_of_row - 2)] = 0
    role[warm & (pos == n_of_row - 2)] = 1
    role[~cold_row & (n_of_row < 3)] = 0
    params = _params({"max_train": max_train, "frac": frac, "seed": seed}, ties)
    return _by_role(inter, role, "cold_start_users", params, _name(ds))


def kcore(ds: SplitSource, k: int, *, user_k: int | None = None, item_k: int | None = None) -> Any:
    """Iterative k-core: drop interactions until every remaining user and item has ``>= k`` of them.

    ``user_k`` / ``item_k`` override ``k`` for one side. Nothing is re-indexed:
    the id universe (``n_users``, ``n_items``, ``user_ids``, the catalog) stays
    the same and filtered-out users/items simply have no interactions left, so
    ids remain comparable with the unfiltered dataset. Returns the same type it
    was given; a :class:`Dataset` is renamed ``"<name>-<k>core"``.
    """
    return kcore_with_removed(ds, k, user_k=user_k, item_k=item_k)[0]


def kcore_with_removed(ds: SplitSource, k: int, *, user_k: int | None = None,
                       item_k: int | None = None) -> tuple[Any, Interactions]:
    """:func:`kcore` and the interactions it removed (pass them to :meth:`Split.with_unused`)."""
    uk, ik = user_k if user_k is not None else k, item_k if item_k is not None else k
    inter = _interactions(ds)
    keep = np.ones(len(inter), bool)
    while True:
        users = np.bincount(inter.user[keep], minlength=inter.n_users)
        items = np.bincount(inter.item[keep], minlength=inter.n_items)
        new = keep & (users[inter.user] >= uk) & (items[inter.item] >= ik)
        if np.count_nonzero(new) == np.count_nonzero(keep):
            break
        keep = new
    sub, removed = inter.subset(keep), inter.subset(~keep)
    if isinstance(ds, Dataset):
        return Dataset(f"{ds.name}-{k}core", sub, ds.user_ids, ds.catalog, ds.user_info), removed
    return sub, removed


_FRACTIONS = {"temporal": ("valid", "test"), "cold_start_items": ("test_frac", "valid_frac"),
              "cold_start_users": ("frac",)}


def check_split_params(kind: str, params: dict[str, Any]) -> None:
    """Validate split parameters before any data is read: known kind, known parameter names (typos
    list the valid ones), fractions in [0, 1) that leave rows for train. Raises :class:`ConfigError`."""
    import inspect

    splitter = SPLITS.get(kind)  # ConfigError naming the registered kinds
    names = [p for p in inspect.signature(splitter).parameters if p != "ds"]
    unknown = sorted(set(params) - set(names) - {"seed"})
    if unknown:
        raise ConfigError(f"unknown parameters {unknown} for split {kind!r}; valid: {', '.join(names)}")
    fracs = {k: params[k] for k in _FRACTIONS.get(kind, ()) if k in params}
    try:
        for k, v in fracs.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{k} must be a number, not {v!r}")
        defaults = {p.name: p.default for p in inspect.signature(splitter).parameters.values()}
        _check_fractions(**{k: float(params.get(k, defaults[k])) for k in _FRACTIONS.get(kind, ())})
    except ValueError as exc:
        raise ConfigError(f"split {kind!r}: {exc}") from None


def make_split(ds: SplitSource, kind: str, **params: Any) -> Split:
    """Build a split by its registered kind (``leave_one_out``, ``temporal``, ``cold_start_items``,
    ``cold_start_users``; plug-ins add kinds, see :mod:`llm4rec.registry`) with ``params``."""
    return SPLITS.get(kind)(ds, **params)


_PARTS = ("train", "valid", "test")
_COLUMNS = ("user", "item", "timestamp", "rating")
_SPLIT_FORMAT = 1


def _save_split(split: Split, path: str | Path) -> Path:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"{part}_{col}": getattr(split.part(part), col) for part in _PARTS for col in _COLUMNS}
    if split.unused is not None:
        arrays.update({f"unused_{col}": getattr(split.unused, col) for col in _COLUMNS})
    np.savez_compressed(folder / "split.npz", **arrays)
    meta = {"format": _SPLIT_FORMAT, "llm4rec": __version__, "kind": split.kind, "params": split.params,
            "dataset": split.dataset, "n_users": split.n_users, "n_items": split.n_items}
    (folder / "split.json").write_text(json.dumps(meta, indent=1, default=_json_default))
    return folder


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"split parameter {value!r} is not JSON-serialisable")


def _load_split(path: str | Path, dataset: Dataset | None = None) -> Split:
    folder = Path(path)
    try:
        meta = json.loads((folder / "split.json").read_text())
        arrays = np.load(folder / "split.npz")
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder}: not a saved split ({exc})") from exc
    check_format(meta, _SPLIT_FORMAT, "split", folder / "split.json", DataError)
    n_users, n_items = meta["n_users"], meta["n_items"]
    catalog = user_info = None
    if dataset is not None:
        if (dataset.n_users, dataset.n_items) != (n_users, n_items):
            raise DataError(f"{folder}: split is over {n_users} users x {n_items} items, dataset "
                            f"{dataset.name!r} has {dataset.n_users} x {dataset.n_items}")
        catalog, user_info = dataset.catalog, dataset.user_info
    stored = [p for p in (*_PARTS, "unused") if f"{p}_user" in arrays.files]
    parts = {part: Interactions(arrays[f"{part}_user"], arrays[f"{part}_item"], arrays[f"{part}_timestamp"],
                                arrays[f"{part}_rating"], n_users, n_items, catalog, user_info) for part in stored}
    return Split(parts["train"], parts["valid"], parts["test"], meta["kind"], meta["params"], meta["dataset"],
                 parts.get("unused"))

