"""``llm4rec explain`` and ``llm4rec chat`` (typer commands; the main CLI mounts them).

Both build an LLM ranker over a dataset's full interaction log (prompting needs no training):

    llm4rec explain --user 1 --item "Star Wars"
    printf 'I love "Star Wars" and space adventures\\nwhy?\\nquit\\n' | llm4rec chat

``--backend openai --base-url URL --model NAME`` switches to any OpenAI-compatible server.
Mount with ``register(app)`` (adds both commands to a Typer app) or ``app.add_typer(llm_app)``.
"""

from __future__ import annotations

import itertools
import sys
from typing import Annotated, Any

import typer

from llm4rec.errors import ConfigError

llm_app = typer.Typer(add_completion=False, no_args_is_help=True, help="LLM explanations and conversation.")

Dataset = Annotated[str, typer.Option(help="built-in dataset name (llm4rec datasets list)")]
Backend = Annotated[str, typer.Option(help="generator backend: llama-cpp, hf, openai, toy")]
Model = Annotated[str, typer.Option("--model", help="generator model (short name, .gguf path, or served name)")]
BaseURL = Annotated[str | None, typer.Option(help="OpenAI-compatible server URL (backend openai)")]
Threads = Annotated[int | None, typer.Option(help="llama.cpp threads")]


def generator_block(backend: str, model: str, base_url: str | None, threads: int | None) -> dict[str, Any]:
    """A generator config block from CLI options."""
    block: dict[str, Any] = {"backend": backend}
    if backend != "toy":
        block["model"] = model
    if backend == "openai" and base_url:
        block["base_url"] = base_url
    if backend == "llama-cpp" and threads:
        block["n_threads"] = threads
    return block


def build_ranker(dataset: str, generator: dict[str, Any], **params: Any):
    """A likelihood ranker fitted (prompt-ready) on the dataset's whole interaction log."""
    from llm4rec.data import load_dataset
    from llm4rec.models import make_model

    ds = load_dataset(dataset)
    model = make_model("llm-likelihood", {"generator": generator, "progress": False, **params})
    return ds, model.fit(ds.interactions)


def resolve_user(ds, user: str) -> int:
    ids = [str(u) for u in ds.user_ids]
    if user not in ids:
        raise ConfigError(f"unknown user {user!r} in {ds.name} (external ids such as {ids[0]!r})")
    return ids.index(user)


def resolve_item(ds, model, item: str) -> int:
    """An external item id, or a title grounded to the catalog (exact, normalised, fuzzy)."""
    try:
        return ds.catalog.lookup(item)
    except KeyError:
        pass
    from llm4rec.models.llm.grounding import Grounder

    hit, _ = Grounder([str(t) for t in model.item_text_]).ground(item)
    if hit is None:
        raise ConfigError(f"no catalog item matches {item!r}")
    return hit


@llm_app.command("explain")
def explain_command(
    user: Annotated[str, typer.Option(help="external user id")],
    item: Annotated[str, typer.Option(help="external item id or a title")],
    dataset: Dataset = "ml-100k",
    backend: Backend = "llama-cpp",
    model: Model = "smollm2-135m",
    base_url: BaseURL = None,
    threads: Threads = None,
    evidence: Annotated[int, typer.Option(help="history items cited")] = 3,
    max_tokens: Annotated[int, typer.Option(help="length of the explanation")] = 80,
) -> None:
    """Explain why ITEM suits USER, citing items from the user's actual history."""
    ds, ranker = build_ranker(dataset, generator_block(backend, model, base_url, threads))
    u = resolve_user(ds, user)
    i = resolve_item(ds, ranker, item)
    typer.echo(f"{ranker.texts([i])[0]} for user {user}:")
    typer.echo(ranker.explain(u, i, n_evidence=evidence, max_tokens=max_tokens))


@llm_app.command("chat")
def chat_command(
    dataset: Dataset = "ml-100k",
    user: Annotated[str | None, typer.Option(help="external user id whose history personalises the chat")] = None,
    backend: Backend = "llama-cpp",
    model: Model = "smollm2-135m",
    base_url: BaseURL = None,
    threads: Threads = None,
    encoder: Annotated[str, typer.Option(help="sentence encoder for retrieval (minilm, wordllama)")] = "minilm",
    k: Annotated[int, typer.Option(help="suggestions per turn")] = 3,
    retrieve: Annotated[int, typer.Option(help="items retrieved before the LLM reorders them")] = 20,
    show_state: Annotated[bool, typer.Option(help="print the dialogue state after each turn")] = False,
) -> None:
    """Multi-turn recommendation chat; reads one user turn per line from stdin ('quit' ends)."""
    import json

    from llm4rec.chat import ChatSession

    ds, ranker = build_ranker(dataset, generator_block(backend, model, base_url, threads))
    enc = {"backend": "wordllama"} if encoder == "wordllama" else {"backend": "sentence-transformers",
                                                                    "model": encoder}
    session = ChatSession(ranker, enc, resolve_user(ds, user) if user else None, k=k, n_retrieve=retrieve)
    interactive = sys.stdin.isatty()
    typer.echo("bot: What would you like to watch? (say 'quit' to leave)")
    for n in itertools.count(1):
        if interactive:
            typer.echo("you: ", nl=False)
        line = read_line(n)
        if not line or ChatSession.is_end(line):
            typer.echo("bot: Enjoy!")
            break
        if not line.strip():
            continue
        if not interactive:
            typer.echo(f"you: {line.strip()}")
        typer.echo("bot: " + session.respond(line))
        if show_state:
            typer.echo("state: " + json.dumps(session.state.as_dict()))


def read_line(n: int) -> str:
    """Line ``n`` of stdin as text; bytes that are not UTF-8 are a :class:`ConfigError` (one clear line)."""
    raw = sys.stdin.buffer.readline() if hasattr(sys.stdin, "buffer") else sys.stdin.readline()
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"stdin line {n} is not UTF-8 text; send UTF-8 (e.g. convert with iconv)") from None


def register(app: typer.Typer) -> None:
    """Add ``explain`` and ``chat`` as top-level commands of ``app``."""
    app.command("explain")(explain_command)
    app.command("chat")(chat_command)
