"""An artifact's LLM stage pointed at a real OpenAI-compatible server (llama.cpp's, on 127.0.0.1):
the path a vLLM deployment takes (docs/serving.md)."""

from __future__ import annotations

import importlib.util

import pytest
from serve_support import LiveServer

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def remote(artifact, tokens_file):
    """The artifact served with its generator replaced by a llama.cpp server's endpoint."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    from lm_support import Server  # tests/lm, on pytest's pythonpath

    from llm4rec.lm.registry import resolve_gguf
    from llm4rec.serve import ServeSettings, Service, create_app
    from llm4rec.serve.artifact import load_artifact

    llama = Server(resolve_gguf("smollm2-135m"), n_ctx=1024)
    block = {"backend": "openai", "base_url": llama.base_url, "model": "smollm2", "api_key_env": None,
             "timeout": 120, "max_retries": 1, "concurrency": 1, "cache_mode": "off"}
    art = load_artifact(artifact, {"generator": block})  # the operator's block replaces the saved one
    assert art.models["rerank"].ranker_.config.generator == block
    cfg = ServeSettings(tokens_file=str(tokens_file), tokens_env="LLM4REC_TEST_UNSET_TOKENS", deadline_s=300)
    server = LiveServer(create_app(Service(art.models, art.user_ids, art.catalog, cfg)))
    yield server, block
    server.stop()
    llama.kill()


def test_explanations_come_from_the_remote_server(remote):
    from llm4rec.models.llm.backends import get_generator

    server, block = remote
    with server.client(timeout=300) as c:
        r = c.post("/v1/explain", json={"user": "5", "item": "50", "model": "rerank"})
    assert r.status_code == 200, r.text
    text = r.json()["explanation"]
    assert text.startswith("Because you watched ") and len(text.split(":", 1)[1].split()) >= 3
    usage = get_generator(block).usage
    assert usage.calls >= 1 and usage.completion_tokens > 0  # generated remotely


def test_remote_scoring_failure_is_a_clear_502(remote):
    server, _ = remote
    with server.client(timeout=300) as c:
        r = c.post("/v1/recommend", json={"user": "5", "k": 5, "model": "rerank"})
        chat = c.post("/v1/chat", json={"message": 'I love "Star Wars"'})  # the chat ranks by scoring too
        ok = c.post("/v1/recommend", json={"user": "5", "k": 5, "model": "itemknn"})
    for res in (r, chat):
        assert res.status_code == 502, res.text
        err = res.json()["error"]
        assert err["code"] == "backend_error" and "log-probs shifted" in err["message"]
    assert ok.status_code == 200  # other models keep serving
