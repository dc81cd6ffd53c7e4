"""Custom item tables that read right: typed columns, lists, no spurious ``.0``, helpful errors (real ML-100K)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from llm4rec.data import MissingColumnError, read_table
from llm4rec.data.exceptions import DataError, FormatError


@pytest.fixture(scope="module")
def ml100k_as_csv(ml100k, tmp_path_factory):
    """ML-100K written the way pandas users write it: years with gaps as floats, genres pipe-joined."""
    folder = tmp_path_factory.mktemp("custom")
    inter = ml100k.interactions
    pd.DataFrame({"uid": ml100k.user_ids[inter.user], "movie": ml100k.catalog.ids[inter.item],
                  "stars": inter.rating, "ts": inter.timestamp}).to_csv(folder / "my_ratings.csv", index=False)
    table = ml100k.catalog.table
    pd.DataFrame({"movie": ml100k.catalog.ids, "title": table["title"],
                  "year": table["year"].astype("float"),  # Int64 with gaps -> float -> "1995.0" in the file
                  "genres": ["|".join(g) for g in table["genres"]]}).to_csv(folder / "movies.csv", index=False)
    assert "1995.0" in (folder / "movies.csv").read_text()
    return folder


MAPPING = {"user": "uid", "item": "movie", "rating": "stars", "timestamp": "ts"}


def test_typed_item_columns_render_like_the_builtin_loader(ml100k, ml100k_as_csv):
    ds = read_table(ml100k_as_csv / "my_ratings.csv", MAPPING, items=ml100k_as_csv / "movies.csv",
                    item_id_column="movie", dtypes={"year": "int"}, list_fields=["genres"], list_sep="|")
    assert ds.name == "my_ratings"
    assert str(ds.catalog.table["year"].dtype) == "Int64"
    assert ds.catalog.table["genres"][0] == ["Animation", "Children's", "Comedy"]
    assert ds.catalog.text() == ml100k.catalog.text()  # what the encoders and LLMs read


def test_integral_floats_lose_their_dot_zero_without_dtypes(ml100k, ml100k_as_csv):
    ds = read_table(ml100k_as_csv / "my_ratings.csv", MAPPING, items=ml100k_as_csv / "movies.csv",
                    item_id_column="movie")
    text = ds.catalog.text([0])[0]
    assert text.startswith("Toy Story (1995);") and ".0" not in text
    assert ds.catalog.table["genres"][0] == "Animation|Children's|Comedy"  # untyped: stays a string


def test_typed_column_errors_name_file_column_and_line(tmp_path):
    (tmp_path / "r.csv").write_text("user,item\n1,a\n")
    (tmp_path / "i.csv").write_text("item,year\na,1995\nb,nineteen\n")
    with pytest.raises(FormatError, match=re.escape("i.csv: line 3: year 'nineteen' is not a number")):
        read_table(tmp_path / "r.csv", items=tmp_path / "i.csv", dtypes={"year": "int"})
    (tmp_path / "i.csv").write_text("item,year\na,1995.5\n")
    with pytest.raises(FormatError, match="is not an integer"):
        read_table(tmp_path / "r.csv", items=tmp_path / "i.csv", dtypes={"year": "int"})
    with pytest.raises(MissingColumnError, match=re.escape("typed columns ['genre'] are not in the table; it "
                                                           "has ['item', 'year']")):
        read_table(tmp_path / "r.csv", items=tmp_path / "i.csv", list_fields=["genre"])
    with pytest.raises(DataError, match="unknown column types"):
        read_table(tmp_path / "r.csv", items=tmp_path / "i.csv", dtypes={"year": "date"})
    ds = read_table(tmp_path / "r.csv", items=tmp_path / "i.csv", dtypes={"year": "float"})
    assert np.isclose(ds.catalog.table["year"][0], 1995.5)


def test_no_mapping_error_lists_the_file_columns(ml100k_as_csv):
    with pytest.raises(MissingColumnError, match=re.escape("no column mapping given and no column named 'user' "
                                                           "column; the file has ['uid', 'movie', 'stars', 'ts']")):
        read_table(ml100k_as_csv / "my_ratings.csv")


def test_run_config_reads_custom_files_typed_and_named_after_the_file(ml100k, ml100k_as_csv):
    from llm4rec.eval.config import DatasetSpec
    from llm4rec.eval.runner import load_data

    spec = DatasetSpec(path=str(ml100k_as_csv / "my_ratings.csv"), columns=MAPPING,
                       items=str(ml100k_as_csv / "movies.csv"), item_id_column="movie", dtypes={"year": "int"},
                       list_fields=["genres"])
    ds = load_data(spec)
    assert ds.name == "my_ratings"  # not "ml-100k"
    assert ds.catalog.text() == ml100k.catalog.text()
    assert load_data(DatasetSpec()).name == "ml-100k"
