"""Fixtures for the evaluation tests (helpers live in ``eval_stubs``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from eval_stubs import tiny_split as _tiny_split


@pytest.fixture
def tiny_split():
    return _tiny_split()
