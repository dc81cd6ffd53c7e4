"""Every ``configs/llm-*.toml`` recipe validates, and one runs end to end through the runner
(with its generator swapped for the toy backend: switching backends changes one block only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_backends import TOY

from llm4rec.eval.config import load_run_config
from llm4rec.models import make_model

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("llm-*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_recipe_validates(path):
    cfg = load_run_config(path)
    for spec in cfg.models:
        make_model(spec.name, spec.params)  # typed configs check every parameter, nothing is loaded


def test_openai_recipe_differs_only_in_backend_blocks():
    local, remote = (load_run_config(CONFIGS[0].parent / f"{n}.toml") for n in ("llm-likelihood",
                                                                                  "llm-likelihood-openai"))
    for a, b in zip(local.models, remote.models, strict=True):
        pa, pb = dict(a.params), dict(b.params)
        if "generator" in pa:
            assert pa.pop("generator")["backend"] == "llama-cpp" and pb.pop("generator")["backend"] == "openai"
        assert pa == pb


def test_recipe_runs_end_to_end(tmp_path):
    from llm4rec.eval.runner import run

    cfg = load_run_config(CONFIGS[0].parent / "llm-likelihood.toml")
    for spec in cfg.models:
        if "generator" in spec.params:
            spec.params = {**spec.params, "generator": TOY, "progress": False}
    cfg.eval.max_users = 4
    cfg.eval.bootstrap = 0
    result = run(cfg, tmp_path)
    assert not result.failures, result.failures
    records = json.loads((tmp_path / "results.json").read_text())
    icl = {(r["protocol"], r["metric"], r["k"]): r["value"] for r in records if r["model"] == "llm-likelihood-icl"}
    assert ("cost", "lm_tokens_per_user", None) in icl and icl[("cost", "lm_users", None)] == 4
    assert any(k[1] == "ndcg" and k[2] == 10 for k in icl)


def test_every_llm_model_has_a_recipe():
    from llm4rec.models import available_models

    used = {spec.name for p in CONFIGS for spec in load_run_config(p).models}
    assert {m for m in available_models() if m.startswith("llm-")} <= used
