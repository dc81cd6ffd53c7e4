"""What a run writes (real ML-100K, Pop / Random): per-user values keyed by user id and paired across runs by
id; the CLI names only the files it wrote; a run repeated over seeds with its summary across seeds."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from llm4rec.errors import ConfigError
from llm4rec.eval.config import EvalSpec, ModelSpec, OutputSpec, RunConfig, SplitSpec
from llm4rec.eval.per_user import load_per_user, pair_by_user
from llm4rec.eval.protocols import FullRanking, SampledCandidates
from llm4rec.eval.runner import run
from llm4rec.eval.seeds import seed_spread


def _config(models: list[str], eval_seed: int, **kw) -> RunConfig:
    return RunConfig(name="t", models=[ModelSpec(name=m) for m in models],
                     protocols=[FullRanking(), SampledCandidates(n_negatives=49, seed=0)],
                     eval=EvalSpec(ks=[10], metrics=["hr", "ndcg"], bootstrap=50, max_users=300, seed=eval_seed),
                     output=OutputSpec(plot=False), **kw)


def test_per_user_values_are_keyed_by_external_user_id_and_paired_by_id(ml100k, tmp_path):
    run(_config(["pop", "random"], eval_seed=0), tmp_path / "a")
    run(_config(["random", "pop"], eval_seed=1), tmp_path / "b")  # other users, other model order
    a, b = load_per_user(tmp_path / "a"), load_per_user(tmp_path / "b")
    assert set(a) == {(m, p) for m in ("pop", "random") for p in ("full", "sampled-uniform-49")}
    pop_a, pop_b = a["pop", "full"], b["pop", "full"]
    assert len(pop_a.user_ids) == 300 and set(pop_a.user_ids) <= set(ml100k.user_ids)
    ids, va, vb = pair_by_user(pop_a, pop_b, "ndcg@10")
    assert 0 < len(ids) < 300 and set(ids) <= set(pop_a.user_ids) & set(pop_b.user_ids)
    np.testing.assert_array_equal(va, vb)  # Pop is deterministic: the same user scores the same in both runs
    assert not np.array_equal(pop_a.values["ndcg@10"], pop_b.values["ndcg@10"])  # pairing by order would not
    ids2, r, p = pair_by_user(a["random", "sampled-uniform-49"], a["pop", "sampled-uniform-49"], "hr@10")
    assert len(ids2) == 300 and r.mean() < p.mean()
    with pytest.raises(ConfigError, match="has no 'mrr@10'"):
        pair_by_user(pop_a, pop_b, "mrr@10")


def test_a_file_without_user_ids_is_refused(tmp_path):
    np.savez(tmp_path / "per_user.npz", **{"pop|full|ndcg@10": np.ones(3)})
    with pytest.raises(ConfigError, match="no user ids"):
        load_per_user(tmp_path)


def test_cli_reports_only_the_files_it_wrote(ml100k, tmp_path):
    from llm4rec.cli import app

    (tmp_path / "run.toml").write_text(
        'name = "cli"\n[[models]]\nname = "pop"\n[eval]\nks = [10]\nmetrics = ["ndcg"]\nbootstrap = 20\n'
        f'max_users = 50\n[output]\ndir = "{tmp_path / "out"}"\nplot = false\n')
    res = CliRunner().invoke(app, ["run", str(tmp_path / "run.toml")])
    assert res.exit_code == 0, res.output
    listed = re.search(r"results written to .*/ \((.*)\)", res.output).group(1).split(", ")
    assert "metrics.png" not in listed and not (tmp_path / "out" / "metrics.png").exists()
    assert sorted(listed) == sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != ".lock")


def test_a_run_over_seeds_reports_mean_and_spread_beside_the_per_seed_cis(ml100k, tmp_path):
    from llm4rec.eval.seed_runs import run_seeds

    cfg = _config(["pop", "random"], eval_seed=0, seeds=[0, 1, 2],
                  split=SplitSpec(kind="cold_start_users", params={"max_train": 5, "frac": 0.2}))
    res = run_seeds(cfg, tmp_path)
    assert sorted(res.runs) == [0, 1, 2]
    hr = {}
    for s in (0, 1, 2):
        saved = RunConfig.load(tmp_path / f"seed-{s}" / "config.toml")
        assert saved.split.seed == s and saved.protocols[1].seed == s and saved.seeds is None
        rows = json.loads((tmp_path / f"seed-{s}" / "results.json").read_text())
        hr[s] = {r["model"]: r for r in rows if r["protocol"] == "sampled-uniform-49" and r["metric"] == "hr"}
    assert len({hr[s]["pop"]["value"] for s in hr}) == 3  # other users and candidates in every seed
    md = (tmp_path / "seeds.md").read_text()
    pop = seed_spread([hr[s]["pop"]["value"] for s in (0, 1, 2)])
    row = next(line for line in md.split("## sampled-uniform-49: hr@10")[1].splitlines() if line.startswith("| pop"))
    assert f"{hr[0]['pop']['value']:.4f} [{hr[0]['pop']['ci_low']:.4f}, {hr[0]['pop']['ci_high']:.4f}]" in row
    assert row.endswith(f"| {pop.mean:.4f} ± {pop.std:.4f} |")
    assert "## Across seeds (sampled-uniform-49, ndcg@10, against pop)" in md
    assert re.search(r"\| random \| [-+0-9. |±]+\| 0/3 \| [0-9.e-]+ \|", md)
    assert {"seeds.md", "seeds.json", "seed-2/per_user.npz"} <= set(res.files)
