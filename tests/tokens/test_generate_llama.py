"""The generation job with a real generator: SmolLM2-135M (llama.cpp, one thread) on three items, then
the same job again from the LM cache (no backend call)."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from llm4rec.jobs.generate import GenerateConfig, generate

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason="llama-cpp-python is not installed")


def test_smollm2_writes_item_knowledge_and_replays_it(tmp_path):
    from llm4rec.lm.config import clear_shared

    gen = {"backend": "llama-cpp", "model": "smollm2-135m", "n_ctx": 512, "n_threads": 1,
           "cache_path": str(tmp_path / "lm.sqlite")}
    raw = {"name": "smol", "generator": gen, "batch_size": 2, "progress": False,
           "tasks": [{"kind": "item", "limit": 3, "max_tokens": 40}], "output": {"dir": str(tmp_path / "{name}")}}
    (res,) = generate(GenerateConfig.model_validate(raw))
    df = pd.read_parquet(res.outputs)
    assert df["key"].tolist() == ["1", "2", "3"]
    assert all(len(t.split()) >= 3 for t in df["text"]) and (df["completion_tokens"] > 0).all()
    assert set(df["finish_reason"]) <= {"stop", "length"}
    assert res.qc.n == 3 and sum(res.qc.counts.values()) >= 0
    # the same job in a fresh output folder: every answer replays from the LM cache
    clear_shared()
    raw["output"] = {"dir": str(tmp_path / "again" / "{name}")}
    raw["generator"] = {**gen, "cache_mode": "replay"}
    (again,) = generate(GenerateConfig.model_validate(raw))
    pd.testing.assert_frame_equal(pd.read_parquet(again.outputs), df)
