"""Deployable artifacts: fitted models (pipelines too) with the ids, catalog and data they need to serve.

An artifact is a folder, data only::

    artifact.toml       format, version, the models (label -> registered name), dataset and data fingerprint
    vocab.npz           external user ids and item ids (string arrays, loaded without pickle)
    catalog.parquet     the item catalog's text fields (titles for responses, text for LLMs)
    models/<label>/     each model as written by ``Recommender.save`` (config, weights, history)

Loading never imports code named by the files: a model's class is looked up by its registered
name (``Recommender.load``), and a saved remote backend block is refused unless the caller passes
its own or trusts the folder (``llm4rec.lm.policy``). Backend blocks are saved as configured
(they name the *variable* holding an API key, never the key); a config holding a secret-looking
value (a URL with a password, a key-named field) is refused at save time.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llm4rec import __version__
from llm4rec.config import Config, read_toml
from llm4rec.data.catalog import Catalog
from llm4rec.data.interactions import Interactions
from llm4rec.errors import ArtifactError, ConfigError
from llm4rec.lm.policy import Backends
from llm4rec.models.base import Recommender
from llm4rec.models.registry import get_model

FORMAT = "llm4rec-artifact"
VERSION = 1
_SECRET_KEY = re.compile(r"(api[_-]?key|secret|password|token)$", re.I)
_URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]*@", re.I)


class ModelEntry(Config):
    label: str
    name: str  # registered model name: the only thing that decides which class loads it
    path: str


class ArtifactManifest(Config):
    format: str = FORMAT
    version: int = VERSION
    llm4rec: str = __version__
    created: str
    models: list[ModelEntry]
    dataset: dict[str, Any]
    data_fingerprint: str
    n_users: int
    n_items: int


@dataclass
class Artifact:
    """A loaded artifact: fitted models by label, the user ids and the catalog."""

    manifest: ArtifactManifest
    models: dict[str, Recommender]
    user_ids: np.ndarray
    catalog: Catalog


def fingerprint(inter: Interactions, user_ids: np.ndarray, item_ids: np.ndarray) -> str:
    """SHA-256 over the id vocabularies and the interaction arrays a model was fitted on."""
    h = hashlib.sha256()
    for arr in (np.asarray(user_ids).astype(str), np.asarray(item_ids).astype(str)):
        h.update("\x1f".join(arr.tolist()).encode())
    for arr in (inter.user, inter.item, inter.timestamp, inter.rating):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def check_no_secrets(value: Any, where: str = "config") -> None:
    """Refuse configs that carry credentials (they must come from the environment at run time)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if _SECRET_KEY.search(str(k)) and isinstance(v, str) and v and not str(k).endswith("_env"):
                raise ConfigError(f"{where}.{k} looks like a secret; name an environment variable instead")
            check_no_secrets(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_no_secrets(v, f"{where}[{i}]")
    elif isinstance(value, str) and _URL_PASSWORD.match(value):
        raise ConfigError(f"{where} is a URL with a password; remove the credentials from it")


def save_artifact(out: str | Path, models: dict[str, tuple[str, Recommender]], user_ids: np.ndarray,
                  catalog: Catalog, trained_on: Interactions, dataset: dict[str, Any]) -> Path:
    """Write models (label -> (registered name, fitted model)) and what serving them needs into ``out``."""
    out = Path(out)
    entries = []
    for label, (name, model) in models.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", label):
            raise ConfigError(f"model label {label!r} cannot name a folder; use letters, digits, '.', '_', '-'")
        if type(model) is not get_model(name):
            raise ConfigError(f"model {label!r} is a {type(model).__name__}, not the registered {name!r}")
        check_no_secrets(model.config.model_dump(mode="json"), f"models.{label}")
        entries.append(ModelEntry(label=label, name=name, path=f"models/{label}"))
    check_no_secrets(dataset, "dataset")
    out.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        models[entry.label][1].save(out / entry.path)
    np.savez(out / "vocab.npz", user_ids=np.asarray(user_ids).astype(str),
             item_ids=np.asarray(catalog.ids).astype(str))
    table = catalog.table.copy()
    table.insert(0, "__id", np.asarray(catalog.ids).astype(str))
    table.to_parquet(out / "catalog.parquet", index=False)
    manifest = ArtifactManifest(created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), models=entries,
                                dataset=dataset, n_users=len(user_ids), n_items=len(catalog),
                                data_fingerprint=fingerprint(trained_on, user_ids, catalog.ids))
    manifest.save(out / "artifact.toml")
    return out


def load_artifact(path: str | Path, backends: Backends = None) -> Artifact:
    """Read an artifact written by :func:`save_artifact` (or ``llm4rec train --save``).

    ``backends`` as in :meth:`Recommender.load`: saved remote backend blocks are refused unless the
    caller passes its own (``{"generator": {...}}``) or ``"trust"``.
    """
    path = Path(path)
    try:
        manifest = ArtifactManifest.model_validate(read_toml(path / "artifact.toml"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} is not an llm4rec artifact: {exc}") from exc
    if manifest.format != FORMAT or manifest.version > VERSION:
        raise ArtifactError(f"{path}: format {manifest.format} v{manifest.version} is not readable by llm4rec "
                            f"{__version__} (reads {FORMAT} up to v{VERSION})")
    try:
        with np.load(path / "vocab.npz", allow_pickle=False) as z:
            user_ids, item_ids = z["user_ids"].astype(str), z["item_ids"].astype(str)
    except Exception as exc:  # a damaged zip, missing arrays, pickled objects: one clear error
        raise ArtifactError(f"{path / 'vocab.npz'} is damaged or incomplete ({type(exc).__name__}: {exc}); "
                            "write the artifact again (llm4rec train --save)") from None
    try:
        table = pd.read_parquet(path / "catalog.parquet")
    except Exception as exc:  # pyarrow raises its own types for damaged files
        raise ArtifactError(f"{path / 'catalog.parquet'} is damaged or incomplete ({type(exc).__name__}: {exc}); "
                            "write the artifact again (llm4rec train --save)") from None
    if "__id" not in table or table.pop("__id").astype(str).tolist() != item_ids.tolist():
        raise ArtifactError(f"{path}: catalog.parquet and vocab.npz disagree on the item ids")
    catalog = Catalog(item_ids, table)
    models = {}
    for entry in manifest.models:
        folder = (path / entry.path).resolve()
        if path.resolve() not in folder.parents:
            raise ArtifactError(f"{path}: model path {entry.path!r} leaves the artifact folder")
        models[entry.label] = _load_model(entry, folder, backends)
        m = models[entry.label]
        if (m.n_users_, m.n_items_) != (len(user_ids), len(item_ids)):
            raise ArtifactError(f"{path}: model {entry.label!r} does not match the artifact's vocabularies")
    return Artifact(manifest, models, user_ids, catalog)


def _load_model(entry: ModelEntry, folder: Path, backends: Backends) -> Recommender:
    """Load by registered name (``Recommender.load`` applies the loaded-backend policy)."""
    model = get_model(entry.name).load(folder, backends=backends)
    if model.name != entry.name:
        raise ArtifactError(f"{folder}: holds a {model.name!r} model, the manifest says {entry.name!r}")
    return model
