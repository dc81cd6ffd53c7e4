"""Fixtures for the evaluation tests (helpers live in ``eval_stubs``)."""

from __future__ import annotations

import pytest
from eval_stubs import tiny_split as _tiny_split


@pytest.fixture
def tiny_split():
    return _tiny_split()
