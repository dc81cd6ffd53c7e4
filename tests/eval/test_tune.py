"""``llm4rec tune``: Optuna search on the validation split, resumable, never reading the test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from llm4rec.cli.main import app
from llm4rec.data.split import leave_one_out
from llm4rec.eval import load_run_config

pytest.importorskip("optuna")

SPACE = "[k]\nlow = 5\nhigh = 200\nlog = true\ninteger = true\n\n[shrink]\nlow = 0.0\nhigh = 50.0\n"


def _write_run(root: Path, df: pd.DataFrame) -> Path:
    df.to_csv(root / "inter.csv", index=False)
    (root / "space.toml").write_text(SPACE)
    run = root / "run.toml"
    run.write_text(f'name = "t"\n[dataset]\npath = "{root / "inter.csv"}"\n'
                   '[[models]]\nname = "itemknn"\n')
    return run


@pytest.fixture(scope="module")
def frames(ml100k) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first 150 ML-100K users as a table, and the same table with every test item rolled to another user."""
    inter = ml100k.interactions.subset(ml100k.interactions.user < 150)
    df = pd.DataFrame({"user": inter.user, "item": inter.item, "timestamp": inter.timestamp})
    test = leave_one_out(inter).test
    rows = np.flatnonzero(np.isin(inter.user, test.user) & _is_last(inter))
    other = df.copy()
    other.loc[rows, "item"] = np.roll(df.loc[rows, "item"].to_numpy(), 1)
    assert len(rows) == len(test) and (other["item"] != df["item"]).any()
    return df, other


def _is_last(inter) -> np.ndarray:
    last = np.zeros(len(inter), bool)
    last[inter.user_offsets()[1:][np.bincount(inter.user, minlength=inter.n_users) > 0] - 1] = True
    return last


def _tune(run: Path, out: Path, trials: int):
    res = CliRunner().invoke(app, ["tune", str(run), "--trials", str(trials), "--out", str(out),
                                   "--space", str(run.parent / "space.toml")])
    assert res.exit_code == 0, res.output
    return pd.read_csv(out / "trials.csv"), res.output


def test_tune_resumes_and_writes_best_config(frames, tmp_path):
    run = _write_run(tmp_path, frames[0])
    first, _ = _tune(run, tmp_path / "out", 2)
    assert len(first) == 2 and (first["state"] == "COMPLETE").all()
    second, output = _tune(run, tmp_path / "out", 3)  # resumes the same study: one more trial
    assert len(second) == 3 and second["valid_ndcg@10"].iloc[:2].tolist() == first["valid_ndcg@10"].tolist()
    assert "best validation NDCG@10" in output
    best = load_run_config(tmp_path / "out" / "best.toml")
    top = second.loc[second["valid_ndcg@10"].idxmax()]
    assert best.models[0].params == {"k": int(top["k"]), "shrink": pytest.approx(float(top["shrink"]))}
    assert (tmp_path / "out" / "study.db").exists() and (tmp_path / "out" / "trials.md").exists()


def test_tune_never_reads_the_test_split(frames, tmp_path):
    tables = []
    for name, df in zip("ab", frames, strict=True):
        (tmp_path / name).mkdir()
        tables.append(_tune(_write_run(tmp_path / name, df), tmp_path / name / "out", 2)[0])
    a, b = tables
    assert a["valid_ndcg@10"].tolist() == b["valid_ndcg@10"].tolist()
    assert a["valid_ndcg@10"].gt(0).all()


def test_tune_needs_a_known_space(tmp_path, frames):
    run = _write_run(tmp_path, frames[0])
    run.write_text(run.read_text().replace('"itemknn"', '"pop"'))
    res = CliRunner().invoke(app, ["tune", str(run), "--trials", "1", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "no default search space" in str(res.exception)
