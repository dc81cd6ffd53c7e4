"""A run repeated over seeds (``seeds = [...]`` in the run TOML) and its summary across them.

Each repeat is a complete run in ``<output>/seed-<s>/`` with ``[split] seed`` and the ``seed`` of
every sampled protocol (its candidates) replaced by ``s``; everything else is the configuration's.
``seeds.md`` / ``seeds.json`` in the output folder give, per protocol and metric, each seed's mean
with its per-user bootstrap CI, the mean and sample standard deviation across seeds, and every
model against the best one seed by seed (the per-seed differences, in how many seeds the model is
ahead, and a paired t-test over the seeds: :func:`llm4rec.eval.seeds.compare_across_seeds`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from llm4rec.errors import ConfigError
from llm4rec.eval.config import RunConfig
from llm4rec.eval.outdir import RunFolder
from llm4rec.eval.protocols.base import NegativeSampling
from llm4rec.eval.report import metric_name
from llm4rec.eval.results import Record, RunResult
from llm4rec.eval.seeds import compare_across_seeds, seed_spread


@dataclass
class SeedRuns:
    """The runs of every seed, the summary files written and where."""

    runs: dict[int, RunResult]
    output_dir: Path
    files: list[str]

    @property
    def failures(self) -> dict[str, str]:
        return {f"{label} (seed {s})": err for s, r in self.runs.items() for label, err in r.failures.items()}


def config_for_seed(cfg: RunConfig, seed: int) -> RunConfig:
    """``cfg`` with its split seed and the seed of every sampled protocol set to ``seed`` (and no ``seeds``)."""
    protocols = [type(p).model_validate({**p.model_dump(), "seed": seed}) if isinstance(p, NegativeSampling)
                 else p for p in cfg.protocols]
    return cfg.model_copy(update={"seeds": None, "protocols": protocols,
                                  "split": cfg.split.model_copy(update={"seed": seed})})


def run_seeds(cfg: RunConfig, output_dir: str | Path | None = None, *, overwrite: bool = False,
              resume: bool = False) -> SeedRuns:
    """Run ``cfg`` once per seed of ``cfg.seeds`` and write the summary across seeds.

    The output folder and every ``seed-<s>/`` folder follow :mod:`llm4rec.eval.outdir` (locked;
    earlier outputs refused unless ``overwrite``). With ``resume`` every ``seed-<s>/`` folder is resumed
    on its own (``run(..., resume=True)``: its ``config.toml`` must equal that seed's configuration; a
    missing seed folder is a normal run) and the summary is rewritten from all seeds.
    """
    from llm4rec.eval.runner import run

    if not cfg.seeds:
        raise ValueError("run_seeds needs a configuration with seeds")
    out = Path(output_dir) if output_dir else cfg.output_dir()
    with RunFolder(out, overwrite=overwrite, resume=resume) as folder:
        single = [f for f in folder.present if f not in ("seeds.md", "seeds.json")]
        if resume and single:
            raise ConfigError(f"cannot resume a run over seeds in {out}: it holds the outputs of a single run "
                              f"({', '.join(single)}); use a new output folder (--out) or --overwrite")
        runs = {s: run(config_for_seed(cfg, s), out / f"seed-{s}", overwrite=overwrite, resume=resume)
                for s in cfg.seeds}
        folder.write_text("seeds.md", seeds_markdown(cfg, runs))
        folder.write_json("seeds.json", [{"seed": s, **asdict(r)} for s, res in runs.items() for r in res.records])
    files = [f"seed-{s}/{f}" for s, res in runs.items() for f in res.files] + ["seeds.md", "seeds.json"]
    return SeedRuns(runs, out, files)


def _by_key(runs: dict[int, RunResult]) -> dict[tuple[str, str], dict[str, dict[int, Record]]]:
    """(protocol, metric) -> model -> seed -> record (cost records left out)."""
    out: dict[tuple[str, str], dict[str, dict[int, Record]]] = {}
    for seed, res in runs.items():
        for r in res.records:
            if r.protocol != "cost":
                out.setdefault((r.protocol, metric_name(r)), {}).setdefault(r.model, {})[seed] = r
    return out


def _cell(r: Record | None) -> str:
    if r is None:
        return ""
    return f"{r.value:.4f}" if r.ci_low is None else f"{r.value:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}]"


def seeds_markdown(cfg: RunConfig, runs: dict[int, RunResult]) -> str:
    """Per protocol and metric: per-seed values with CIs, mean ± sd over seeds, comparisons with the best."""
    seeds = list(runs)
    lines = [f"# Run `{cfg.name}` over seeds {seeds}", "",
             f"Each seed sets the split seed ({cfg.split.kind}) and the seed of every sampled protocol. Per seed: "
             f"the mean over users with its {1 - cfg.eval.alpha:.0%} bootstrap CI (variation over users); "
             "across seeds: mean ± sample standard deviation (variation over splits / candidates). A ranking "
             "that rests on one seed is a conclusion only if it holds across seeds.", ""]
    head = ["model", *(f"seed {s}" for s in seeds), "mean ± sd"]
    for (protocol, metric), models in _by_key(runs).items():
        lines += [f"## {protocol}: {metric}", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        for model, by_seed in models.items():
            sp = seed_spread([by_seed[s].value if s in by_seed else float("nan") for s in seeds])
            lines.append(f"| {model} | " + " | ".join(_cell(by_seed.get(s)) for s in seeds) + f" | {sp} |")
        lines.append("")
    lines += _comparison_lines(cfg, runs)
    return "\n".join(lines) + "\n"


def _comparison_lines(cfg: RunConfig, runs: dict[int, RunResult]) -> list[str]:
    """Every model against the best (by mean over seeds) on the report's main metric, per protocol."""
    metric = "ndcg" if "ndcg" in cfg.eval.metrics else (cfg.eval.metrics or ["ndcg"])[0]
    k = sorted(cfg.eval.ks)[len(cfg.eval.ks) // 2] if cfg.eval.ks else None
    seeds = list(runs)
    lines: list[str] = []
    for (protocol, name), models in _by_key(runs).items():
        if name not in (f"{metric}@{k}", "user_auc"):
            continue
        complete = {m: [by_seed[s].value for s in seeds] for m, by_seed in models.items()
                    if all(s in by_seed for s in seeds)}
        if len(complete) < 2:
            continue
        best = max(complete, key=lambda m: sum(complete[m]))
        lines += [f"## Across seeds ({protocol}, {name}, against {best})", "",
                  "| model | " + " | ".join(f"seed {s} diff" for s in seeds) + " | mean diff ± sd | ahead in | "
                  "paired t-test p (seeds) |", "|---" * (len(seeds) + 4) + "|"]
        for model, values in complete.items():
            if model == best:
                continue
            c = compare_across_seeds(values, complete[best])
            diffs = " | ".join(f"{a - b:+.4f}" for a, b in zip(values, complete[best], strict=True))
            lines.append(f"| {model} | {diffs} | {c.diff:+.4f} ± {c.std:.4f} | {c.wins}/{c.n} | {c.p_value:.3g} |")
        lines.append("")
    return lines
