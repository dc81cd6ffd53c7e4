"""Data: datasets, catalogs, loaders, built-in datasets and splits (see ``docs/data.md``)."""

from llm4rec.data.catalog import Catalog, render_item
from llm4rec.data.dataset import Dataset, from_dataframe
from llm4rec.data.exceptions import (
    DataError,
    DuplicateRowError,
    EmptyDataError,
    FormatError,
    MissingColumnError,
    TimestampError,
    UnknownDatasetError,
)
from llm4rec.data.export import export_split
from llm4rec.data.interactions import Interactions
from llm4rec.data.loaders import read_amazon, read_goodreads, read_mind, read_recbole, read_steam, read_table
from llm4rec.data.registry import fetch_dataset, list_datasets, load_dataset
from llm4rec.data.split import (
    Split,
    cold_start_items,
    cold_start_users,
    kcore,
    leave_one_out,
    make_split,
    order_ties,
    temporal,
)

__all__ = [
    "Catalog", "DataError", "Dataset", "DuplicateRowError", "EmptyDataError", "FormatError", "Interactions",
    "MissingColumnError", "Split", "TimestampError", "UnknownDatasetError", "cold_start_items",
    "cold_start_users", "export_split", "fetch_dataset", "from_dataframe", "kcore", "leave_one_out",
    "list_datasets", "load_dataset", "make_split", "order_ties", "read_amazon", "read_goodreads", "read_mind",
    "read_recbole", "read_steam", "read_table", "render_item", "temporal",
]
