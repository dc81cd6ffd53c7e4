"""Result tables stay readable when stdout is not a terminal (CI logs, nohup runs)."""

from __future__ import annotations

from pathlib import Path

from llm4rec.eval.report import print_tables
from llm4rec.eval.results import Record, RunResult


def test_tables_are_not_cut_without_a_terminal(capsys):
    models = [f"model-with-a-long-label-{i}" for i in range(8)]
    records = [Record(m, "full", "ndcg", 10, 0.05831 + i / 1000, 0.05 + i / 1000, 0.066 + i / 1000, 943)
               for i, m in enumerate(models)]
    print_tables(RunResult(records, {}, {}, Path(".")))
    out = capsys.readouterr().out
    assert "…" not in out
    for i, m in enumerate(models):
        assert m in out and f"{0.05831 + i / 1000:.4f}±{0.008:.4f}" in out
