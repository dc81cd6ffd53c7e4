"""``llm4rec train CONFIG --save DIR`` writes a data-only artifact; ``llm4rec serve DIR`` serves it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from serve_support import AUTH, TOKEN, free_port

from llm4rec.errors import ArtifactError, ConfigError


def test_artifact_is_self_describing_data(artifact, ml100k):
    from llm4rec.serve.artifact import fingerprint, load_artifact

    assert sorted(p.name for p in artifact.iterdir()) == ["artifact.toml", "catalog.parquet", "models", "vocab.npz"]
    text = (artifact / "artifact.toml").read_text()
    assert 'format = "llm4rec-artifact"' in text and 'name = "llm-rerank"' in text
    art = load_artifact(artifact)
    assert list(art.models) == ["itemknn", "rerank", "text-faiss"]
    assert art.manifest.data_fingerprint == fingerprint(ml100k.interactions, ml100k.user_ids, ml100k.catalog.ids)
    assert art.user_ids.tolist() == ml100k.user_ids.tolist()
    assert art.catalog.text([49]) == ml100k.catalog.text([49])
    for name in ("itemknn", "rerank", "text-faiss"):
        meta = json.loads((artifact / "models" / name / "meta.json").read_text())
        assert "class" not in meta  # a registered name, never a code path


def test_served_artifact_answers_like_the_loaded_models(artifact):
    from llm4rec.serve.artifact import load_artifact

    port = free_port()
    env = {**os.environ, "LLM4REC_API_TOKENS": TOKEN, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "llm4rec.cli", "serve", str(artifact), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            assert proc.poll() is None, proc.stdout.read().decode()
        got = {m: httpx.post(url + "/v1/recommend", json={"user": "42", "k": 5, "model": m}, headers=AUTH).json()
               for m in ("itemknn", "rerank", "text-faiss")}
        history = [it["id"] for it in httpx.get(url + "/v1/users/42?limit=1000", headers=AUTH).json()["history"]]
        adhoc = httpx.post(url + "/v1/recommend", json={"history": history, "k": 5, "model": "text-faiss"},
                           headers=AUTH).json()
        assert adhoc["items"] == got["text-faiss"]["items"]  # a new user with 42's history, through the index
        assert httpx.post(url + "/v1/recommend", json={"user": "42"}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    art = load_artifact(artifact)
    u = art.user_ids.tolist().index("42")
    for label, body in got.items():
        ids, scores = art.models[label].recommend([u], k=5)
        assert [it["id"] for it in body["items"]] == art.catalog.ids[ids[0]].tolist()
        np.testing.assert_allclose([it["score"] for it in body["items"]], scores[0], rtol=1e-5)
    assert {it["id"] for it in got["rerank"]["items"]} == {it["id"] for it in got["itemknn"]["items"]}
    exact, _ = art.models["text-faiss"].model_.recommend([u], k=5)  # the text model without the index
    served = {it["id"] for it in got["text-faiss"]["items"]}
    assert len(served & set(art.catalog.ids[exact[0]].tolist())) >= 4


def test_secrets_are_refused_at_save(tmp_path, fitted, ml100k):
    from llm4rec.models import make_model
    from llm4rec.serve.artifact import save_artifact

    gen = {"backend": "openai", "base_url": "http://user:hunter2@127.0.0.1:9/v1", "model": "x"}
    model = make_model("llm-likelihood", {"generator": gen, "progress": False}).fit(ml100k.interactions)
    with pytest.raises(ConfigError, match="URL with a password"):
        save_artifact(tmp_path / "a", {"llm": ("llm-likelihood", model)}, ml100k.user_ids, ml100k.catalog,
                      ml100k.interactions, {"name": "ml-100k"})
    with pytest.raises(ConfigError, match="cannot name a folder"):
        save_artifact(tmp_path / "b", {"../x": ("itemknn", fitted["itemknn"])}, ml100k.user_ids, ml100k.catalog,
                      ml100k.interactions, {"name": "ml-100k"})
    assert not (tmp_path / "a").exists() and not (tmp_path / "x").exists()


def test_remote_backends_need_the_callers_block(tmp_path, ml100k):
    from llm4rec.models import make_model
    from llm4rec.serve.artifact import load_artifact, save_artifact

    gen = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "x", "api_key_env": "OPENAI_API_KEY"}
    model = make_model("llm-likelihood", {"generator": gen, "progress": False}).fit(ml100k.interactions)
    save_artifact(tmp_path / "a", {"llm": ("llm-likelihood", model)}, ml100k.user_ids, ml100k.catalog,
                  ml100k.interactions, {"name": "ml-100k"})
    assert "OPENAI_API_KEY" in (tmp_path / "a" / "models" / "llm" / "config.toml").read_text()
    with pytest.raises(ConfigError, match="never chooses an endpoint"):
        load_artifact(tmp_path / "a")
    art = load_artifact(tmp_path / "a", {"generator": {"backend": "toy"}})
    assert art.models["llm"].config.generator == {"backend": "toy"}


def test_tampered_artifacts_are_refused(artifact, tmp_path):
    import shutil

    from llm4rec.serve.artifact import load_artifact

    bad = tmp_path / "bad"
    shutil.copytree(artifact, bad)
    toml = (bad / "artifact.toml").read_text()
    (bad / "artifact.toml").write_text(toml.replace('name = "itemknn"', 'name = "pop"'))
    with pytest.raises(ArtifactError, match="holds a 'itemknn' model"):
        load_artifact(bad)
    (bad / "artifact.toml").write_text(toml.replace('path = "models/itemknn"', 'path = "../../etc"'))
    with pytest.raises(ArtifactError, match="leaves the artifact folder"):
        load_artifact(bad)
    (bad / "artifact.toml").write_text(toml.replace("version = 1", "version = 99"))
    with pytest.raises(ArtifactError, match="not readable"):
        load_artifact(bad)
