"""Items 5, 7, 8, 9 through ``llm4rec run``: validation before work, the run folder (lock, rerun
policy, kill -9), ordinary faults as one line, honest empty results."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from filelock import FileLock
from support import ROOT, assert_one_line_error
from support import cli_inprocess as cli

from llm4rec.errors import ConfigError
from llm4rec.eval.config import load_run_config

POP = '[[models]]\nname = "pop"\n'
FAST = "[eval]\nbootstrap = 0\nks = [5, 10]\n[output]\nplot = false\n"


def _config(tmp_path, body: str, name: str = "run.toml"):
    path = tmp_path / name
    path.write_text(body)
    return path


def _recipe(data, extra: str = "", eval_: str = FAST, models: str = POP) -> str:
    return f'[dataset]\npath = "{data}"\n{extra}\n{eval_}{models}'


# ---------------------------------------------------------------- 7. validate before any work
@pytest.mark.parametrize("body,key,needle", [
    ('[split]\nkind = "temporal"\nparams = {vaild = 0.1}\n' + POP, "split.params", "unknown parameters ['vaild']"),
    ('[split]\nkind = "temporal"\nparams = {valid = 0.6, test = 0.5}\n' + POP, "split.params", "must leave"),
    ('[split]\nkind = "cold_start_items"\nparams = {test_frac = 1.5}\n' + POP, "split.params", "[0, 1)"),
    ('[split]\nkind = "leave_one_out"\nparams = {min_trian = 2}\n' + POP, "split.params", "min_train"),
    ("[eval]\nmetrics = ['ndgc']\n" + POP, "eval.metrics", "unknown metrics ['ndgc']"),
    ("[eval]\nks = [10, 0]\n" + POP, "eval.ks", "positive"),
    ("[eval]\nks = [-5]\n" + POP, "eval.ks", "positive"),
    ("[eval]\nmax_users = 0\n" + POP, "eval.max_users", "greater than or equal to 1"),
    ('[[models]]\nname = "sasrek"\n', "models.0", "sasrek"),
    ('[[models]]\nname = "sasrec"\nparams = {epoch = 3}\n', "models.0", "epoch"),
    ('[dataset]\nkcore = -1\n' + POP, "dataset.kcore", "greater than or equal to 0"),
])
def test_config_errors_name_the_file_and_the_key(tmp_path, body, key, needle):
    path = _config(tmp_path, body, "recipe.toml")
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    msg = str(info.value)
    assert str(path) in msg and key in msg and needle in msg, msg


def test_cli_max_users_zero_is_rejected_before_data_loads(tmp_path):
    path = _config(tmp_path, _recipe(tmp_path / "missing.csv"))
    proc = cli("run", str(path), "--max-users", "0", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--max-users" in proc.stderr and "missing.csv" not in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra,eval_,key,needle", [
    ("kcore = 1000", FAST, "dataset.kcore", "no training interaction is left after the 1000-core filter"),
    ("", "[eval]\nbootstrap = 0\nks = [10, 5000]\n", "eval.ks", "cut-offs [5000] exceed the catalog size"),
])
def test_data_dependent_checks_run_before_any_model_trains(tiny_csv, tmp_path, monkeypatch, extra, eval_, key,
                                                           needle):
    from llm4rec.eval.runner import run
    from llm4rec.models.classic.pop import Pop

    path = _config(tmp_path, _recipe(tiny_csv, extra, eval_))
    monkeypatch.setattr(Pop, "fit", lambda *a, **k: pytest.fail("a model trained"))
    with pytest.raises(ConfigError) as info:
        run(load_run_config(path), tmp_path / "out")
    assert f"{path}: {key}: {needle}" in str(info.value)
    assert not (tmp_path / "out" / "results.json").exists()


# ---------------------------------------------------------------- 9. honest empty results
def test_a_run_that_evaluates_no_user_exits_non_zero_with_strict_json(tmp_path):
    data = tmp_path / "repeat.csv"  # every user's test item repeats a train item: no new target to rank
    data.write_text("user,item,timestamp\n" + "".join(f"u{u},a,1\nu{u},b{u},2\nu{u},a,3\n" for u in range(12)))
    path = _config(tmp_path, _recipe(data, 'duplicates = "keep"'))
    out = tmp_path / "out"
    proc = cli("run", str(path), "--out", str(out))
    assert proc.returncode == 1, proc.stderr[-800:]
    assert "Traceback" not in proc.stderr and "no user was evaluated for pop (full)" in proc.stderr
    text = (out / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    rows = json.loads(text)
    ranking = [r for r in rows if r["protocol"] != "cost"]
    assert ranking and all(r["n_users"] == 0 and r["value"] is None for r in ranking)


# ---------------------------------------------------------------- 5. the run folder
def test_rerun_is_refused_without_overwrite_and_keeps_the_results(tiny_csv, tmp_path):
    path, out = _config(tmp_path, _recipe(tiny_csv)), tmp_path / "out"
    assert cli("run", str(path), "--out", str(out)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"results.json", "per_user.npz", "config.toml", "report.md"} <= set(before)
    proc = cli("run", str(path), "--out", str(out))
    assert_one_line_error(proc, "already holds the outputs of a run", "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    (out / "config.toml").write_text("# marker\n")
    assert cli("run", str(path), "--out", str(out), "--overwrite").returncode == 0
    assert (out / "config.toml").read_text() != "# marker\n"
    assert not list(out.glob(".tmp-*"))


def test_a_locked_folder_is_refused_at_once(tiny_csv, tmp_path):
    path, out = _config(tmp_path, _recipe(tiny_csv)), tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / ".lock"), timeout=0):
        proc = cli("run", str(path), "--out", str(out))
    assert_one_line_error(proc, "is in use by another run")
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_a_concurrent_run_is_refused_and_kill_9_releases_the_folder(tmp_path):
    """While a real run holds the folder a second run fails at once and touches nothing; after the
    first is killed with SIGKILL the folder is free again, its leftovers are complete or removed."""
    out = tmp_path / "out"
    path = _config(tmp_path, FAST + POP + '[[models]]\nname = "itemknn"\n')  # ML-100K: seconds of work
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", "from llm4rec.cli import entry; entry()", "run", str(path),
                             "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out / "config.toml").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        first = (out / "config.toml").read_bytes()
        other = _config(tmp_path, FAST + POP + "[split]\nseed = 7\n", "other.toml")
        second = cli("run", str(other), "--out", str(out))
        assert_one_line_error(second, "is in use by another run")
        assert (out / "config.toml").read_bytes() == first
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    for f in out.glob("*.json"):
        json.loads(f.read_text())  # whatever the killed run wrote is complete
    rerun = cli("run", str(other), "--out", str(out), "--overwrite")
    assert rerun.returncode == 0, rerun.stderr[-800:]
    assert "seed = 7" in (out / "config.toml").read_text()
    assert {r["model"] for r in json.loads((out / "results.json").read_text())} == {"pop"}
    assert not list(out.glob(".tmp-*")) and not list(out.glob("*.tmp*"))


# ---------------------------------------------------------------- 8. ordinary faults: one line, no traceback
def test_blocked_output_folder_is_one_line(tiny_csv, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should be")
    proc = cli("run", str(_config(tmp_path, _recipe(tiny_csv))), "--out", str(blocker / "out"))
    assert_one_line_error(proc, "cannot use output folder", str(blocker / "out"))


def test_truncated_gz_through_the_cli_is_one_line(tiny_csv, tmp_path):
    data = gzip.compress(tiny_csv.read_bytes())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(data[: len(data) // 2])
    proc = cli("run", str(_config(tmp_path, _recipe(cut))), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "cut.csv.gz", "truncated")
    assert "Aborted" not in proc.stderr


def test_blocked_cache_folder_through_the_cli_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LLM4REC_CACHE", str(blocker / "sub"))
    proc = cli("datasets", "fetch", "ml-100k")
    assert_one_line_error(proc, str(blocker))


def test_non_utf8_chat_stdin_is_one_line():
    proc = cli("chat", "--backend", "toy", "--encoder", "wordllama", stdin=b"I like Star Wars \xff\xfe\n")
    assert_one_line_error(proc, "stdin line 1 is not UTF-8")


def test_train_with_a_k_core_that_leaves_nothing_is_one_line(tiny_csv, tmp_path):
    proc = cli("train", str(_config(tmp_path, _recipe(tiny_csv, "kcore = 1000"), "k.toml")), "--save",
               str(tmp_path / "art"))
    assert_one_line_error(proc, "k.toml: dataset.kcore: no interaction is left to train on")
    assert not (tmp_path / "art").exists()


@pytest.mark.parametrize("file", ["vocab.npz", "catalog.parquet"])
def test_damaged_artifact_files_are_named(tiny_csv, tmp_path, file):
    from llm4rec.errors import ArtifactError
    from llm4rec.serve.artifact import load_artifact
    from llm4rec.serve.train import train_artifact

    art = train_artifact(_config(tmp_path, _recipe(tiny_csv)), tmp_path / "art")
    data = (art / file).read_bytes()
    (art / file).write_bytes(data[: len(data) // 3])
    with pytest.raises(ArtifactError, match=rf"{file} is damaged or incomplete .*llm4rec train --save"):
        load_artifact(art)


@pytest.mark.parametrize("text,needle", [("max_in_flight = 'lots'\n[[[\n", "invalid serve settings"),
                                         ("max_in_flight = 0\n", "max_in_flight"),
                                         ("batching = 'maybe'\nunknown_key = 1\n", "unknown_key")])
def test_bad_serve_settings_file_is_one_line(tmp_path, text, needle):
    """``llm4rec serve --settings FILE``: bad TOML or values name the file, before the artifact loads."""
    bad = tmp_path / "settings.toml"
    bad.write_text(text)
    proc = cli("serve", str(tmp_path), "--settings", str(bad))
    assert_one_line_error(proc, "settings.toml", needle)


def test_bad_generator_block_file_is_one_line(tmp_path):
    bad = tmp_path / "gen.toml"
    bad.write_text("backend = [unclosed\n")
    proc = cli("serve", str(tmp_path), "--generator", str(bad))
    assert_one_line_error(proc, "gen.toml", "invalid TOML")
