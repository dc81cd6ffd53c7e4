"""Data errors: every one is a :class:`llm4rec.errors.DataError` whose message names the file and row."""

from __future__ import annotations

from llm4rec.errors import DataError


class MissingColumnError(DataError):
    """A required column is missing or misnamed (the message lists the columns the file has)."""


class TimestampError(DataError):
    """A timestamp cannot be parsed."""


class DuplicateRowError(DataError):
    """A repeated interaction under ``duplicates="error"``."""


class EmptyDataError(DataError):
    """A file or table holds no rows."""


class FormatError(DataError):
    """A file does not follow its format (bad header, wrong field count, unparseable value)."""


class UnknownDatasetError(DataError, KeyError):
    """A dataset name that is not registered (the message lists the known names)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "unknown dataset"


__all__ = ["DataError", "DuplicateRowError", "EmptyDataError", "FormatError", "MissingColumnError",
           "TimestampError", "UnknownDatasetError"]
