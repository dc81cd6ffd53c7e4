"""``llm4rec datasets ...``: list, fetch and describe the built-in datasets."""

from __future__ import annotations

import typer

from llm4rec.errors import Llm4RecError

datasets_app = typer.Typer(help="Built-in datasets: list, fetch into the cache, describe.",
                           no_args_is_help=True)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


@datasets_app.command("list")
def list_command() -> None:
    """List the built-in datasets."""
    from llm4rec.data.registry import describe_dataset, list_datasets

    for name in list_datasets():
        typer.echo(f"{name}\t{describe_dataset(name)}")


@datasets_app.command("fetch")
def fetch_command(name: str = typer.Argument(..., help="dataset name (see `list`)"),
                  force: bool = typer.Option(False, "--force", help="fetch again even if cached")) -> None:
    """Fetch a dataset into the cache ($LLM4REC_CACHE) and print its folder."""
    from llm4rec.artifacts import source_of
    from llm4rec.data.registry import fetch_dataset

    try:
        folder = fetch_dataset(name, force=force)
    except Llm4RecError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{name}: {folder} (from {source_of(folder)})")


@datasets_app.command("info")
def info_command(name: str = typer.Argument(..., help="dataset name (see `list`)")) -> None:
    """Users, items, interactions, time span and item text fields of a dataset."""
    from llm4rec.data.registry import load_dataset

    try:
        summary = load_dataset(name).summary()
    except Llm4RecError as exc:
        raise _fail(exc) from exc
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        if isinstance(value, float):
            value = f"{value:.4f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        typer.echo(f"{key.replace('_', ' '):<{width}}  {value}")
