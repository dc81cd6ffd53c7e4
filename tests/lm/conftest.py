"""Fixtures of the language-model test suite: real models, loaded once per session, and a real
llama.cpp OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lm_support import N_THREADS, Server


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    from llm4rec.lm.registry import resolve_gguf

    return resolve_gguf("smollm2-135m")


@pytest.fixture(scope="session")
def server(smollm2_gguf: Path) -> Iterator[Server]:
    s = Server(smollm2_gguf)
    yield s
    s.kill()


@pytest.fixture(scope="session")
def llama_gen(smollm2_gguf: Path):
    from llm4rec.lm.llama_cpp import LlamaCppGenerator

    g = LlamaCppGenerator(smollm2_gguf, n_ctx=512, n_threads=N_THREADS, cache_mode="off")
    yield g
    g.close()


@pytest.fixture(scope="session")
def hf_gen():
    from llm4rec.lm.hf import HFGenerator

    return HFGenerator("smollm2-135m", cache_mode="off", batch_size=8)


@pytest.fixture(scope="session")
def openai_gen(server: Server):
    from llm4rec.lm.openai_compat import OpenAIGenerator

    g = OpenAIGenerator("smollm2", base_url=server.base_url, api_key_env=None, timeout=120, max_retries=1,
                        backoff=0.05, concurrency=2, cache_mode="off")
    yield g
    g.close()


@pytest.fixture(params=["llama-cpp", "hf", pytest.param("openai", marks=pytest.mark.server)])
def generator(request: pytest.FixtureRequest, tmp_path: Path):
    """Every generator backend, with a fresh cache database for the test."""
    g = request.getfixturevalue({"llama-cpp": "llama_gen", "hf": "hf_gen", "openai": "openai_gen"}[request.param])
    g.set_cache("use", str(tmp_path / "lm.sqlite"))
    yield g
    g.set_cache("off")


@pytest.fixture(scope="session")
def st_enc():
    from llm4rec.lm.sentence import SentenceTransformerEncoder

    return SentenceTransformerEncoder("minilm", cache_mode="off")


@pytest.fixture(scope="session")
def hf_enc():
    from llm4rec.lm.hf import HFEncoder

    return HFEncoder("minilm", cache_mode="off")


@pytest.fixture(scope="session")
def wl_enc():
    from llm4rec.lm.wordllama import WordLlamaEncoder

    return WordLlamaEncoder(cache_mode="off")


@pytest.fixture(params=["sentence-transformers", "hf", "wordllama"])
def encoder(request: pytest.FixtureRequest, tmp_path: Path):
    """Every local encoder backend, with a fresh cache database for the test."""
    e = request.getfixturevalue({"sentence-transformers": "st_enc", "hf": "hf_enc",
                                 "wordllama": "wl_enc"}[request.param])
    e.set_cache("use", str(tmp_path / "lm.sqlite"))
    yield e
    e.set_cache("off")
