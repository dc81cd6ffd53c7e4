"""Resuming a run (``run(..., resume=True)``, ``llm4rec run --resume``) on real ML-100K with Pop / ItemKNN /
BPR: an interrupted or partly failed run continues with the models it did not finish and ends with the
outputs of an uninterrupted run; another configuration, or --resume with --overwrite, is refused."""

from __future__ import annotations

import json
import logging
import re
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from llm4rec.errors import ConfigError
from llm4rec.eval import runner
from llm4rec.eval.config import EvalSpec, ModelSpec, OutputSpec, RunConfig
from llm4rec.eval.protocols import FullRanking, SampledCandidates
from llm4rec.eval.runner import run

TIMING = ("fit_seconds", "eval_seconds")


class Killed(BaseException):
    """Stands for the process dying (kill -9, out of memory): not an ``Exception``, so the run stops."""


def _config(models=("pop", "itemknn", "bpr"), epochs: int = 2, max_users: int = 100, **output) -> RunConfig:
    specs = [ModelSpec(name=m, params={"epochs": epochs} if m == "bpr" else {}) for m in models]
    return RunConfig(name="resume", models=specs,
                     protocols=[FullRanking(), SampledCandidates(n_negatives=49, seed=0)],
                     eval=EvalSpec(ks=[10], metrics=["hr", "ndcg"], bootstrap=50, max_users=max_users),
                     output=OutputSpec(**{"plot": False, **output}))


class Fits:
    """The names of the models the runner builds (to fit), in order; ``fail[name]`` is raised when that model is
    built, from its ``after[name]``-th build on (0: the first)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.fail: dict[str, BaseException] = {}
        self.after: dict[str, int] = {}


@pytest.fixture()
def fits(monkeypatch) -> Fits:
    fits, real = Fits(), runner.make_model

    def make_model(name, params):
        fits.names.append(name)
        if name in fits.fail and fits.names.count(name) > fits.after.get(name, 0):
            raise fits.fail[name]
        return real(name, params)

    monkeypatch.setattr(runner, "make_model", make_model)
    return fits


@pytest.fixture(scope="module")
def reference(ml100k, tmp_path_factory):
    """An uninterrupted run of the three models."""
    out = tmp_path_factory.mktemp("reference")
    return run(_config(), out), out


def _rows(folder, drop_timing: bool = True):
    rows = json.loads((folder / "results.json").read_text())
    return [r for r in rows if not (drop_timing and r["protocol"] == "cost" and r["metric"].startswith(TIMING))]


def _npz(folder):
    with np.load(folder / "per_user.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _without_costs(report: str) -> str:
    return re.sub(r"## cost\n.*?(?=\n## |\Z)", "", report, flags=re.S)


def _assert_same_outputs(folder, ref_folder):
    assert _rows(folder) == _rows(ref_folder)  # same records in the same order (timings aside)
    a, b = _npz(folder), _npz(ref_folder)
    assert list(a) == list(b)
    for key in b:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        assert a[key].dtype.kind == b[key].dtype.kind
    assert _without_costs((folder / "report.md").read_text()) == _without_costs((ref_folder / "report.md").read_text())
    assert not (folder / "failures.json").exists()


def test_a_killed_run_resumes_with_the_models_it_did_not_finish(reference, tmp_path, fits, caplog):
    ref, ref_folder = reference
    out = tmp_path / "out"
    fits.fail["itemknn"] = Killed()
    with pytest.raises(Killed):
        run(_config(), out)
    assert {r["model"] for r in _rows(out)} == {"pop"}
    pop_fit = next(r["value"] for r in _rows(out, False) if r["model"] == "pop" and r["metric"] == "fit_seconds")
    del fits.fail["itemknn"]
    fits.names.clear()
    with caplog.at_level(logging.INFO, logger="llm4rec.eval.runner"):
        res = run(_config(), out, resume=True)
    assert fits.names == ["itemknn", "bpr"]  # pop was not refitted
    assert "reusing ['pop']" in caplog.text
    _assert_same_outputs(out, ref_folder)
    assert next(r["value"] for r in _rows(out, False)
                if r["model"] == "pop" and r["metric"] == "fit_seconds") == pop_fit  # the earlier run's timing
    # in memory too: dense user ids again, the same per-user columns in the same order
    assert list(res.per_user) == list(ref.per_user)
    for key, values in ref.per_user.items():
        np.testing.assert_array_equal(res.per_user[key], values, err_msg=key)
        assert res.per_user[key].dtype == values.dtype
    assert [(r.model, r.protocol, r.metric, r.k) for r in res.records] == \
        [(r.model, r.protocol, r.metric, r.k) for r in ref.records]
    assert sorted(res.files) == sorted(ref.files)


def test_failed_models_are_refitted_and_the_others_reused(reference, tmp_path, fits):
    _, ref_folder = reference
    out = tmp_path / "out"
    fits.fail["itemknn"] = ValueError("out of memory, say")
    run(_config(), out)
    assert "itemknn" in json.loads((out / "failures.json").read_text())
    assert [m for m in dict.fromkeys(r["model"] for r in _rows(out))] == ["pop", "bpr"]
    del fits.fail["itemknn"]
    fits.names.clear()
    run(_config(), out, resume=True)
    assert fits.names == ["itemknn"]
    _assert_same_outputs(out, ref_folder)  # records in the configuration's order, failures.json gone


def test_a_finished_run_resumes_without_fitting_anything(reference, tmp_path, fits):
    _, ref_folder = reference
    out = tmp_path / "out"
    shutil.copytree(ref_folder, out)
    run(_config(), out, resume=True)
    assert fits.names == []
    assert _rows(out, False) == _rows(ref_folder, False)  # timings kept as they were


@pytest.mark.parametrize("changed,key", [(_config(epochs=3), "models.2.params.epochs"),
                                         (_config(max_users=80), "eval.max_users"),
                                         (_config(models=("pop", "itemknn")), "models.2.name")])
def test_another_configuration_is_refused_naming_the_first_differing_key(reference, tmp_path, fits, changed, key):
    _, ref_folder = reference
    out = tmp_path / "out"
    shutil.copytree(ref_folder, out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(ConfigError, match="another configuration") as info:
        run(changed, out, resume=True)
    msg = str(info.value)
    assert key in msg and "--overwrite" in msg and "new output folder" in msg, msg
    assert fits.names == []
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_resume_and_overwrite_together_are_refused(tmp_path, fits):
    with pytest.raises(ConfigError, match="exclude each other"):
        run(_config(), tmp_path / "out", resume=True, overwrite=True)
    assert fits.names == [] and not (tmp_path / "out").exists()


def test_resume_on_a_new_or_empty_folder_is_a_normal_run(ml100k, tmp_path, fits):
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "new", tmp_path / "empty"):
        fits.names.clear()
        run(_config(models=("pop",)), out, resume=True)
        assert fits.names == ["pop"] and {r["model"] for r in _rows(out)} == {"pop"}


def test_outputs_without_config_are_refused(tmp_path, fits):
    (tmp_path / "results.json").write_text("[]")
    with pytest.raises(ConfigError, match=r"no config\.toml"):
        run(_config(), tmp_path, resume=True)


def test_a_saved_model_must_exist_to_be_reused(ml100k, tmp_path, fits):
    out = tmp_path / "out"
    cfg = _config(models=("pop", "itemknn"), save_models=True)
    fits.fail["itemknn"] = Killed()
    with pytest.raises(Killed):
        run(cfg, out)
    del fits.fail["itemknn"]
    fits.names.clear()
    run(cfg, out, resume=True)
    assert fits.names == ["itemknn"]  # pop's saved folder is there: reused
    shutil.rmtree(out / "models" / "pop")
    fits.names.clear()
    run(cfg, out, resume=True)
    assert fits.names == ["pop"]  # refitted and saved again
    assert (out / "models" / "pop" / "meta.json").exists()


def test_seed_runs_resume_per_seed_folder(ml100k, tmp_path, fits):
    from llm4rec.eval.seed_runs import run_seeds

    cfg = _config(models=("pop", "itemknn"), max_users=50).model_copy(update={"seeds": [0, 1]})
    ref = run_seeds(cfg, tmp_path / "ref")
    fits.names.clear()
    fits.fail["itemknn"], fits.after["itemknn"] = Killed(), 1  # dies at the second seed's itemknn
    with pytest.raises(Killed):
        run_seeds(cfg, tmp_path / "out")
    fits.names.clear()
    run_seeds(cfg, tmp_path / "out", resume=True)
    assert fits.names == ["itemknn"]  # seed 0 complete, pop of seed 1 reused
    assert (tmp_path / "out" / "seeds.md").read_text() == (ref.output_dir / "seeds.md").read_text()
    with pytest.raises(ConfigError, match="single run"):
        run_seeds(cfg, tmp_path / "out" / "seed-0", resume=True)


def test_cli_resume_flag(ml100k, tmp_path, fits):
    from llm4rec.cli import app

    out = tmp_path / "out"
    (tmp_path / "run.toml").write_text(
        'name = "cli"\n[[models]]\nname = "pop"\n[[models]]\nname = "itemknn"\n[eval]\nks = [10]\n'
        f'metrics = ["ndcg"]\nbootstrap = 20\nmax_users = 50\n[output]\ndir = "{out}"\nplot = false\n')
    fits.fail["itemknn"] = ValueError("boom")
    assert CliRunner().invoke(app, ["run", str(tmp_path / "run.toml")]).exit_code == 1  # a model failed
    del fits.fail["itemknn"]
    fits.names.clear()
    res = CliRunner().invoke(app, ["run", str(tmp_path / "run.toml"), "--resume"])
    assert res.exit_code == 0, res.output
    assert fits.names == ["itemknn"] and not (out / "failures.json").exists()
    res = CliRunner().invoke(app, ["run", str(tmp_path / "run.toml"), "--resume", "--overwrite"])
    assert isinstance(res.exception, ConfigError) and "exclude each other" in str(res.exception)
    res = CliRunner().invoke(app, ["run", str(tmp_path / "run.toml"), "--resume", "--max-users", "20"])
    assert isinstance(res.exception, ConfigError) and "eval.max_users" in str(res.exception)
    assert fits.names == ["itemknn"]
