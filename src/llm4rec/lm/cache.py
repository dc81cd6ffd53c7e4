"""Persistent record/replay cache for language-model calls.

One SQLite database (WAL mode) holds one row per input item: an embedding of one
text, the completion of one prompt, the log-prob of one continuation. Rows are
committed as soon as their batch is computed, so a killed run resumes without
recomputing finished items, and several processes may write at once (SQLite
serialises writers; readers never block).

Keys are SHA-256 digests of a canonical JSON of ``(backend, model identity,
operation, parameters, input)``. The model identity is a file hash for local
weights or the served model name for HTTP backends; secrets (API keys) never
enter a key.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from llm4rec.artifacts import cache_dir, sha256_file

CacheMode = Literal["use", "replay", "refresh", "off"]
"""``use``: read hits, compute and store misses (default). ``replay``: strict, a miss raises
:class:`~llm4rec.lm.errors.CacheMissError`. ``refresh``: recompute everything and overwrite.
``off``: no cache at all."""

CACHE_PATH_ENV = "LLM4REC_LM_CACHE"
CACHE_MODE_ENV = "LLM4REC_LM_CACHE_MODE"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    op TEXT NOT NULL,
    value BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
"""


def default_cache_path() -> Path:
    """``$LLM4REC_LM_CACHE`` or ``llm4rec.artifacts.cache_dir()/lm-cache.sqlite``."""
    env = os.environ.get(CACHE_PATH_ENV)
    return Path(env) if env else cache_dir() / "lm-cache.sqlite"


def make_key(backend: str, model: str, op: str, params: Mapping[str, Any], item: Any) -> str:
    """Stable SHA-256 key of one call on one input item."""
    blob = json.dumps([backend, model, op, params, item], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class LMCache:
    """A SQLite-backed key/value store shared by every backend (thread- and process-safe)."""

    def __init__(self, path: str | Path | None = None, timeout: float = 60.0) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cache_error(self.path, exc) from None
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never share a connection across fork
            try:
                conn = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False,
                                       isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(_SCHEMA)
            except sqlite3.DatabaseError as exc:  # not a database, unwritable folder, ...
                raise _cache_error(self.path, exc) from None
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Values of the keys present in the cache."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, bytes] = {}
        with self._lock:
            conn = self._connect()
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for k, v in conn.execute(f"SELECT key, value FROM entries WHERE key IN ({marks})", chunk):
                    out[k] = bytes(v)
        return out

    def put_many(self, rows: Iterable[tuple[str, bytes]], *, backend: str, model: str, op: str) -> None:
        """Insert or replace rows in one committed transaction."""
        now = time.time()
        data = [(k, backend, model, op, sqlite3.Binary(v), now) for k, v in rows]
        if not data:
            return
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)", data)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return int(self._connect().execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def clear(self) -> None:
        with self._lock:
            self._connect().execute("DELETE FROM entries")

    def file_hash(self, path: str | Path) -> str:
        """SHA-256 of a weights file, memoised by (path, size, mtime) so it is computed once."""
        p = Path(path).resolve()
        st = p.stat()
        with self._lock:
            row = self._connect().execute("SELECT size, mtime_ns, sha256 FROM file_hashes WHERE path = ?",
                                          (str(p),)).fetchone()
        if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return str(row[2])
        digest = sha256_file(p)
        with self._lock:
            self._connect().execute("INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?)",
                                    (str(p), st.st_size, st.st_mtime_ns, digest))
        return digest

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _cache_error(path: Path, exc: BaseException) -> Exception:
    from llm4rec.lm.errors import CacheError

    return CacheError(f"LM cache {path} cannot be used ({exc}); it holds only recomputable answers: move or "
                      f"delete it, or point cache_path / ${CACHE_PATH_ENV} to a writable file")


_SHARED: dict[Path, LMCache] = {}


def get_cache(path: str | Path | None = None) -> LMCache:
    """The process-wide :class:`LMCache` for ``path`` (default :func:`default_cache_path`)."""
    p = (Path(path) if path is not None else default_cache_path()).resolve()
    if p not in _SHARED:
        _SHARED[p] = LMCache(p)
    return _SHARED[p]


def identity_of_files(paths: Iterable[str | Path], cache: LMCache | None = None) -> str:
    """One digest for a set of weight files (a GGUF, or a Hugging Face folder's files)."""
    c = cache or get_cache()
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(p.name.encode() + b"\0" + c.file_hash(p).encode())
    return h.hexdigest()


def folder_identity(folder: str | Path, cache: LMCache | None = None) -> str:
    """Digest of the weights and configs of a Hugging Face style model folder."""
    folder, c = Path(folder), cache or get_cache()
    exts = {".safetensors", ".bin", ".json", ".txt", ".model", ".gguf"}
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in exts and p.name != "MANIFEST.json":
            h.update(p.relative_to(folder).as_posix().encode() + b"\0" + c.file_hash(p).encode())
    return h.hexdigest()
