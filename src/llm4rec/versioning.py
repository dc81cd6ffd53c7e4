"""Saved-format versions: every folder llm4rec writes (models, splits) records ``format`` and the
``llm4rec`` version; loading refuses a newer format and warns about another toolkit version."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from llm4rec import __version__

log = logging.getLogger(__name__)


def check_format(meta: Mapping[str, Any], supported: int, what: str, where: object,
                 error: type[Exception]) -> int:
    """The folder's format (``1`` when absent: written before versioning); ``error`` if unreadable.

    A newer format than ``supported`` is refused (upgrade llm4rec); a folder written by another
    llm4rec version loads with a WARNING (numbers may differ where defaults changed).
    """
    found = meta.get("format", 1)
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise error(f"{where}: {what} format {found!r} is not a positive integer")
    if found > supported:
        raise error(f"{where}: {what} format {found} is newer than this llm4rec ({__version__}) reads "
                    f"(up to {supported}); upgrade llm4rec")
    written = meta.get("llm4rec")
    if isinstance(written, str) and written != __version__:
        log.warning("%s: %s written by llm4rec %s, loading with %s", where, what, written, __version__)
    return found
