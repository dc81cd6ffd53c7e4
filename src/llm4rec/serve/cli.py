"""``llm4rec train CONFIG --save DIR`` and ``llm4rec serve DIR`` (typer commands; the main CLI mounts them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from llm4rec.lm.policy import Backends
    from llm4rec.serve.settings import ServeSettings


def train_command(
    config: Annotated[Path, typer.Argument(help="run TOML (see configs/): its dataset and models", exists=True,
                                           dir_okay=False)],
    save: Annotated[Path, typer.Option("--save", help="artifact folder to write")],
) -> None:
    """Fit every model of CONFIG on the dataset's whole interaction log and save a servable artifact."""
    from llm4rec.serve.train import train_artifact

    out = train_artifact(config, save)
    typer.echo(f"artifact written to {out}/ (serve it with: llm4rec serve {out})")


def _read_settings(path: Path) -> ServeSettings:
    """``--settings FILE`` as :class:`ServeSettings`; bad TOML or values are one ``ConfigError`` naming the file."""
    from llm4rec.config import describe_errors
    from llm4rec.errors import ConfigError
    from llm4rec.serve import ServeSettings

    try:
        return ServeSettings.load(path)
    except ValueError as exc:  # TOMLDecodeError, UnicodeDecodeError, pydantic's ValidationError
        raise ConfigError(f"{path}: invalid serve settings: {describe_errors(exc)}") from None


def _read_block(path: Path) -> dict[str, Any]:
    """``--generator FILE``: a TOML table; bad TOML is one ``ConfigError`` naming the file."""
    from llm4rec.config import read_toml
    from llm4rec.errors import ConfigError

    try:
        return read_toml(path)
    except ValueError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def serve_command(
    artifact: Annotated[Path, typer.Argument(help="artifact folder (llm4rec train --save)", exists=True,
                                             file_okay=False)],
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    settings: Annotated[Path | None, typer.Option(help="ServeSettings TOML (docs/serving.md)", exists=True,
                                                  dir_okay=False)] = None,
    tokens_file: Annotated[Path | None, typer.Option(help="file with one API token per line")] = None,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="serve /v1 without tokens (local demo only)")] = False,
    batching: Annotated[bool, typer.Option(help="micro-batch concurrent recommend requests")] = True,
    generator: Annotated[Path | None, typer.Option(help="TOML generator block replacing the saved ones (e.g. a "
                                                        "vLLM server: backend = 'openai', base_url, model)",
                                                   exists=True, dir_okay=False)] = None,
    trust_backends: Annotated[bool, typer.Option("--trust-backends", help="use saved remote backend blocks as "
                                                 "they are (only for artifacts you wrote)")] = False,
) -> None:
    """Serve an artifact over HTTP: the API under /v1, the demo page at /, docs at /docs."""
    import uvicorn

    from llm4rec.serve import ServeSettings, Service, create_app
    from llm4rec.serve.artifact import load_artifact

    cfg = _read_settings(settings) if settings else ServeSettings()
    update: dict[str, bool | str] = {"batching": batching and cfg.batching}
    if tokens_file:
        update["tokens_file"] = str(tokens_file)
    if no_auth:
        update["auth"] = False
    cfg = cfg.model_copy(update=update)
    backends: Backends = {"generator": _read_block(generator)} if generator else ("trust" if trust_backends else None)
    art = load_artifact(artifact, backends)
    app = create_app(Service(art.models, art.user_ids, art.catalog, cfg))
    typer.echo(f"serving {', '.join(art.models)} on http://{host}:{port}/ (auth {'on' if cfg.auth else 'OFF'})")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``serve`` as top-level commands of ``app``."""
    app.command("train")(train_command)
    app.command("serve")(serve_command)
