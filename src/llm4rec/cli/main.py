"""The ``llm4rec`` command line: runs, datasets, models."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from llm4rec.errors import Llm4RecError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Recommendation with large language models on one evaluation contract.")


def _mount_subapps() -> None:
    from llm4rec.cli.datasets import datasets_app
    from llm4rec.cli.generate import register as register_generate_command
    from llm4rec.cli.llm import register as register_llm_commands
    from llm4rec.serve.cli import register as register_serve_commands

    app.add_typer(datasets_app, name="datasets", help="List, fetch and describe datasets.")
    register_llm_commands(app)
    register_generate_command(app)
    register_serve_commands(app)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


@app.command()
def run(config: Annotated[Path, typer.Argument(help="run TOML (see configs/)", exists=True, dir_okay=False)],
        out: Annotated[Path | None, typer.Option(help="output folder (default: the config's output.dir)")] = None,
        max_users: Annotated[int | None, typer.Option(min=1, help="evaluate a seeded subset of users")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the outputs of an earlier run in "
                                                "the output folder (default: refuse)")] = False,
        resume: Annotated[bool, typer.Option("--resume", help="continue an interrupted run of the same config "
                                             "in the output folder: finished models are reused, the others "
                                             "fitted")] = False,
        ) -> None:
    """Run CONFIG: fit every model, evaluate every protocol, write results.json, report.md, metrics.png.

    With ``seeds = [...]`` in CONFIG, one run per seed (seed-<s>/) and seeds.md, the summary across seeds.
    ``--resume`` continues a run that died or had failing models (each seed folder on its own).
    """
    from llm4rec.errors import ConfigError
    from llm4rec.eval import load_run_config, print_tables
    from llm4rec.eval import run as run_config

    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other: --resume continues the run in the output "
                          "folder, --overwrite replaces it; pass one of them")
    cfg = load_run_config(config)
    if max_users is not None:
        cfg.eval.max_users = max_users
    if cfg.seeds:
        from llm4rec.eval.seed_runs import run_seeds

        runs = run_seeds(cfg, out, overwrite=overwrite, resume=resume)
        typer.echo((runs.output_dir / "seeds.md").read_text())
        folder, files, failures = runs.output_dir, runs.files, runs.failures
        empty = [f"{e} (seed {s})" for s, r in runs.runs.items() for e in r.empty]
    else:
        result = run_config(cfg, out, overwrite=overwrite, resume=resume)
        print_tables(result)
        folder, files, failures, empty = result.output_dir, result.files, result.failures, result.empty
    typer.echo(f"results written to {folder}/ ({', '.join(files)})")
    if empty:
        typer.secho(f"error: no user was evaluated for {', '.join(empty)} (metrics are null, n_users = 0 "
                    "in results.json); check the split and eval.max_users", fg=typer.colors.RED, err=True)
    if failures or empty:
        raise typer.Exit(code=1)


@app.command()
def tune(config: Annotated[Path, typer.Argument(help="run TOML (see configs/)", exists=True, dir_okay=False)],
         model: Annotated[str | None, typer.Option(help="label of the model to tune (default: the only one)")]
         = None,
         trials: Annotated[int, typer.Option(min=1, help="total trials to reach (a resumed study counts "
                                                          "the finished ones)")] = 20,
         timeout: Annotated[float | None, typer.Option(help="stop starting trials after this many seconds")]
         = None,
         space: Annotated[Path | None, typer.Option(help="search space TOML (one table per parameter: "
                                                         "low/high/log/integer or choices)", exists=True,
                                                    dir_okay=False)] = None,
         out: Annotated[Path | None, typer.Option(help="output folder (default: <output.dir>-tune/<model>); "
                                                       "its study.db resumes the search")] = None,
         seed: Annotated[int, typer.Option(help="sampler seed")] = 0) -> None:
    """Search a model's hyper-parameters on the validation split (never the test split) with Optuna."""
    from llm4rec.eval import load_run_config
    from llm4rec.eval.tuning import markdown_table, pick_model, search_space
    from llm4rec.eval.tuning import tune as run_tune

    cfg = load_run_config(config)
    chosen = search_space(pick_model(cfg, model).name, space)
    result = run_tune(cfg, model=model, space=chosen, trials=trials, timeout=timeout, out=out, seed=seed)
    typer.echo(markdown_table(result.trials))
    typer.echo(f"best validation NDCG@10 {result.best_value:.4f} with {result.best_params}")
    typer.echo(f"written to {result.output_dir}/ (best.toml, trials.csv, trials.md, study.db)")


@app.command("models")
def list_models() -> None:
    """List the registered models and their parameters with defaults."""
    from llm4rec.models.registry import available_models, get_model

    for name in available_models():
        try:
            fields = get_model(name).Config.model_fields
            params = ", ".join(f"{k}={_default(v)}" for k, v in fields.items())
        except Exception as exc:  # a model whose optional dependency is missing
            params = f"(unavailable: {exc})"
        typer.echo(f"{name:12s} {params}")


def _default(field) -> str:
    if field.is_required():
        return "<required>"
    value = field.get_default(call_default_factory=True)
    return type(value).__name__ + "(...)" if hasattr(value, "model_dump") else repr(value)


def entry() -> None:
    """Console entry point: known errors and file-system faults print one clear line instead of a traceback."""
    try:
        app()
    except Llm4RecError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except OSError as exc:  # an unwritable folder, a full disk, a file that vanished: not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        typer.secho(f"error: {where}{exc.strerror or exc}; check the path and its permissions",
                    fg=typer.colors.RED, err=True)
        sys.exit(2)


_mount_subapps()
