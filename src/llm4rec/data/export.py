"""Export a split so that a peer toolkit (RecBole, LensKit, Cornac, ...) runs on exactly the same targets.

Other toolkits re-derive the split from timestamps and break ties their own way
(RecBole sorts float32 timestamps), which silently changes some users' test
items. The exported files carry the split itself:

- ``format="recbole"``: RecBole atomic files ``<name>.inter`` (the whole log) and
  ``<name>.train.inter`` / ``<name>.valid.inter`` / ``<name>.test.inter`` (the parts,
  for RecBole's ``benchmark_filename``). The timestamp column is the row's rank
  in the split's order (user, time, tie policy; train before valid before test at
  equal times), so a time-ordered leave-one-out in the peer picks the same items
  (ranks are exact in RecBole's float32 up to 2**24 rows); the ``orig_time``
  column keeps the original times.
- ``format="csv"``: one ``<name>.csv`` with ``user, item, timestamp, rating, part``.

Ids are the dataset's external ids when ``dataset`` is given, else dense ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from llm4rec.data.dataset import Dataset
from llm4rec.data.split import Split

_PARTS = ("train", "valid", "test")


def split_frame(split: Split, dataset: Dataset | None = None) -> pd.DataFrame:
    """The split as one table in its own order: ``user, item, timestamp, rating, part, order``.

    Rows are sorted by user, then time, then part (train < valid < test), then the
    order inside each part (the split's tie policy); ``order`` is the row's rank.
    """
    parts = [split.part(p) for p in _PARTS]
    user = np.concatenate([p.user for p in parts]).astype(np.int64)
    item = np.concatenate([p.item for p in parts]).astype(np.int64)
    ts = np.concatenate([p.timestamp for p in parts])
    rating = np.concatenate([p.rating for p in parts])
    part = np.concatenate([np.full(len(p), i, np.int8) for i, p in enumerate(parts)])
    order = np.lexsort((np.arange(len(user)), part, ts, user))
    frame = pd.DataFrame({"user": user[order], "item": item[order], "timestamp": ts[order],
                          "rating": rating[order], "part": np.asarray(_PARTS)[part[order]]})
    if dataset is not None:
        if (dataset.n_users, dataset.n_items) != (split.n_users, split.n_items):
            raise ValueError(f"dataset {dataset.name!r} is over another id universe than the split")
        frame["user"] = np.asarray(dataset.user_ids)[frame["user"].to_numpy()]
        frame["item"] = np.asarray(dataset.catalog.ids)[frame["item"].to_numpy()]
    frame["order"] = np.arange(len(frame))
    return frame


def export_split(split: Split, folder: str | Path, *, name: str | None = None,
                 format: Literal["recbole", "csv"] = "recbole", dataset: Dataset | None = None) -> list[Path]:
    """Write ``split`` into ``folder`` for a peer toolkit; returns the files written (see the module doc)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = name or split.dataset or "split"
    frame = split_frame(split, dataset)
    if format == "csv":
        path = folder / f"{name}.csv"
        frame.drop(columns="order").to_csv(path, index=False)
        return [path]
    if format != "recbole":
        raise ValueError(f"unknown export format {format!r}; use 'recbole' or 'csv'")
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\torig_time:float\n"
    written = []
    for suffix, rows in [("", frame), *((f".{p}", frame[frame["part"] == p]) for p in _PARTS)]:
        path = folder / f"{name}{suffix}.inter"
        body = rows[["user", "item", "rating", "order", "timestamp"]]
        path.write_text(header + body.to_csv(sep="\t", header=False, index=False, lineterminator="\n"))
        written.append(path)
    return written
