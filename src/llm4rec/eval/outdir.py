"""The output folder of a run: one writer at a time, no silent replacement, atomic files.

- A run holds an exclusive lock (``.lock``, :mod:`filelock`) on its folder for its whole
  duration; a second run into the same folder fails at once naming the folder. The OS releases
  the lock when a process dies (``kill -9`` included).
- A folder that already holds run outputs is refused unless the caller passes
  ``overwrite=True`` (CLI ``--overwrite``); then those outputs (and only those) are removed first.
  With ``resume=True`` (CLI ``--resume``) they are kept for the run to continue
  (:mod:`llm4rec.eval.resume`); ``present`` lists them. The two options exclude each other.
- Files are written to unique temporary names in the folder and renamed over the target, so a
  reader or a killed run never sees a half-written file. Leftover temporaries of a killed run
  are removed when the next run takes the lock.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from filelock import FileLock, Timeout

from llm4rec.errors import ConfigError, Llm4RecError

#: What a run writes into its folder (``--overwrite`` removes these and nothing else).
OUTPUTS = ("results.json", "per_user.npz", "failures.json", "report.md", "metrics.png", "config.toml", "models",
           "seeds.md", "seeds.json")
LOCK = ".lock"
TMP_PREFIX = ".tmp-"


class RunFolderError(Llm4RecError, RuntimeError):
    """The output folder is locked by another run, or cannot be created or written."""


class RunFolder:
    """Context manager over a run's output folder (see the module docstring)."""

    def __init__(self, path: str | Path, overwrite: bool = False, resume: bool = False) -> None:
        if overwrite and resume:
            raise ConfigError("--resume and --overwrite exclude each other: --resume continues the run in the "
                              "output folder, --overwrite replaces it; pass one of them")
        self.path = Path(path)
        self.overwrite = overwrite
        self.resume = resume
        self.present: list[str] = []
        self._lock: FileLock | None = None

    def __enter__(self) -> RunFolder:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(str(self.path / LOCK), timeout=0)
            self._lock.acquire()
        except Timeout:
            raise RunFolderError(f"{self.path} is in use by another run (lock {self.path / LOCK} is held); wait "
                                 "for it or choose another output folder (--out)") from None
        except OSError as exc:
            raise RunFolderError(f"cannot use output folder {self.path}: {exc.strerror or exc}") from None
        try:
            self._prepare()
        except BaseException:
            self._lock.release()
            raise
        return self

    def _prepare(self) -> None:
        for stale in self.path.glob(TMP_PREFIX + "*"):
            stale.unlink(missing_ok=True)
        present = self.present = [name for name in OUTPUTS if (self.path / name).exists()]
        if self.resume:
            return
        if present and not self.overwrite:
            raise ConfigError(f"{self.path} already holds the outputs of a run ({', '.join(present)}); pass "
                              "--overwrite (run(..., overwrite=True)) to replace them, --resume to continue that "
                              "run, or choose another --out")
        for name in present:
            target = self.path / name
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        self.present = []

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()

    # ---------------------------------------------------------------- atomic writes
    def write_text(self, name: str, text: str) -> Path:
        return self._atomic(name, lambda f: f.write(text.encode("utf-8")))

    def write_json(self, name: str, data: Any) -> Path:
        """Strict JSON: NaN and infinities become ``null``."""
        return self.write_text(name, json.dumps(strict(data), indent=1, allow_nan=False))

    def write_npz(self, name: str, arrays: dict[str, np.ndarray]) -> Path:
        return self._atomic(name, lambda f: np.savez(f, allow_pickle=False, **arrays))

    def remove(self, name: str) -> None:
        """Remove the file ``name`` if it exists (a resumed run's stale output)."""
        (self.path / name).unlink(missing_ok=True)

    def write_with(self, name: str, write: Callable[[BinaryIO], object]) -> Path:
        """``write(f)`` fills a binary file that then atomically becomes ``name``."""
        return self._atomic(name, write)

    def _atomic(self, name: str, write: Callable[[BinaryIO], object]) -> Path:
        target = self.path / name
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + name + ".", dir=self.path)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


def strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    return value
