"""``python -m llm4rec.cli``: the same as the ``llm4rec`` command."""

from llm4rec.cli.main import entry

entry()
