"""Generic loaders: RecBole atomic files, CSV / TSV / Parquet / JSON-lines tables; Amazon, Goodreads,
Steam and MIND in their official formats.

Every loader parses with pandas' C engine and builds the :class:`Dataset`
through :func:`llm4rec.data.dataset.from_dataframe`, so ids, catalogs,
duplicate policies and error messages behave the same whatever the source.
Errors are :class:`llm4rec.errors.DataError` subclasses that name the file and,
where it applies, the line.
"""

from __future__ import annotations

import ast
import csv
import gzip
import json
import logging
import zlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from llm4rec.data.dataset import Dataset, DuplicatePolicy, from_dataframe
from llm4rec.data.exceptions import (
    DataError,
    EmptyDataError,
    FormatError,
    MissingColumnError,
    TimestampError,
)

log = logging.getLogger(__name__)

PathLike: TypeAlias = str | Path
TableLike: TypeAlias = PathLike | pd.DataFrame

#: RecBole field types and what they become here.
RECBOLE_TYPES = ("token", "token_seq", "float", "float_seq")
#: Common RecBole item field names renamed to the catalog's conventional ones (``rename`` overrides).
RECBOLE_RENAME = {"movie_title": "title", "release_year": "year", "class": "genres", "genre": "genres"}
#: ``token_seq`` fields whose name contains one of these stay strings (they are text, not token lists).
TEXT_HINTS = ("title", "name", "desc", "text", "review", "abstract", "summary")


# ----------------------------------------------------------------------------- low-level readers

#: What a damaged, truncated or mis-encoded (compressed) file raises while being read.
UNREADABLE = (EOFError, zlib.error, UnicodeDecodeError, OSError)


def _unreadable(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return f"the file is truncated ({exc or 'unexpected end of data'}); fetch or copy it again"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8"
    return f"cannot be read: {exc}"


def read_delimited(path: PathLike, *, sep: str, header: int | None = 0, names: list[str] | None = None,
                   encoding: str = "utf-8", quoting: int = csv.QUOTE_NONE,
                   floats: Collection[str] = ()) -> pd.DataFrame:
    """Read a delimited text file with pandas' C engine, turning pandas errors into :class:`DataError`.

    Cells are strings (empty cells ``""``), except the ``floats`` columns, which
    are parsed as numbers (empty cells NaN); an unparseable number is reported
    with its line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    kw: dict[str, Any] = dict(sep=sep, header=header, names=names, encoding=encoding, quoting=quoting,
                              keep_default_na=False, engine="c")
    try:
        try:
            df = pd.read_csv(path, dtype={c: (float if c in floats else str) for c in _columns(path, kw)},
                             na_values={c: [""] for c in floats}, **kw)
        except ValueError:  # a float column holds text: read strings and report the line
            df = pd.read_csv(path, dtype=str, na_filter=False, **kw)
            first_line = 1 if header is None else header + 2
            for c in floats:
                df[c] = _to_float(df[c], str(path), first_line, c)
    except pd.errors.EmptyDataError as exc:
        raise EmptyDataError(f"{path}: the file is empty") from exc
    except (pd.errors.ParserError, *UNREADABLE) as exc:
        raise FormatError(f"{path}: {_unreadable(exc)}") from exc
    if len(df) == 0:
        raise EmptyDataError(f"{path}: the file has a header but no rows")
    return df


def _columns(path: Path, kw: dict[str, Any]) -> list[Any]:
    """Column labels of a delimited file (its header, or ``names``, or positions)."""
    if kw["names"] is not None:
        return list(kw["names"])
    return list(pd.read_csv(path, nrows=1, dtype=str, **kw).columns)


def read_header(path: PathLike, sep: str = "\t") -> list[str]:
    """The header fields of a delimited file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        return [str(c) for c in pd.read_csv(path, sep=sep, nrows=0, quoting=csv.QUOTE_NONE).columns]
    except pd.errors.EmptyDataError as exc:
        raise EmptyDataError(f"{path}: the file is empty") from exc


TableFormat = Literal["csv", "tsv", "parquet", "jsonl"]


def _read_any(table: TableLike, sep: str | None = None,
              fmt: TableFormat | None = None) -> tuple[pd.DataFrame, str, int | None]:
    """(frame, source, first line) from a DataFrame or a CSV / TSV / Parquet / JSON-lines file."""
    if isinstance(table, pd.DataFrame):
        return table, "<dataframe>", None
    path = Path(table)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2", ".zip", ".xz", ".zst")]
    kind = f".{fmt}" if fmt else (suffixes[-1] if suffixes else "")
    try:
        if kind in (".parquet", ".pq"):
            df = pd.read_parquet(path)
            return _non_empty(df, path), str(path), None
        if kind in (".jsonl", ".json", ".ndjson"):
            df = pd.read_json(path, lines=True, dtype=False)
            return _non_empty(df, path), str(path), 1
        delimiter = sep or ("\t" if kind in (".tsv", ".tab") else ",")
        df = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False, na_values=[""], engine="c")
    except pd.errors.EmptyDataError as exc:
        raise EmptyDataError(f"{path}: the file is empty") from exc
    except (pd.errors.ParserError, ValueError, *UNREADABLE) as exc:
        raise FormatError(f"{path}: {_unreadable(exc)}") from exc
    return _non_empty(df, path), str(path), 2


def _non_empty(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    if len(df) == 0:
        raise EmptyDataError(f"{path}: the file has no rows")
    return df


def _to_float(col: pd.Series, source: str, first_line: int, field: str) -> pd.Series:
    """Numbers from strings; an empty cell is NaN, anything else unparseable is an error naming the line."""
    values = pd.to_numeric(col.replace("", np.nan), errors="coerce")
    bad = values.isna().to_numpy() & (col.to_numpy() != "")
    if bad.any():
        row = int(np.argmax(bad))
        raise FormatError(f"{source}: line {first_line + row}: {field} {col.iloc[row]!r} is not a number")
    return values


# ----------------------------------------------------------------------------- RecBole atomic files

@dataclass
class RecBoleFiles:
    """The parsed ``.inter`` / ``.item`` / ``.user`` files of one RecBole dataset (typed, untyped names)."""

    inter: pd.DataFrame
    item: pd.DataFrame | None
    user: pd.DataFrame | None
    prefix: Path

    def path(self, ext: str) -> Path:
        return self.prefix.with_name(f"{self.prefix.name}.{ext}")

    @property
    def inter_path(self) -> Path:
        return self.path("inter")


def _recbole_prefix(path: PathLike, name: str | None) -> Path:
    """``<folder>/<name>``; ``name`` defaults to the folder's name or its only ``.inter`` file."""
    path = Path(path)
    if path.is_dir():
        prefix = path / (name or path.name)
        if not prefix.with_name(prefix.name + ".inter").is_file():
            found = sorted(path.glob("*.inter"))
            if len(found) == 1:
                return found[0].with_suffix("")
        return prefix
    if path.suffix in (".inter", ".item", ".user"):
        return path.with_suffix("")
    return path


def read_recbole_file(path: Path, *, list_fields: Collection[str] | None = None) -> pd.DataFrame:
    """One RecBole atomic file: typed header ``name:type``, tab-separated, no quoting.

    ``float`` fields become numbers, ``float_seq`` lists of numbers; ``token_seq``
    fields become lists of tokens, except those named in no ``list_fields`` but
    looking like text (``title``, ``name``, ``desc``...), which stay strings.
    ``list_fields`` names exactly which ``token_seq`` fields to split.
    """
    columns = read_header(path)
    names, types = [], {}
    for col in columns:
        field, _, kind = str(col).rpartition(":")
        if not field or kind not in RECBOLE_TYPES:
            raise FormatError(f"{path}: line 1: header field {col!r} is not 'name:type' with a type in "
                              f"{list(RECBOLE_TYPES)}")
        names.append(field)
        types[field] = kind
    df = read_delimited(path, sep="\t", floats=[c for c in columns if str(c).endswith(":float")])
    df.columns = names
    for field, kind in types.items():
        if kind == "float_seq":
            df[field] = [[float(x) for x in s.split()] for s in df[field]]
        elif kind == "token_seq" and _split_seq(field, list_fields):
            df[field] = df[field].str.split()
    return df


def _split_seq(field: str, list_fields: Collection[str] | None) -> bool:
    if list_fields is not None:
        return field in list_fields
    return not any(hint in field.lower() for hint in TEXT_HINTS)


def read_recbole_files(path: PathLike, name: str | None = None, *,
                       list_fields: Collection[str] | None = None) -> RecBoleFiles:
    """Parse ``<prefix>.inter`` (required), ``<prefix>.item`` and ``<prefix>.user`` (optional)."""
    prefix = _recbole_prefix(path, name)
    inter_path = prefix.with_name(prefix.name + ".inter")
    if not inter_path.is_file():
        raise DataError(f"{inter_path}: no such file (RecBole datasets need <name>.inter)")
    inter = read_recbole_file(inter_path, list_fields=list_fields)
    optional = {}
    for ext in ("item", "user"):
        p = prefix.with_name(f"{prefix.name}.{ext}")
        optional[ext] = read_recbole_file(p, list_fields=list_fields) if p.is_file() else None
    return RecBoleFiles(inter, optional["item"], optional["user"], prefix)


def read_recbole(path: PathLike, name: str | None = None, *, duplicates: DuplicatePolicy = "error",
                 list_fields: Collection[str] | None = None, rename: Mapping[str, str] | None = None,
                 keep_unrated_items: bool = True) -> Dataset:
    """A :class:`Dataset` from RecBole atomic files.

    ``path`` is the folder holding ``<name>.inter`` (``name`` defaults to the
    folder's name) or the path prefix / any one file of the set. ``user_id`` and
    ``item_id`` are required; ``rating`` and ``timestamp`` are used when present.
    Other ``.item`` fields join the catalog as text fields and ``.user`` fields
    become ``user_info``. Item fields named as in :data:`RECBOLE_RENAME`
    (``movie_title``, ``release_year``, ``class``, ``genre``) become ``title``,
    ``year``, ``genres``; ``rename`` renames any field (and overrides those).
    """
    files = read_recbole_files(path, name, list_fields=list_fields)
    ds_name = name or _recbole_prefix(path, name).name
    inter = files.inter
    for field in ("user_id", "item_id"):
        if field not in inter.columns:
            raise MissingColumnError(f"{files.inter_path}: no {field!r} field; the header has "
                                     f"{list(inter.columns)}")
    columns = {"user": "user_id", "item": "item_id"}
    columns.update({f: f for f in ("timestamp", "rating") if f in inter.columns})
    ignored = [c for c in inter.columns if c not in columns.values()]
    if ignored:
        log.info("%s: fields %s are not interaction roles and are not loaded", files.inter_path, ignored)
    item_rename: dict[str, str] = {}
    for old, new in RECBOLE_RENAME.items():
        if files.item is not None and old in files.item.columns and new not in files.item.columns \
                and new not in item_rename.values():
            item_rename[old] = new
    items = _side_table(files.item, "item_id", "item", {**item_rename, **(rename or {})}, files.path("item"))
    users = _side_table(files.user, "user_id", "user", rename, files.path("user"))
    return from_dataframe(inter, columns, items=items, users=users, name=ds_name, duplicates=duplicates,
                          keep_unrated_items=keep_unrated_items, source=files.inter_path, first_line=2)


def _side_table(df: pd.DataFrame | None, id_field: str, id_col: str, rename: Mapping[str, str] | None,
                path: Path) -> pd.DataFrame | None:
    if df is None:
        return None
    if id_field not in df.columns:
        raise MissingColumnError(f"{path}: no {id_field!r} field; the header has {list(df.columns)}")
    return df.rename(columns={id_field: id_col, **(rename or {})})


# ----------------------------------------------------------------------------- tables with a column mapping

ColumnType = Literal["str", "int", "float", "list"]


def type_columns(table: pd.DataFrame, dtypes: Mapping[str, ColumnType] | None = None,
                 list_fields: Collection[str] = (), list_sep: str = "|", *, source: str = "<table>",
                 first_line: int | None = None, skip: Collection[str] = ()) -> pd.DataFrame:
    """Give a side table's text cells their types (a copy; ``skip`` names columns left alone, e.g. ids).

    ``dtypes`` maps columns to ``"str"``, ``"int"`` (nullable integers: ``1995`` and
    ``"1995.0"`` both become 1995), ``"float"`` or ``"list"``; ``list_fields`` are
    also lists. List cells are split on ``list_sep`` (items stripped, empty ones
    dropped; an empty cell is an empty list). A string column not named in
    ``dtypes`` whose every non-empty cell is an integer written as a float
    (``"1995.0"``, as pandas writes an integer column with gaps) becomes integers,
    so a year never reads ``1995.0``. Errors name the column, the file and the line.
    """
    dtypes = dict(dtypes or {})
    for f in list_fields:
        dtypes[f] = "list"
    unknown = [c for c in dtypes if c not in table.columns]
    if unknown:
        raise MissingColumnError(f"{source}: typed columns {unknown} are not in the table; it has "
                                 f"{list(table.columns)}")
    bad = {c: t for c, t in dtypes.items() if t not in ("str", "int", "float", "list")}
    if bad:
        raise DataError(f"{source}: unknown column types {bad}; use 'str', 'int', 'float' or 'list'")
    table = table.copy()
    for col in table.columns:
        if col in skip:
            continue
        kind = dtypes.get(col)
        values = table[col]
        text = values.astype("string")
        present = values.dropna()
        if kind is None and pd.api.types.is_string_dtype(values) and present.map(lambda v: isinstance(v, str)).all():
            filled = present.astype(str).str.strip()
            filled = filled[filled != ""]
            if len(filled) and filled.str.fullmatch(r"-?\d+\.0+").all():
                kind = "int"
        if kind == "list":
            table[col] = [_split_list(v, list_sep) for v in values]
        elif kind in ("int", "float"):
            number = _to_float(text.fillna("").str.strip(), source, first_line or 0, col)
            if kind == "int":
                frac = number.notna() & (number != number.round())
                if frac.any():
                    row = int(np.argmax(frac.to_numpy()))
                    raise FormatError(f"{source}: {_where(first_line, row)}: {col} {values.iloc[row]!r} is not "
                                      "an integer")
                number = number.astype("Int64")
            table[col] = number
        elif kind == "str":
            table[col] = text.astype(object).where(values.notna(), None)
    return table


def _where(first_line: int | None, row: int) -> str:
    return f"row {row}" if first_line is None else f"line {first_line + row}"


def _split_list(value: object, sep: str) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v).strip() for v in value if str(v).strip()]
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return []
    return [part.strip() for part in str(value).split(sep) if part.strip()]


def read_table(path: TableLike, columns: Mapping[str, str] | None = None, *, items: TableLike | None = None,
               item_id_column: str = "item", users: TableLike | None = None, user_id_column: str = "user",
               sep: str | None = None, name: str | None = None, duplicates: DuplicatePolicy = "error",
               keep_unrated_items: bool = True, format: TableFormat | None = None,
               dtypes: Mapping[str, ColumnType] | None = None, list_fields: Collection[str] = (),
               list_sep: str = "|") -> Dataset:
    """A :class:`Dataset` from a CSV / TSV / Parquet / JSON-lines file (or a DataFrame).

    ``columns`` maps the roles ``user``, ``item`` (required), ``timestamp`` and
    ``rating`` (optional) to column names, e.g. ``{"user": "uid", "item":
    "movie", "timestamp": "ts"}``; by default columns named after the roles are
    used. ``items`` / ``users`` are optional side tables (file or DataFrame)
    keyed by ``item_id_column`` / ``user_id_column``: every other item column
    joins the catalog as a text field. The format follows the suffix
    (``.csv``, ``.tsv``, ``.parquet``, ``.jsonl``; ``.gz`` etc. are
    decompressed) unless ``format`` names it; ``sep`` overrides the delimiter
    of text files. CSV cells are read as strings, so ids such as ``"007"`` keep
    their zeros. Item columns get types with ``dtypes`` (``{"year": "int",
    "genres": "list"}``) and ``list_fields`` (split on ``list_sep``), see
    :func:`type_columns`, so the catalog renders ``Heat (1995); genres: Action,
    Crime`` rather than ``Heat (1995.0); genres: Action|Crime``. The dataset's
    name defaults to the file's stem.
    """
    df, source, first_line = _read_any(path, sep, format)
    item_table: pd.DataFrame | None = None
    item_source: str | None = None
    if items is not None:
        item_table, item_source, item_line = _read_any(items, sep)
        item_table = type_columns(item_table, dtypes, list_fields, list_sep, source=item_source,
                                  first_line=item_line, skip=(item_id_column,))
    elif dtypes or list_fields:
        raise DataError(f"{source}: dtypes / list_fields type item-table columns, but no items table is given")
    user_table: pd.DataFrame | None = None
    user_source: str | None = None
    if users is not None:
        user_table, user_source, _ = _read_any(users, sep)
    default = Path(source).stem.split(".")[0] if source != "<dataframe>" else "custom"
    return from_dataframe(df, columns, items=item_table, item_id_column=item_id_column, users=user_table,
                          user_id_column=user_id_column, name=name or default, duplicates=duplicates,
                          keep_unrated_items=keep_unrated_items, source=source, first_line=first_line,
                          items_source=item_source, users_source=user_source)


# ----------------------------------------------------------------------------- Amazon reviews

def _json_lines(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file; also accepts the Python-literal lines of the 2014 Amazon metadata."""
    records = []
    try:
        with _open_text(path) as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    try:
                        records.append(ast.literal_eval(line))
                    except (ValueError, SyntaxError) as exc:
                        raise FormatError(f"{path}: line {line_no}: not a JSON object ({exc})") from exc
    except UNREADABLE as exc:
        raise FormatError(f"{path}: {_unreadable(exc)}") from exc
    if not records:
        raise EmptyDataError(f"{path}: the file is empty")
    return records


def _open_text(path: Path) -> IO[str]:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _flatten(value: object) -> list[str]:
    """Flat, deduplicated categories from nested lists (2014: ``[["Books", "Fiction"]]``; 2018: flat)."""
    out: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop(0)
        if isinstance(v, (list, tuple)):
            stack = list(v) + stack
        elif isinstance(v, str) and v.strip() and v.strip() not in out:
            out.append(v.strip())
    return out


def _parse_time(col: pd.Series, fmt: str, source: object, first_line: int) -> np.ndarray:
    """Seconds since the epoch (UTC) from strings in one ``strptime`` format; errors name the line."""
    times = pd.to_datetime(col, format=fmt, errors="coerce", utc=True)
    if times.isna().any():
        row = int(np.argmax(times.isna().to_numpy()))
        raise TimestampError(f"{source}: line {first_line + row}: cannot parse time {col.iloc[row]!r} "
                             f"(expected format {fmt!r})")
    return times.dt.as_unit("s").astype("int64").to_numpy()


def _read_json_dataset(records: PathLike, columns: Mapping[str, str], meta: PathLike | None, meta_id: str,
                       meta_row: Callable[[dict[str, Any]], dict[str, Any]], *, name: str | None,
                       duplicates: DuplicatePolicy, keep_unrated_items: bool,
                       prepare: Callable[[pd.DataFrame, Path], pd.DataFrame] | None = None) -> Dataset:
    """Shared body of the JSON-lines loaders: interaction records + an optional item metadata file."""
    path = Path(records)
    df = pd.DataFrame.from_records(_json_lines(path))
    if prepare is not None:
        df = prepare(df, path)
    items = None
    if meta is not None:
        rows = []
        for line_no, rec in enumerate(_json_lines(Path(meta)), start=1):
            if meta_id not in rec:
                raise MissingColumnError(f"{meta}: record {line_no} has no {meta_id!r}: {str(rec)[:80]}")
            rows.append({"item": str(rec[meta_id]), **meta_row(rec)})
        items = pd.DataFrame(rows)
        if "year" in items.columns:
            items["year"] = items["year"].astype("Int64")
    return from_dataframe(df, columns, items=items, name=name or path.name.split(".")[0],
                          duplicates=duplicates, keep_unrated_items=keep_unrated_items, source=path,
                          first_line=1)


def _text(value: object) -> str:
    """A string from a string, a list of strings (joined by spaces) or nothing."""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value if v)
    return "" if value is None else str(value)


def _year(value: object) -> Any:
    """A year from ``2017``, ``"2017"`` or ``"2017-12-17"``; ``pd.NA`` when there is none."""
    text = str(value or "")[:4]
    return int(text) if text.isdigit() else pd.NA


def read_amazon(reviews: PathLike, meta: PathLike | None = None, *, name: str | None = None,
                duplicates: DuplicatePolicy = "error", keep_unrated_items: bool = True) -> Dataset:
    """Amazon product reviews (McAuley et al.; 2014 and 2018 releases) from the official JSON-lines files.

    ``reviews``: one object per line with ``reviewerID``, ``asin``, ``overall``
    (rating) and ``unixReviewTime``. ``meta``: one object per line with ``asin``,
    ``title``, ``brand``, ``categories`` (2014, list of lists) or ``category``
    (2018, list) and ``description`` (string or list of strings), strict JSON or
    the Python-literal lines of the 2014 release. Catalog fields: ``title``,
    ``brand``, ``categories`` (list), ``description``.
    """
    def row(rec: dict[str, Any]) -> dict[str, Any]:
        return {"title": _text(rec.get("title")), "brand": _text(rec.get("brand")),
                "categories": _flatten(rec.get("categories", rec.get("category", []))),
                "description": _text(rec.get("description"))}

    columns = {"user": "reviewerID", "item": "asin", "rating": "overall", "timestamp": "unixReviewTime"}
    return _read_json_dataset(reviews, columns, meta, "asin", row, name=name, duplicates=duplicates,
                              keep_unrated_items=keep_unrated_items)


GOODREADS_TIME = "%a %b %d %H:%M:%S %z %Y"


def read_goodreads(interactions: PathLike, books: PathLike | None = None, *, name: str | None = None,
                   duplicates: DuplicatePolicy = "error", keep_unrated_items: bool = True,
                   shelves: int = 5) -> Dataset:
    """Goodreads (Wan & McAuley, UCSD) from the official JSON-lines files.

    ``interactions`` (``goodreads_interactions_<genre>.json[.gz]``): ``user_id``,
    ``book_id``, ``rating`` (0 = shelved without a rating, kept as 0) and
    ``date_added`` (``"Tue Oct 17 05:13:39 -0700 2017"``), the interaction time.
    ``books`` (``goodreads_books_<genre>.json[.gz]``): ``book_id``, ``title``,
    ``publication_year``, ``description``, ``popular_shelves``. Catalog fields:
    ``title``, ``year``, ``shelves`` (the ``shelves`` most popular shelf names),
    ``description``.
    """
    def prepare(df: pd.DataFrame, path: Path) -> pd.DataFrame:
        if "date_added" in df.columns:
            df["timestamp"] = _parse_time(df["date_added"], GOODREADS_TIME, path, 1)
        return df

    def row(rec: dict[str, Any]) -> dict[str, Any]:
        popular = sorted(rec.get("popular_shelves") or [], key=lambda sh: -int(sh.get("count", 0)))
        return {"title": _text(rec.get("title")), "year": _year(rec.get("publication_year")),
                "shelves": [sh["name"] for sh in popular[:shelves] if sh.get("name")],
                "description": _text(rec.get("description"))}

    columns = {"user": "user_id", "item": "book_id", "rating": "rating", "timestamp": "timestamp"}
    return _read_json_dataset(interactions, columns, books, "book_id", row, name=name, duplicates=duplicates,
                              keep_unrated_items=keep_unrated_items, prepare=prepare)


def read_steam(reviews: PathLike, games: PathLike | None = None, *, name: str | None = None,
               duplicates: DuplicatePolicy = "error", keep_unrated_items: bool = True) -> Dataset:
    """Steam (Kang & McAuley, UCSD) from the official ``steam_reviews`` / ``steam_games`` files.

    Both are one Python-literal (or JSON) object per line. ``reviews``:
    ``username``, ``product_id``, ``date`` (``"2017-12-17"``); a review is an
    implicit interaction (rating 1.0). ``games``: ``id``, ``title`` (or
    ``app_name``), ``release_date``, ``genres``, ``tags``, ``developer``.
    Catalog fields: ``title``, ``year``, ``genres``, ``tags``, ``developer``.
    Reviews of one game by one user on one day repeat in the public files:
    pass ``duplicates="first"`` to keep one.
    """
    def prepare(df: pd.DataFrame, path: Path) -> pd.DataFrame:
        if "date" in df.columns:
            df["timestamp"] = _parse_time(df["date"], "%Y-%m-%d", path, 1)
        return df

    def row(rec: dict[str, Any]) -> dict[str, Any]:
        return {"title": _text(rec.get("title") or rec.get("app_name")),
                "year": _year(rec.get("release_date")),
                "genres": list(rec.get("genres") or []), "tags": list(rec.get("tags") or []),
                "developer": _text(rec.get("developer"))}

    columns = {"user": "username", "item": "product_id", "timestamp": "timestamp"}
    return _read_json_dataset(reviews, columns, games, "id", row, name=name, duplicates=duplicates,
                              keep_unrated_items=keep_unrated_items, prepare=prepare)


# ----------------------------------------------------------------------------- MIND news

MIND_BEHAVIOR_COLUMNS = ["impression_id", "user", "time", "history", "impressions"]
MIND_NEWS_COLUMNS = ["item", "category", "subcategory", "title", "abstract", "url", "title_entities",
                     "abstract_entities"]


def read_mind(folder: PathLike, *, name: str | None = None, include_history: bool = True,
              duplicates: DuplicatePolicy = "first") -> Dataset:
    """MIND (Microsoft News) from the official ``behaviors.tsv`` and ``news.tsv`` of one folder.

    Interactions are the clicks: impression entries labelled ``-1`` at the
    impression's time. Non-clicked impressions (``-0``) are negatives, not
    interactions, and are not loaded. With ``include_history`` each user's
    click history (the ``History`` column of their earliest impression, which
    carries no time) is added one second before that impression, in file order.
    A user who clicks the same news again at the same time is a duplicate;
    ``duplicates="first"`` keeps one. Catalog fields: ``title``, ``category``,
    ``subcategory``, ``abstract``.
    """
    folder = Path(folder)
    beh_path, news_path = folder / "behaviors.tsv", folder / "news.tsv"
    beh = read_delimited(beh_path, sep="\t", header=None)
    if beh.shape[1] != len(MIND_BEHAVIOR_COLUMNS):
        raise FormatError(f"{beh_path}: expected {len(MIND_BEHAVIOR_COLUMNS)} tab-separated columns "
                          f"{MIND_BEHAVIOR_COLUMNS}, found {beh.shape[1]}")
    beh.columns = MIND_BEHAVIOR_COLUMNS
    beh["ts"] = _parse_time(beh["time"], "%m/%d/%Y %I:%M:%S %p", beh_path, 1)
    beh["line"] = np.arange(1, len(beh) + 1)

    imp = beh[["user", "ts", "line"]].assign(entry=beh["impressions"].str.split()).explode("entry")
    imp = imp[imp["entry"].notna()]
    parts = imp["entry"].str.rpartition("-")
    bad = ~parts[2].isin(["0", "1"]) | (parts[0] == "")
    if bad.any():
        row = imp[bad.to_numpy()].iloc[0]
        raise FormatError(f"{beh_path}: line {row['line']}: impression {row['entry']!r} is not 'NewsID-0|1'")
    clicks = pd.DataFrame({"user": imp["user"], "item": parts[0], "timestamp": imp["ts"]})[parts[2] == "1"]
    frames = [clicks]
    if include_history:
        first = beh.sort_values(["ts", "line"], kind="stable").drop_duplicates("user")
        hist = first[["user", "ts"]].assign(item=first["history"].str.split()).explode("item")
        hist = hist[hist["item"].notna()]
        hist = pd.DataFrame({"user": hist["user"], "item": hist["item"], "timestamp": hist["ts"] - 1})
        frames.insert(0, hist)
    df = pd.concat(frames, ignore_index=True)
    if len(df) == 0:
        raise EmptyDataError(f"{beh_path}: no clicks and no history")

    news = read_delimited(news_path, sep="\t", header=None)
    if news.shape[1] != len(MIND_NEWS_COLUMNS):
        raise FormatError(f"{news_path}: expected {len(MIND_NEWS_COLUMNS)} tab-separated columns, "
                          f"found {news.shape[1]}")
    news.columns = MIND_NEWS_COLUMNS
    items = news[["item", "title", "category", "subcategory", "abstract"]]
    return from_dataframe(df, items=items, name=name or folder.name, duplicates=duplicates, source=beh_path)
