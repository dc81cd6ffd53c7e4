"""Fixtures of the serving tests: models fitted on the real MovieLens-100K, served by a real uvicorn."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

from serve_support import TOKEN, LiveServer


@pytest.fixture(scope="session")
def fitted(ml100k):
    """ItemKNN, BPR (one vector per user), popularity and an LLM ranker (toy generator) on the full log."""
    from llm4rec.models import make_model

    inter = ml100k.interactions
    return {
        "itemknn": make_model("itemknn").fit(inter),
        "bpr": make_model("bpr", {"epochs": 2}).fit(inter),
        "pop": make_model("pop").fit(inter),
        "llm": make_model("llm-likelihood", {"generator": {"backend": "toy"}, "progress": False}).fit(inter),
    }


@pytest.fixture(scope="session")
def tokens_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "tokens.txt"
    path.write_text(f"# one token per line\n{TOKEN}\n")
    return path


def make_server(ml100k, fitted, tokens_file, **settings) -> LiveServer:
    from llm4rec.serve import ServeSettings, Service, create_app

    cfg = ServeSettings(tokens_file=str(tokens_file), tokens_env="LLM4REC_TEST_UNSET_TOKENS", **settings)
    service = Service(fitted, ml100k.user_ids, ml100k.catalog, cfg)
    return LiveServer(create_app(service))


@pytest.fixture(scope="session")
def live(ml100k, fitted, tokens_file):
    s = make_server(ml100k, fitted, tokens_file, batch_window_ms=30)
    yield s
    s.stop()


@pytest.fixture
def server_factory(ml100k, fitted, tokens_file):
    """Start servers with custom settings; all are stopped after the test."""
    started = []

    def start(**settings) -> LiveServer:
        started.append(make_server(ml100k, fitted, tokens_file, **settings))
        return started[-1]

    yield start
    for s in started:
        s.stop()


CONFIG = """
name = "serve-test"
[dataset]
name = "ml-100k"
[[models]]
name = "itemknn"
[[models]]
name = "llm-rerank"
label = "rerank"
[models.params]
retriever = "itemknn"
top_n = 5
ranker = "llm-likelihood"
ranker_params = {generator = {backend = "toy"}, progress = false}
[[models]]
name = "ann"
label = "text-faiss"
[models.params]
index = "hnsw"
top_n = 50
model_params = {pooling = "recency", encoder = {backend = "wordllama"}}
"""


@pytest.fixture(scope="session")
def artifact(tmp_path_factory):
    """An artifact written by ``llm4rec train CONFIG --save DIR``: item-kNN, an item-kNN + LLM pipeline and a
    text model retrieving through a FAISS index."""
    from typer.testing import CliRunner

    from llm4rec.cli import app

    root = tmp_path_factory.mktemp("artifact")
    (root / "run.toml").write_text(CONFIG)
    res = CliRunner().invoke(app, ["train", str(root / "run.toml"), "--save", str(root / "art")])
    assert res.exit_code == 0, res.output
    return root / "art"
