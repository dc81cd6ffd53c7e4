"""The batch generation job on the toy generator: outputs, fingerprints, resuming after a kill, the CLI,
KAR's leakage rule, and the Ray runner (same rows as the local one)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llm4rec.jobs.generate import GenerateConfig, generate, load_generate_config, run_task
from llm4rec.lm.toy import ToyGenerator
from llm4rec.tokens import profile_rows, read_outputs, user_inputs
from llm4rec.tokens.store import LATEST, PARTIAL


def _cfg(tmp_path: Path, **over) -> GenerateConfig:
    raw = {"name": "gen", "generator": {"backend": "toy"}, "batch_size": 4, "progress": False,
           "tasks": [{"kind": "item", "limit": 10}], "output": {"dir": str(tmp_path / "{name}")}}
    raw.update(over)
    return GenerateConfig.model_validate(raw)


def test_item_outputs_are_parquet_with_qc_and_manifest(tmp_path):
    (res,) = generate(_cfg(tmp_path))
    df = pd.read_parquet(res.outputs)
    assert len(df) == 10 and df["index"].tolist() == list(range(10))
    assert df["key"].iloc[0] == "1" and df["year"].iloc[0] == 1995 and "Animation" in df["genres"].iloc[0]
    assert df["catalog_text"].iloc[0] == "Toy Story (1995); genres: Animation, Children's, Comedy"
    assert "Toy Story (1995)" in json.loads(df["prompt"].iloc[0])[-1]["content"]
    assert {"qc_flags", "qc_ok"} <= set(df.columns) and (res.folder / "qc.md").exists()
    manifest = json.loads((res.folder / "manifest.json").read_text())
    assert manifest["rows"] == 10 and manifest["completion_tokens"] == res.completion_tokens > 0
    assert not (res.folder.parent / LATEST).exists()  # a sample (limit) is never the task's LATEST
    assert read_outputs(res.folder)["key"].tolist() == df["key"].tolist()  # a version folder
    assert not (res.folder / PARTIAL).exists()


def test_a_complete_run_is_the_tasks_latest(toy_outputs):
    latest = (toy_outputs["item"] / LATEST).read_text().strip()
    assert read_outputs(toy_outputs["item"]).equals(pd.read_parquet(toy_outputs["item"] / latest / "outputs.parquet"))
    assert len(read_outputs(toy_outputs["item"])) == 1682 and len(read_outputs(toy_outputs["user"])) == 943


def test_fingerprint_versions_prompt_generator_and_data(tmp_path):
    base = _cfg(tmp_path)
    (a,) = generate(base)
    (again,) = generate(base)
    assert again.folder == a.folder and again.resumed == 10  # finished: nothing generated again
    variants = [_cfg(tmp_path, tasks=[{"kind": "item", "limit": 10, "template": "item_keywords",
                                       "name": "item_facts"}]),
                _cfg(tmp_path, tasks=[{"kind": "item", "limit": 10, "max_tokens": 50}]),
                _cfg(tmp_path, tasks=[{"kind": "item", "limit": 9}]),
                _cfg(tmp_path, generator={"backend": "toy", "vocab": 10})]
    folders = {a.folder} | {generate(v)[0].folder for v in variants}
    assert len(folders) == 5
    same = _cfg(tmp_path, generator={"backend": "toy"}, batch_size=2)  # runtime settings do not version
    assert generate(same)[0].folder == a.folder


def test_a_killed_run_resumes_without_asking_finished_prompts_again(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path)
    asked: list[str] = []
    original = ToyGenerator._chat

    def flaky(self, conversations, *args):
        asked.extend(c[-1]["content"] for c in conversations)
        if len(asked) > 6:  # dies inside the second batch of 4
            raise KeyboardInterrupt
        return original(self, conversations, *args)

    monkeypatch.setattr(ToyGenerator, "_chat", flaky)
    with pytest.raises(KeyboardInterrupt):
        generate(cfg)
    folder = next((tmp_path / "gen" / "item_facts").iterdir())
    assert len(pd.read_parquet(folder / PARTIAL)) == 4  # the first batch survived, atomically
    asked.clear()
    monkeypatch.setattr(ToyGenerator, "_chat", original)
    monkeypatch.setattr(ToyGenerator, "_chat", lambda self, c, *a: (asked.extend(x[-1]["content"] for x in c),
                                                                    original(self, c, *a))[1])
    (res,) = generate(cfg)
    assert res.resumed == 4 and len(asked) == 6 and res.rows == 10
    (fresh,) = generate(_cfg(tmp_path / "fresh"))
    pd.testing.assert_frame_equal(pd.read_parquet(res.outputs), pd.read_parquet(fresh.outputs))


def test_user_profiles_read_only_kars_training_prefix(tmp_path, small_split):
    train = small_split.train
    rows = profile_rows(train)
    n = np.bincount(train.user, minlength=train.n_users)
    for u in np.unique(train.user)[:20]:
        assert len(rows[u]) == min((n[u] + 1) // 2, 30)
        assert np.all(train.user[rows[u]] == u) and np.all(np.diff(train.timestamp[rows[u]]) >= 0)
        assert rows[u][0] == np.flatnonzero(train.user == u)[0]  # the first interactions in time
    inputs = user_inputs(train, users=[0, 1])
    valid_test = {(int(u), int(i)) for part in (small_split.valid, small_split.test)
                  for u, i in zip(part.user, part.item, strict=True)}
    for u, slots in zip(inputs.index, inputs.slots, strict=True):
        shown = train.item[rows[u]]
        assert slots["n"] == str(len(shown)) and not {(int(u), int(i)) for i in shown} & valid_test
    cfg = _cfg(tmp_path, tasks=[{"kind": "user", "template": "user_profile", "limit": 3}])
    (res,) = generate(cfg)
    df = pd.read_parquet(res.outputs)
    assert df["key"].tolist() == ["1", "2", "3"] and " | " in df["catalog_text"].iloc[0]


def test_a_user_template_on_items_is_refused(tmp_path):
    from llm4rec.errors import ConfigError

    with pytest.raises(ConfigError, match="user template"):
        generate(_cfg(tmp_path, tasks=[{"kind": "item", "template": "user_profile", "limit": 2}]))


def test_cli_generate(tmp_path):
    from typer.testing import CliRunner

    from llm4rec.cli.main import app

    file = tmp_path / "gen.toml"
    file.write_text(f'name = "cli"\n[generator]\nbackend = "toy"\n[[tasks]]\nkind = "item"\n'
                    f'[output]\ndir = "{tmp_path}/{{name}}"\n')
    assert load_generate_config(file).name == "cli"
    result = CliRunner().invoke(app, ["generate", str(file), "--limit", "3", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "item_facts: 3 rows" in result.output and "| empty | 0 |" in result.output


def test_ray_runner_writes_the_same_rows(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (extra 'ray')")
    import ray

    local = run_task(_cfg(tmp_path / "local"), _cfg(tmp_path).tasks[0])
    cfg = _cfg(tmp_path / "ray", runner="ray", ray={"workers": 2, "num_cpus": 2})
    try:
        remote = run_task(cfg, cfg.tasks[0])
    finally:
        ray.shutdown()
    assert remote.fingerprint == local.fingerprint
    pd.testing.assert_frame_equal(pd.read_parquet(remote.outputs), pd.read_parquet(local.outputs))


def test_tasks_can_be_chosen_by_name(tmp_path):
    from llm4rec.errors import ConfigError

    cfg = _cfg(tmp_path, tasks=[{"kind": "item", "limit": 2}, {"kind": "user", "template": "user_profile",
                                                                "limit": 2}])
    assert [r.task for r in generate(cfg, tasks=["user_profile"])] == ["user_profile"]
    with pytest.raises(ConfigError, match="unknown task"):
        generate(cfg, tasks=["nope"])
