"""A retrieve-then-rerank pipeline with a real LLM (SmolLM2 on llama.cpp) behind the HTTP API."""

from __future__ import annotations

import importlib.util

import pytest
from serve_support import LiveServer


@pytest.fixture(scope="module")
def pipeline_server(ml100k, fitted, tokens_file):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    from llm4rec.models import make_model
    from llm4rec.models.llm.rerank import RerankRecommender
    from llm4rec.serve import ServeSettings, Service, create_app

    gen = {"backend": "llama-cpp", "model": "smollm2-135m", "n_ctx": 1024, "n_threads": 2, "cache_mode": "off"}
    llm = make_model("llm-likelihood", {"generator": gen, "progress": False, "max_history": 10})
    pipe = RerankRecommender.from_models(fitted["itemknn"], llm.fit(ml100k.interactions), top_n=5)
    cfg = ServeSettings(tokens_file=str(tokens_file), tokens_env="LLM4REC_TEST_UNSET_TOKENS", deadline_s=120)
    server = LiveServer(create_app(Service({"rerank": pipe, "itemknn": fitted["itemknn"]}, ml100k.user_ids,
                                           ml100k.catalog, cfg)))
    yield server
    server.stop()


def test_rerank_pipeline_reorders_the_retrievers_top_n(pipeline_server):
    with pipeline_server.client() as c:
        retrieved = c.post("/v1/recommend", json={"user": "3", "k": 5, "model": "itemknn"}).json()["items"]
        reranked = c.post("/v1/recommend", json={"user": "3", "k": 5, "model": "rerank"}).json()["items"]
        explained = c.post("/v1/explain", json={"user": "3", "item": reranked[0]["id"], "model": "rerank"}).json()
    assert {it["id"] for it in reranked} == {it["id"] for it in retrieved}
    assert explained["explanation"].startswith("Because you watched ")
    reason = explained["explanation"].split(":", 1)[1]
    assert len(reason.split()) >= 3  # the LLM phrased a reason after the cited evidence
