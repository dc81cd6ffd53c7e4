"""Bad input gives a DataError subclass naming the file and, where it applies, the line or row."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from llm4rec.data import (
    DataError,
    DuplicateRowError,
    EmptyDataError,
    FormatError,
    MissingColumnError,
    TimestampError,
    from_dataframe,
    read_amazon,
    read_mind,
    read_recbole,
    read_steam,
    read_table,
)
from llm4rec.data.movielens import read_movielens

MAPPING = {"user": "uid", "item": "movie", "rating": "stars", "timestamp": "when"}


def _write(path, text: str):
    path.write_text(text)
    return path


def test_misnamed_column_lists_file_columns(tmp_path) -> None:
    f = _write(tmp_path / "r.csv", "uid,film,stars\n1,a,3\n")
    with pytest.raises(MissingColumnError, match=re.escape(f"{f}: missing columns item='movie'; the file has "
                                                           "['uid', 'film', 'stars']")):
        read_table(f, {"user": "uid", "item": "movie", "rating": "stars"})


def test_mapping_without_user_or_item(tmp_path) -> None:
    f = _write(tmp_path / "r.csv", "uid,movie\n1,a\n")
    with pytest.raises(MissingColumnError, match="names no 'user' column"):
        read_table(f, {"item": "movie"})
    with pytest.raises(DataError, match="unknown column roles"):
        read_table(f, {"user": "uid", "item": "movie", "stars": "x"})


def test_unparseable_timestamp_names_file_and_line(tmp_path) -> None:
    f = _write(tmp_path / "r.csv", "uid,movie,stars,when\n1,a,3,2020-01-01\n1,b,4,not a date\n")
    with pytest.raises(TimestampError, match=re.escape(f"{f}: line 3: cannot parse timestamp 'not a date'")):
        read_table(f, MAPPING)


def test_bad_rating_and_empty_id(tmp_path) -> None:
    f = _write(tmp_path / "r.csv", "uid,movie,stars\n1,a,3\n2,b,five\n")
    with pytest.raises(FormatError, match=re.escape(f"{f}: line 3: rating 'five' is not a number")):
        read_table(f, {"user": "uid", "item": "movie", "rating": "stars"})
    g = _write(tmp_path / "s.csv", "uid,movie\n1,a\n,b\n")
    with pytest.raises(FormatError, match=re.escape(f"{g}: line 3: empty user id")):
        read_table(g, {"user": "uid", "item": "movie"})


DUPS = "uid,movie,stars,when\n1,a,3,10\n1,b,4,11\n1,a,5,10\n2,a,1,12\n"


def test_duplicate_policies(tmp_path) -> None:
    f = _write(tmp_path / "r.csv", DUPS)
    with pytest.raises(DuplicateRowError, match=re.escape(f"{f}: line 4: duplicate interaction "
                                                          "(user=1, item=a, timestamp=10)")):
        read_table(f, MAPPING)
    assert len(read_table(f, MAPPING, duplicates="keep")) == 4
    first = read_table(f, MAPPING, duplicates="first")
    last = read_table(f, MAPPING, duplicates="last")
    assert len(first) == len(last) == 3
    # user 1 / item a is dense (0, 0); its first rating is 3, its last 5
    assert [ds.interactions.rating[(ds.interactions.user == 0) & (ds.interactions.item == 0)].tolist()
            for ds in (first, last)] == [[3.0], [5.0]]
    with pytest.raises(ValueError, match="duplicates must be"):
        read_table(f, MAPPING, duplicates="drop")


def test_duplicates_without_timestamps_are_user_item_pairs() -> None:
    df = pd.DataFrame({"user": [1, 1], "item": [2, 2]})
    with pytest.raises(DuplicateRowError, match=re.escape("<dataframe>: row 1: duplicate interaction "
                                                          "(user=1, item=2)")):
        from_dataframe(df)


def test_empty_inputs(tmp_path) -> None:
    empty = _write(tmp_path / "empty.csv", "")
    with pytest.raises(EmptyDataError, match=re.escape(f"{empty}: the file is empty")):
        read_table(empty)
    header_only = _write(tmp_path / "h.csv", "user,item\n")
    with pytest.raises(EmptyDataError, match=re.escape(f"{header_only}: the file has no rows")):
        read_table(header_only)
    with pytest.raises(EmptyDataError, match="no interactions"):
        from_dataframe(pd.DataFrame({"user": [], "item": []}))
    (tmp_path / "x.inter").write_text("")
    with pytest.raises(EmptyDataError, match=r"x\.inter: the file is empty"):
        read_recbole(tmp_path / "x.inter")
    (tmp_path / "y.inter").write_text("user_id:token\titem_id:token\n")
    with pytest.raises(EmptyDataError, match=r"y\.inter: the file has a header but no rows"):
        read_recbole(tmp_path / "y.inter")


def test_missing_files(tmp_path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"missing\.inter: no such file"):
        read_recbole(tmp_path, "missing")
    with pytest.raises(DataError, match=r"behaviors\.tsv: no such file"):
        read_mind(tmp_path)


def test_recbole_bad_header_and_values(tmp_path) -> None:
    (tmp_path / "a.inter").write_text("user_id\titem_id:token\n1\t2\n")
    with pytest.raises(FormatError, match=r"a.inter: line 1: header field 'user_id' is not 'name:type'"):
        read_recbole(tmp_path / "a.inter")
    (tmp_path / "b.inter").write_text("user_id:token\titem_id:token\trating:float\n1\t2\t4\n1\t3\tgood\n")
    with pytest.raises(FormatError, match=r"b.inter: line 3: rating:float 'good' is not a number"):
        read_recbole(tmp_path / "b.inter")
    (tmp_path / "c.inter").write_text("uid:token\titem_id:token\n1\t2\n")
    with pytest.raises(MissingColumnError, match=re.escape("c.inter: no 'user_id' field; the header has "
                                                           "['uid', 'item_id']")):
        read_recbole(tmp_path / "c.inter")
    (tmp_path / "e.inter").write_text("user_id:token\titem_id:token\n1\t2\n")
    (tmp_path / "e.item").write_text("iid:token\ttitle:token_seq\n2\tTwo\n")
    with pytest.raises(MissingColumnError, match=re.escape("e.item: no 'item_id' field; the header has "
                                                           "['iid', 'title']")):
        read_recbole(tmp_path / "e.inter")
    (tmp_path / "d.inter").write_text("user_id:token\titem_id:token\n1\t2\n1\t2\t3\n")
    with pytest.raises(FormatError, match=r"d.inter: .*line 3"):
        read_recbole(tmp_path / "d.inter")


def test_official_movielens_malformed(tmp_path, fixtures) -> None:
    import shutil

    folder = tmp_path / "ml-100k"
    shutil.copytree(fixtures / "ml-100k-official", folder)
    with open(folder / "u.data", "a") as f:
        f.write("6\t1\t4\tyesterday\n")
    with pytest.raises(TimestampError, match=re.escape(f"{folder / 'u.data'}: line 17: cannot parse "
                                                       "timestamp 'yesterday'")):
        read_movielens(folder)
    ml1m = tmp_path / "ml-1m"
    shutil.copytree(fixtures / "ml-1m-official", ml1m)
    (ml1m / "movies.dat").write_text("1::Toy Story (1995)::Comedy\n2::Broken line\n")
    with pytest.raises(FormatError, match=re.escape(f"{ml1m / 'movies.dat'}: line 2: expected 3 "
                                                    "'::'-separated")):
        read_movielens(ml1m)


def test_side_table_errors(tmp_path) -> None:
    df = pd.DataFrame({"user": [1], "item": ["a"]})
    with pytest.raises(DuplicateRowError, match="item table row 1: duplicate item id 'a'"):
        from_dataframe(df, items=pd.DataFrame({"item": ["a", "a"], "title": ["x", "y"]}))
    with pytest.raises(MissingColumnError, match="item table has no id column 'item'"):
        from_dataframe(df, items=pd.DataFrame({"asin": ["a"]}))
    with pytest.raises(DuplicateRowError, match="user table row 1: duplicate user id '1'"):
        from_dataframe(df, users=pd.DataFrame({"user": [1, 1], "age": [3, 4]}))


def test_json_lines_errors(tmp_path, fixtures) -> None:
    bad = _write(tmp_path / "reviews.json", '{"reviewerID": "A", "asin": "B", "overall": 1, '
                 '"unixReviewTime": 1}\n{not json\n')
    with pytest.raises(FormatError, match=re.escape(f"{bad}: line 2: not a JSON object")):
        read_amazon(bad)
    no_time = _write(tmp_path / "r2.json", '{"reviewerID": "A", "asin": "B", "overall": 1}\n')
    with pytest.raises(MissingColumnError, match="timestamp='unixReviewTime'"):
        read_amazon(no_time)


def test_mind_bad_impression(tmp_path, fixtures) -> None:
    import shutil

    shutil.copytree(fixtures / "mind", tmp_path / "mind")
    with open(tmp_path / "mind" / "behaviors.tsv", "a") as f:
        f.write("5\tU4\t11/15/2019 1:00:00 PM\t\tN1-yes\n")
    with pytest.raises(FormatError, match=r"behaviors.tsv: line 5: impression 'N1-yes'"):
        read_mind(tmp_path / "mind")


def test_official_time_formats(tmp_path, fixtures) -> None:
    bad = _write(tmp_path / "steam_reviews.json",
                 "{'username': 'a', 'product_id': '1', 'date': '2017-12-17'}\n"
                 "{'username': 'b', 'product_id': '1', 'date': 'last week'}\n")
    with pytest.raises(TimestampError, match=re.escape(f"{bad}: line 2: cannot parse time 'last week'")):
        read_steam(bad)
    import shutil

    shutil.copytree(fixtures / "mind", tmp_path / "mind")
    with open(tmp_path / "mind" / "behaviors.tsv", "a") as f:
        f.write("5\tU4\t2019-11-15\t\tN1-1\n")
    with pytest.raises(TimestampError, match=r"behaviors\.tsv: line 5: cannot parse time '2019-11-15'"):
        read_mind(tmp_path / "mind")
