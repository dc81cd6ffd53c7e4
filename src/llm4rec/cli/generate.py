"""``llm4rec generate CONFIG``: the batch generation job of paradigm 2 (see :mod:`llm4rec.jobs.generate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer


def register(app: typer.Typer) -> None:
    """Mount the ``generate`` command on the main CLI."""

    @app.command()
    def generate(config: Annotated[Path, typer.Argument(help="generation TOML (see configs/tokens-*.toml)",
                                                        exists=True, dir_okay=False)],
                 runner: Annotated[str | None, typer.Option(help="local or ray (default: the config's)")] = None,
                 limit: Annotated[int | None, typer.Option(min=1, help="only the first N items / users")] = None,
                 task: Annotated[list[str] | None, typer.Option(help="run only this task (repeatable)")] = None,
                 overwrite: Annotated[bool, typer.Option("--overwrite", help="rebuild a finished version "
                                                         "(answers come from the LM cache)")] = False,
                 progress: Annotated[bool | None, typer.Option("--progress/--no-progress")] = None) -> None:
        """Write a text per item / user with a generator (resumable), check it (QC) and store it as Parquet."""
        from llm4rec.errors import ConfigError
        from llm4rec.jobs.generate import generate as run_generate

        if runner not in (None, "local", "ray"):
            raise ConfigError(f"--runner must be local or ray, not {runner!r}")
        chosen: Literal["local", "ray"] | None = None if runner is None else ("ray" if runner == "ray" else "local")
        for r in run_generate(config, overwrite=overwrite, progress=progress, runner=chosen, limit=limit,
                                  tasks=task or None):
            typer.echo(f"{r.task}: {r.rows} rows ({r.resumed} already done), {r.completion_tokens} generated tokens, "
                       f"{r.seconds:.1f} s -> {r.outputs}")
            typer.echo(r.qc.markdown(f"QC {r.task}"))
