"""The type checker and the linter are clean: ``mypy`` (settings in ``[tool.mypy]``) over ``src/llm4rec``
and ``ruff check`` (settings in ``[tool.ruff]``) over the repository, both from the environment running the
tests (CI installs them with the ``test`` extra). A failure prints the tool's findings.

mypy keeps its incremental cache in ``.mypy_cache/`` at the repository root (ignored by git): the first run
analyses the typed dependencies (torch, numpy, pydantic) once, later runs only what changed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _tool(module: str, name: str) -> list[str]:
    """The tool run by this interpreter (``python -m``), else its executable beside it or on PATH."""
    if importlib.util.find_spec(module) is not None:
        return [sys.executable, "-m", module]
    exe = Path(sys.executable).with_name(name)
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed in this environment (pip install -e '.[test]' installs it)")
    return [found]


def test_mypy_clean():
    proc = _run([*_tool("mypy", "mypy"), "--config-file", str(ROOT / "pyproject.toml")], timeout=900)
    assert proc.returncode == 0, f"mypy found problems:\n{proc.stdout}{proc.stderr}"


def test_ruff_clean():
    proc = _run([*_tool("ruff", "ruff"), "check", "."], timeout=300)
    assert proc.returncode == 0, f"ruff check found problems:\n{proc.stdout}{proc.stderr}"
