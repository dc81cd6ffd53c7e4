"""Fit the models a run config names on the whole interaction log and save them as one artifact."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from llm4rec.serve.artifact import save_artifact

log = logging.getLogger(__name__)


def train_artifact(config: str | Path, out: str | Path) -> Path:
    """``llm4rec train``: the config's dataset (k-core applied) and models; no split, no evaluation."""
    from llm4rec.data.split import kcore
    from llm4rec.eval.config import load_run_config
    from llm4rec.eval.runner import load_data
    from llm4rec.models.registry import make_model

    cfg = load_run_config(config)
    ds = load_data(cfg.dataset)
    if cfg.dataset.kcore:
        ds = kcore(ds, cfg.dataset.kcore)
    inter = ds.interactions
    if not len(inter):
        raise cfg.error("dataset.kcore" if cfg.dataset.kcore else "dataset", "no interaction is left to train on"
                        + (f" after the {cfg.dataset.kcore}-core filter" if cfg.dataset.kcore else ""))
    models = {}
    for spec in cfg.models:
        start = time.perf_counter()
        models[spec.display] = (spec.name, make_model(spec.name, spec.params).fit(inter))
        log.info("fitted %s on %d interactions in %.1fs", spec.display, len(inter), time.perf_counter() - start)
    return save_artifact(out, models, ds.user_ids, ds.catalog, inter, cfg.dataset.model_dump(mode="json"))
