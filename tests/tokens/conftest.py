"""Fixtures of the paradigm-2 tests: one torch thread (the machine is shared; tiny nets gain nothing from
more) and toy-generator outputs for every ML-100K item and user, written once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def toy_outputs() -> dict[str, Path]:
    """Task folders of a toy-generator run over all items and users of ML-100K (one per process)."""
    from ctr_support import shared_toy_outputs

    return shared_toy_outputs()
