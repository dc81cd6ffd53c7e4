"""``llm4rec explain`` / ``llm4rec chat`` (scripted through stdin) and the dialogue state."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from llm4rec.cli.llm import llm_app, register

TOY = ["--backend", "toy"]


def test_explain_cli_cites_history():
    res = CliRunner().invoke(llm_app, ["explain", "--user", "1", "--item", "The Godfather", *TOY])
    assert res.exit_code == 0, res.output
    assert "Godfather, The (1972) for user 1:" in res.output
    assert "Because you watched" in res.output


def test_explain_cli_unknown_item_is_a_clear_error():
    res = CliRunner().invoke(llm_app, ["explain", "--user", "1", "--item", "Zzzyzx Qwerty", *TOY])
    assert res.exit_code != 0 and "no catalog item matches" in str(res.exception)


def test_chat_is_scriptable_and_keeps_state():
    script = 'I love "Star Wars" and space adventures\nwhy?\nmore\nnot Toy Story please\nquit\n'
    res = CliRunner().invoke(llm_app, ["chat", *TOY, "--encoder", "wordllama", "--show-state"], input=script)
    assert res.exit_code == 0, res.output
    states = [json.loads(line[len("state: "):]) for line in res.output.splitlines() if line.startswith("state: ")]
    assert len(states) == 4
    first = states[0]
    assert first["mentioned"] and len(first["last"]) == 3
    assert "Because you watched Star Wars (1977)" in res.output  # the explanation cites the user's words
    assert not set(states[2]["last"]) & set(first["last"])  # "more" gives new items
    assert states[3]["rejected"]  # "not Toy Story" is remembered as a rejection
    assert res.output.rstrip().endswith("bot: Enjoy!")


def test_register_mounts_both_commands():
    app = typer.Typer()
    register(app)
    names = {c.name for c in app.registered_commands}
    assert names == {"explain", "chat"}
