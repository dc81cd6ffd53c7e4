"""The ``llm4rec`` command line (``llm4rec ...`` or ``python -m llm4rec.cli ...``).

:mod:`.main` holds the app and ``run`` / ``models``; each command group has its own
module (:mod:`.datasets`, :mod:`.llm`) that the app mounts.
"""

from llm4rec.cli.main import app, entry

__all__ = ["app", "entry"]
