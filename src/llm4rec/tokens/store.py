"""Generated texts on disk: Parquet files versioned by a fingerprint, written atomically.

Layout of one task under the job's output folder::

    <output>/<task>/                     e.g. runs/knowledge-ml100k/item_facts/
        LATEST                           the fingerprint of the last finished version
        <fingerprint>/
            outputs.partial.parquet      rows finished so far (replaced atomically after every batch)
            outputs.parquet              all rows, with QC flags (written once, at the end)
            manifest.json                what the fingerprint covers, counts, tokens, seconds
            qc.md / qc.json              the quality report

The fingerprint is a SHA-256 of the prompt template, the generator config (cache settings
excluded: they do not change outputs) with the generation parameters, and the data (every
entity's key and prompt slots). A change of any of them writes a new version beside the old one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from llm4rec.errors import ConfigError

PARTIAL = "outputs.partial.parquet"
FINAL = "outputs.parquet"
MANIFEST = "manifest.json"
LATEST = "LATEST"

#: columns every outputs file has (QC adds ``qc_flags`` and ``qc_ok``)
COLUMNS = ("key", "index", "prompt", "text", "prompt_tokens", "completion_tokens", "finish_reason",
           "catalog_text", "year", "genres")


def fingerprint(parts: Mapping[str, Any]) -> str:
    """SHA-256 of a canonical JSON of ``parts`` (sorted keys)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` through a temporary file and ``os.replace``: a kill leaves the old file or
    the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def resolve_outputs(path: str | Path) -> Path:
    """The ``outputs.parquet`` that ``path`` names: the file itself, a version folder, or a task folder
    (its ``LATEST`` version)."""
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if (p / FINAL).is_file():
        return p / FINAL
    if (p / LATEST).is_file():
        version = (p / LATEST).read_text(encoding="utf-8").strip()
        if (p / version / FINAL).is_file():
            return p / version / FINAL
    raise ConfigError(f"no finished generation outputs at {p} (expected {FINAL}, or a task folder with "
                      f"{LATEST}); run `llm4rec generate CONFIG` first")


def read_outputs(path: str | Path) -> pd.DataFrame:
    """The rows of a finished generation (see :func:`resolve_outputs`)."""
    file = resolve_outputs(path)
    df = pd.read_parquet(file)
    missing = [c for c in ("key", "index", "text") if c not in df.columns]
    if missing:
        raise ConfigError(f"{file} is not a generation output (missing columns {missing})")
    return df
