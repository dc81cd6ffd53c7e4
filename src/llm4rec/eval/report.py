"""Human-readable outputs of a run: terminal table, Markdown report, metrics plot."""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from llm4rec.eval.results import Record, RunResult

if TYPE_CHECKING:
    from llm4rec.data.dataset import Dataset
    from llm4rec.data.split import Split
    from llm4rec.eval.config import RunConfig
    from llm4rec.eval.outdir import RunFolder


def metric_name(r: Record) -> str:
    return r.metric if r.k is None else f"{r.metric}@{r.k}"


def _fmt(r: Record) -> str:
    if r.ci_low is None or r.ci_high is None:
        return f"{r.value:.4f}"
    return f"{r.value:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}]"


def tables(records: list[Record]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per protocol (and "cost"): header and rows (one per model, one column per metric)."""
    by_protocol: dict[str, dict[str, dict[str, Record]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        by_protocol[r.protocol][r.model][metric_name(r)] = r
    out = {}
    for protocol, models in by_protocol.items():
        metrics = list(dict.fromkeys(m for recs in models.values() for m in recs))
        rows = [[model] + [(_fmt(recs[m]) if m in recs else "") for m in metrics]
                for model, recs in models.items()]
        out[protocol] = (["model", *metrics], rows)
    return out


def print_tables(result: RunResult) -> None:
    """Print one compact table per protocol: a row per metric, a column per model (value ± CI half-width)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    # on a terminal rich fits the width; in logs / pipes (no terminal, default 80 columns) it would cut
    # every value to "0.0583±…", so there the tables take the width they need
    console = Console() if sys.stdout.isatty() else Console(width=100_000)
    by_protocol: dict[str, dict[str, dict[str, Record]]] = defaultdict(lambda: defaultdict(dict))
    for r in result.records:
        by_protocol[r.protocol][metric_name(r)][r.model] = r
    models = list(dict.fromkeys(r.model for r in result.records))
    for protocol, metrics in sorted(by_protocol.items(), key=lambda kv: kv[0] == "cost"):
        table = Table(title=f"{protocol}" + ("" if protocol == "cost" else "  (mean ± 95% CI half-width)"))
        table.add_column("metric")
        for m in models:
            table.add_column(m, justify="right")
        for metric, recs in metrics.items():
            table.add_row(escape(metric), *[_compact(recs[m]) if m in recs else "" for m in models])
        console.print(table)
    for label, err in result.failures.items():
        console.print(f"[red]model {label} failed:[/red] {err.strip().splitlines()[-1]}")


def _compact(r: Record) -> str:
    if r.ci_low is None or r.ci_high is None:
        return f"{r.value:.4g}" if r.protocol == "cost" else f"{r.value:.4f}"
    return f"{r.value:.4f}±{(r.ci_high - r.ci_low) / 2:.4f}"


def markdown(result: RunResult, cfg: RunConfig, ds: Dataset, split: Split) -> str:
    """The run's report: data, split, per-protocol tables with CIs, paired tests, failures."""
    lines = [f"# Run `{cfg.name}`", "",
             f"- dataset: {ds.name} ({ds.n_users} users, {ds.n_items} items, {len(ds)} interactions)",
             f"- split: {split.kind} {split.params}: {len(split.train)} train / {len(split.valid)} valid / "
             f"{len(split.test)} test",
             f"- evaluated part: {cfg.eval.part}; confidence intervals: {1 - cfg.eval.alpha:.0%} percentile "
             f"bootstrap over users ({cfg.eval.bootstrap} resamples)", ""]
    for protocol, (header, rows) in sorted(tables(result.records).items(), key=lambda kv: kv[0] == "cost"):
        lines += [f"## {protocol}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    lines += significance_lines(result, cfg)
    if result.failures:
        lines += ["## Failures", ""]
        for label, err in result.failures.items():
            lines += [f"### {label}", "", "```", err.strip(), "```", ""]
    return "\n".join(lines) + "\n"


def significance_lines(result: RunResult, cfg: RunConfig) -> list[str]:
    """Paired test of every model against the best one, on the first metric at the middle K."""
    from llm4rec.eval.stats import paired_test

    metric = "ndcg" if "ndcg" in cfg.eval.metrics else (cfg.eval.metrics or ["ndcg"])[0]
    k = sorted(cfg.eval.ks)[len(cfg.eval.ks) // 2] if cfg.eval.ks else None
    lines: list[str] = []
    for protocol in cfg.protocols:
        name = f"{metric}@{k}" if protocol.kind != "pointwise" else "user_auc"
        values = {key.split("|")[0]: v for key, v in result.per_user.items()
                  if key.split("|")[1] == protocol.display and key.split("|")[2] == name}
        if len(values) < 2:
            continue
        best = max(values, key=lambda m: float(np.mean(values[m])))
        lines += [f"## Paired tests ({protocol.display}, {name}, against {best})", "",
                  "| model | difference | 95% CI | p-value |", "|---|---|---|---|"]
        for model, v in values.items():
            if model == best or len(v) != len(values[best]):
                continue
            t = paired_test(v, values[best], n_boot=max(cfg.eval.bootstrap, 200), seed=cfg.eval.seed)
            lines.append(f"| {model} | {t.diff:+.4f} | [{t.low:+.4f}, {t.high:+.4f}] | {t.p_value:.3g} |")
        lines.append("")
    return lines


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def plot(result: RunResult, path) -> bool:
    """Bar chart of each ranking metric per model, with bootstrap confidence intervals, to a path or a
    binary file (False: nothing to plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [r for r in result.records if r.protocol != "cost" and r.ci_low is not None]
    panels = list(dict.fromkeys((r.protocol, metric_name(r)) for r in recs))
    if not panels:
        return False
    cols = min(4, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, (protocol, metric) in zip(axes.flat, panels, strict=False):
        sel = [r for r in recs if r.protocol == protocol and metric_name(r) == metric]
        x = np.arange(len(sel))
        vals = np.array([r.value for r in sel])
        err = np.array([[r.value - _or(r.ci_low, r.value) for r in sel],
                        [_or(r.ci_high, r.value) - r.value for r in sel]])
        ax.bar(x, vals, yerr=err, capsize=3, color="#4C72B0")
        ax.set_xticks(x, [r.model for r in sel], rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{metric} ({protocol})", fontsize=9)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return True


def write_outputs(result: RunResult, cfg: RunConfig, ds: Dataset, split: Split, folder: RunFolder) -> list[str]:
    """Write report.md and (if enabled and there is something to plot) metrics.png next to results.json,
    atomically; return the names of the files written."""
    folder.write_text("report.md", markdown(result, cfg, ds, split))
    written = ["report.md"]
    if cfg.output.plot and any(r.protocol != "cost" and r.ci_low is not None for r in result.records):
        folder.write_with("metrics.png", lambda f: plot(result, f))
        written.append("metrics.png")
    return written
