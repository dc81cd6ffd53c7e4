"""Every built-in registered model runs through the shared contract suite (``llm4rec.testing``).

The test reads the test sources (no import, so optional extras need not be installed): a class
deriving from ``RecommenderContract`` or ``SmallCatalogContract`` (directly or through another such
class of the same file) covers the models its ``make_model`` names, ``make_model("name", ...)``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from llm4rec.registry import MODELS

TESTS = Path(__file__).resolve().parents[1]


def _called_names(node: ast.AST) -> set[str]:
    """First string arguments of ``make_model(...)`` calls under ``node``."""
    return {call.args[0].value for call in ast.walk(node)
            if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) == "make_model"
            and call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)}


def contract_covered() -> dict[str, list[str]]:
    """Model name -> the contract test classes (``file::Class``) that build it."""
    covered: dict[str, list[str]] = {}
    for file in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        contract = {"RecommenderContract", "SmallCatalogContract"}  # the suite and its shipped variant
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
        for cls in classes:  # classes are defined before they are subclassed
            if any(getattr(b, "id", getattr(b, "attr", None)) in contract for b in cls.bases):
                contract.add(cls.name)
                for name in _called_names(cls):
                    covered.setdefault(name, []).append(f"{file.relative_to(TESTS)}::{cls.name}")
    return covered


def builtin_models() -> list[str]:
    return [name for name, klass in MODELS.items() if klass.__module__.startswith("llm4rec.")]


# Known gaps, each with its reason; the test fails as soon as one is covered (remove it here then).
PENDING: dict[str, str] = {}


def test_every_builtin_model_has_a_contract_test_class() -> None:
    covered = contract_covered()
    assert not set(PENDING) & set(covered), "a pending model is now covered: remove it from PENDING"
    missing = sorted(set(builtin_models()) - set(covered) - set(PENDING))
    assert not missing, (f"registered models without a RecommenderContract test class: {missing}; add one "
                         "(see llm4rec.testing) next to the model's tests")


def test_the_scan_finds_known_contract_classes() -> None:
    covered = contract_covered()
    assert "models/test_contract_classic.py::TestPop" in covered["pop"]
    assert any("TestRerank" in c for c in covered["llm-rerank"])
