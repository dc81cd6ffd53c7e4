"""Helpers of the CTR tests: toy-generator outputs for the whole of ML-100K (no real LLM)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path


def toy_generation(folder: Path) -> dict[str, Path]:
    """Run the generation job with the toy generator for every item and user; task folders by kind."""
    from llm4rec.jobs.generate import GenerateConfig, generate

    cfg = GenerateConfig.model_validate({
        "name": "toy", "generator": {"backend": "toy"}, "batch_size": 512, "progress": False,
        "tasks": [{"kind": "item"}, {"kind": "user", "template": "user_profile"}],
        "output": {"dir": str(folder / "{name}")}})
    results = generate(cfg)
    return {"item": results[0].folder.parent, "user": results[1].folder.parent}


@functools.cache
def shared_toy_outputs() -> dict[str, Path]:
    """One toy generation per test process (contract classes build models without fixtures)."""
    return toy_generation(Path(tempfile.mkdtemp(prefix="llm4rec-toy-gen-")))
