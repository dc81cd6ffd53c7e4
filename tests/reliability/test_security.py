"""Items 1-3: loading runs no code from the folder, loaded artifacts send no credentials, names
cannot escape the output folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import FakeServer, assert_one_line_error, cli

from llm4rec.errors import ArtifactError, ConfigError
from llm4rec.models import make_model
from llm4rec.models.base import Recommender

EVIL = "from pathlib import Path\nPath({marker!r}).write_text('pwned')\nclass Evil:\n    pass\n"


def _plant(folder: Path, module: str, marker: Path, monkeypatch) -> None:
    """A module beside the model folder, importable (its parent on sys.path, as under python -c)."""
    (folder.parent / f"{module}.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(folder.parent))


# ---------------------------------------------------------------- 1. no code runs on load
def test_meta_class_path_is_never_imported(pop_folder, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    _plant(pop_folder, "evil_meta", marker, monkeypatch)
    meta = json.loads((pop_folder / "meta.json").read_text())
    meta.pop("model", None)
    meta["class"] = "evil_meta:Evil"
    (pop_folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"meta\.json"):
        Recommender.load(pop_folder)
    assert not marker.exists(), "loading a model folder imported a module it named"


@pytest.mark.parametrize("name", ["os:system", "evil_meta", "../pop", "Pop"])
def test_meta_model_must_be_a_registered_name(pop_folder, tmp_path, monkeypatch, name):
    marker = tmp_path / "marker"
    _plant(pop_folder, "evil_meta", marker, monkeypatch)
    meta = json.loads((pop_folder / "meta.json").read_text())
    meta["model"] = name
    (pop_folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="unknown model"):
        Recommender.load(pop_folder)
    assert not marker.exists()


def test_legacy_meta_with_a_registered_class_path_loads(pop_folder, tiny_users):
    before = Recommender.load(pop_folder).score(tiny_users)
    meta = json.loads((pop_folder / "meta.json").read_text())
    meta.pop("model")
    meta["class"] = "llm4rec.models.classic.pop:Pop"  # what folders saved before names were stored hold
    (pop_folder / "meta.json").write_text(json.dumps(meta))
    np.testing.assert_array_equal(Recommender.load(pop_folder).score(tiny_users), before)


def test_load_checks_the_subclass(pop_folder):
    from llm4rec.models.classic.itemknn import ItemKNN

    with pytest.raises(ArtifactError, match="not a ItemKNN"):
        ItemKNN.load(pop_folder)


def test_registry_refuses_a_target_that_is_not_a_recommender(monkeypatch):
    import os.path

    from llm4rec.models import registry

    monkeypatch.setitem(registry.MODELS._entries, "not-a-model", os.path.join)
    with pytest.raises(ConfigError, match="not a Recommender"):
        registry.get_model("not-a-model")


def _rerank(tiny_split):
    ranker = make_model("llm-likelihood", {"generator": {"backend": "toy"}, "progress": False})
    return make_model("llm-rerank", {"retriever": "pop", "ranker": "llm-likelihood", "top_n": 5,
                                     "ranker_params": ranker.config.model_dump()}).fit(tiny_split.train)


def test_rerank_state_class_path_is_never_imported(tiny_split, tiny_users, tmp_path, monkeypatch):
    model = _rerank(tiny_split)
    folder = model.save(tmp_path / "rr")
    before = model.score(tiny_users)
    marker = tmp_path / "marker"
    _plant(folder, "evil_state", marker, monkeypatch)
    with np.load(folder / "state.npz") as z:
        arrays = {k: z[k] for k in z.files}
    for sub in ("retriever_", "ranker_"):  # what older versions read the sub-model classes from
        arrays[f"state.{sub}meta"] = np.frombuffer(b"evil_state:Evil\nseed = 1\n", dtype=np.uint8)
    np.savez(folder / "state.npz", **arrays)
    loaded = Recommender.load(folder)
    assert not marker.exists(), "loading imported a class path stored in state.npz"
    np.testing.assert_allclose(loaded.score(tiny_users), before)


def test_rerank_ranker_must_be_an_llm_ranker(tiny_split, tmp_path):
    folder = _rerank(tiny_split).save(tmp_path / "rr")
    text = (folder / "config.toml").read_text().replace('ranker = "llm-likelihood"', 'ranker = "pop"')
    (folder / "config.toml").write_text(text)
    with pytest.raises(ArtifactError):
        Recommender.load(folder)


# ---------------------------------------------------------------- 2. no exfiltration
@pytest.mark.parametrize("var", ["AWS_SECRET_ACCESS_KEY", "HOME", "GITHUB_TOKEN", "openai_api_key", "PATH"])
def test_api_key_env_must_look_like_an_api_key(var):
    from llm4rec.lm.openai_compat import HTTPClient
    from llm4rec.models.llm.backends import check_generator_spec

    with pytest.raises(ConfigError, match="API-key variable"):
        check_generator_spec({"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1",
                              "api_key_env": var})
    with pytest.raises(ConfigError, match="API-key variable"):
        HTTPClient("http://127.0.0.1:9/v1", api_key_env=var)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/v1", "http:///v1", "127.0.0.1:8000/v1"])
def test_base_url_must_be_http(url):
    """A recipe's endpoint is an http(s) URL with a host, refused when the config is read."""
    from llm4rec.lm.openai_compat import HTTPClient
    from llm4rec.models.llm.backends import check_generator_spec

    with pytest.raises(ConfigError, match="base_url"):
        check_generator_spec({"backend": "openai", "model": "m", "base_url": url})
    with pytest.raises(ConfigError, match="base_url"):
        HTTPClient(url, api_key_env=None)


def test_run_config_with_a_secret_variable_is_rejected_naming_the_file(tmp_path):
    from llm4rec.eval.config import load_run_config

    cfg = tmp_path / "exfil.toml"
    cfg.write_text('[[models]]\nname = "llm-listwise"\n[models.params.generator]\nbackend = "openai"\n'
                   'model = "m"\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "AWS_SECRET_ACCESS_KEY"\n')
    with pytest.raises(ConfigError, match=r"exfil\.toml.*API-key variable"):
        load_run_config(cfg)


def _listwise_folder(tiny_split, tmp_path, base_url: str) -> Path:
    model = make_model("llm-listwise", {"generator": {"backend": "toy"}, "progress": False, "window": 5,
                                        "permutations": 1}).fit(tiny_split.train)
    folder = model.save(tmp_path / "lw")
    block = (f'[generator]\nbackend = "openai"\nmodel = "m"\nbase_url = "{base_url}"\n'
             'api_key_env = "OPENAI_API_KEY"\nmax_retries = 0\n')
    text = (folder / "config.toml").read_text()
    head, _, _ = text.partition("[generator]")
    (folder / "config.toml").write_text(head + block)
    return folder


def test_loaded_model_refuses_a_saved_endpoint(tiny_split, tiny_users, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-victim-secret")
    with FakeServer(tmp_path, "ok", max_requests=5) as attacker:
        folder = _listwise_folder(tiny_split, tmp_path, attacker.base_url)
        with pytest.raises(ConfigError, match="never chooses an endpoint"):
            Recommender.load(folder)
        assert attacker.requests == []


def test_caller_block_replaces_the_saved_endpoint(tiny_split, tiny_users, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-victim-secret")
    monkeypatch.setenv("MINE_API_KEY", "sk-mine")
    with FakeServer(tmp_path, "ok", max_requests=5) as attacker, \
            FakeServer(tmp_path, "ok", max_requests=50) as mine:
        folder = _listwise_folder(tiny_split, tmp_path, attacker.base_url)
        block = {"backend": "openai", "model": "m", "base_url": mine.base_url, "api_key_env": "MINE_API_KEY",
                 "cache_mode": "off"}
        model = Recommender.load(folder, backends={"generator": block})
        model.score(tiny_users[:2], np.arange(5))
        assert attacker.requests == []
        auth = {r["headers"].get("Authorization") for r in mine.requests}
        assert auth == {"Bearer sk-mine"}


def test_trust_is_an_explicit_opt_in(tiny_split, tiny_users, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-own")
    with FakeServer(tmp_path, "ok", max_requests=50) as own:
        folder = _listwise_folder(tiny_split, tmp_path, own.base_url)
        text = (folder / "config.toml").read_text() + 'cache_mode = "off"\n'
        (folder / "config.toml").write_text(text)
        Recommender.load(folder, backends="trust").score(tiny_users[:1], np.arange(5))
        assert {r["headers"].get("Authorization") for r in own.requests} == {"Bearer sk-own"}


def test_nested_remote_block_in_rerank_is_refused(tiny_split, tmp_path):
    folder = _rerank(tiny_split).save(tmp_path / "rr")
    text = (folder / "config.toml").read_text().replace(
        'backend = "toy"', 'backend = "openai"\nmodel = "m"\nbase_url = "http://127.0.0.1:9/v1"')
    (folder / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match="generator block"):
        Recommender.load(folder)


def test_saved_cache_path_is_ignored(tiny_split, tmp_path):
    from llm4rec.lm.policy import guard_loaded

    raw = {"generator": {"backend": "llama-cpp", "cache_path": str(tmp_path / "elsewhere.sqlite")},
           "ranker_params": {"encoder": {"backend": "wordllama", "cache_path": "/etc/x"}}}
    out = guard_loaded(raw, None, "folder")
    assert "cache_path" not in out["generator"] and "cache_path" not in out["ranker_params"]["encoder"]


def test_key_never_follows_a_redirect(tmp_path, monkeypatch):
    from llm4rec.lm.errors import LMError
    from llm4rec.lm.openai_compat import OpenAIGenerator

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    with FakeServer(tmp_path, "ok", max_requests=5) as other:
        with FakeServer(tmp_path, "redirect", max_requests=5, location=other.base_url + "/chat/completions") as srv:
            g = OpenAIGenerator("m", base_url=srv.base_url, max_retries=0, cache_mode="off")
            with pytest.raises(LMError, match="307"):
                g.chat([{"role": "user", "content": "hi"}])
            assert len(srv.requests) == 1
        assert other.requests == []


# ---------------------------------------------------------------- 3. paths stay inside
@pytest.mark.parametrize("name", ["../../escape", "a/b", "..", ".", "", "a\\b", "x\x00y", "ok/../.."])
def test_bad_run_names_are_rejected(tmp_path, name):
    from llm4rec.eval.config import RunConfig

    with pytest.raises(ValueError, match="cannot be a folder name"):
        RunConfig.model_validate({"name": name, "models": [{"name": "pop"}]})


@pytest.mark.parametrize("label", ["../../evil", "/abs", "x/../../y"])
def test_bad_labels_are_rejected(label):
    from llm4rec.eval.config import RunConfig

    with pytest.raises(ValueError, match="model label"):
        RunConfig.model_validate({"models": [{"name": "pop", "label": label}]})


def test_cli_traversal_name_writes_nothing_outside(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    cfg = work / "evil.toml"
    cfg.write_text('name = "../../outside"\n[output]\ndir = "runs/{name}"\nsave_models = true\n'
                   '[[models]]\nname = "pop"\nlabel = "../../../pwn"\n')
    proc = cli("run", str(cfg), cwd=work)
    assert_one_line_error(proc, "evil.toml", "run name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert sorted(p.name for p in work.iterdir()) == ["evil.toml"]
