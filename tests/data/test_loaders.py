"""Generic loaders: RecBole atomic files, CSV / TSV / Parquet / JSON-lines / DataFrame, Amazon, MIND."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm4rec.data import (
    from_dataframe,
    read_amazon,
    read_goodreads,
    read_mind,
    read_recbole,
    read_steam,
    read_table,
)

MAPPING = {"user": "uid", "item": "movie", "rating": "stars", "timestamp": "when"}


def _rows(ds) -> list[tuple[str, str, int, float]]:
    i = ds.interactions
    return sorted(zip(ds.user_ids[i.user], ds.catalog.ids[i.item], i.timestamp.tolist(), i.rating.tolist(),
                      strict=True))


def test_read_recbole_generic(fixtures) -> None:
    ds = read_recbole(fixtures / "recbole-tiny")
    assert ds.name == "tiny"
    assert _rows(ds)[0] == ("u1", "i1", 100, 5.0)
    assert list(ds.catalog.text_fields) == ["title", "genres", "price"]
    assert ds.catalog.table["genres"][0] == ["Drama", "Comedy"]  # token_seq -> list
    assert ds.catalog.table["title"][0] == "The First One"  # text-like token_seq stays a string
    assert np.isnan(ds.catalog.table["price"][1])  # empty float cell
    assert ds.catalog.text([3]) == ["Never Rated; genres: Horror; price: 1"]  # unrated item kept
    assert ds.user_info["age"].tolist() == [30.0, 41.0, 25.0]
    same = read_recbole(fixtures / "recbole-tiny" / "tiny.inter")
    assert _rows(same) == _rows(ds)
    renamed = read_recbole(fixtures / "recbole-tiny", "tiny", rename={"movie_title": "name"}, list_fields=())
    assert "name" in renamed.catalog.text_fields and renamed.catalog.table["genres"][0] == "Drama Comedy"


def test_read_table_csv_with_item_table(fixtures) -> None:
    ds = read_table(fixtures / "custom" / "ratings.csv", MAPPING, items=fixtures / "custom" / "items.csv",
                    item_id_column="movie")
    assert ds.name == "ratings"
    assert list(ds.user_ids) == ["007", "8", "42"]  # ids keep their zeros
    assert list(ds.catalog.ids) == ["m1", "m2", "m3", "m4"] and ds.summary()["items"] == 3
    assert ds.catalog.text([0, 3]) == ["Alpha; genres: Drama; description: A film, with a comma",
                                       "Delta; genres: Drama; description: Nobody rated this"]
    assert _rows(ds)[0] == ("007", "m1", 1577872800, 4.5)  # "2020-01-01 10:00:00" UTC
    assert ("42", "m1", 1578043800, 5.0) in _rows(ds)  # ISO with Z


@pytest.mark.parametrize("fmt", ["tsv", "parquet", "jsonl", "csv.gz", "dataframe"])
def test_read_table_formats_agree(fixtures, tmp_path, fmt) -> None:
    csv = fixtures / "custom" / "ratings.csv"
    expected = _rows(read_table(csv, MAPPING))
    df = pd.read_csv(csv, dtype=str)
    if fmt == "tsv":
        src = tmp_path / "r.tsv"
        df.to_csv(src, sep="\t", index=False)
    elif fmt == "parquet":
        src = tmp_path / "r.parquet"
        df.to_parquet(src)
    elif fmt == "jsonl":
        src = tmp_path / "r.jsonl"
        df.to_json(src, orient="records", lines=True)
    elif fmt == "csv.gz":
        src = tmp_path / "r.csv.gz"
        df.to_csv(src, index=False)
    else:
        src = df
    assert _rows(read_table(src, MAPPING)) == expected


def test_read_table_explicit_format(fixtures, tmp_path) -> None:
    src = tmp_path / "ratings.txt"
    src.write_text((fixtures / "custom" / "ratings.csv").read_text().replace(",", "\t"))
    expected = _rows(read_table(fixtures / "custom" / "ratings.csv", MAPPING))
    assert _rows(read_table(src, MAPPING, format="tsv")) == expected


def test_read_recbole_prefix_and_single_file_folder(fixtures) -> None:
    by_prefix = read_recbole(fixtures / "recbole-tiny" / "tiny", name="renamed")
    assert by_prefix.name == "renamed" and len(by_prefix) == 5
    only_file = read_recbole(fixtures / "recbole-tiny", name="other")  # no other.inter: the folder's only one
    assert only_file.name == "other" and _rows(only_file) == _rows(by_prefix)


def test_from_dataframe_defaults_and_types() -> None:
    df = pd.DataFrame({"user": [3, 1, 3], "item": [10, 10, 20]})
    ds = from_dataframe(df)
    assert list(ds.user_ids) == ["1", "3"] and list(ds.catalog.ids) == ["10", "20"]
    assert ds.interactions.rating.tolist() == [1.0, 1.0, 1.0]  # implicit feedback
    assert ds.interactions.timestamp.tolist() == [1, 0, 2]  # row order when there is no time
    dt = pd.DataFrame({"user": ["a", "a"], "item": ["x", "y"],
                       "timestamp": pd.to_datetime(["2021-01-01", "2021-01-02"])})
    assert from_dataframe(dt).interactions.timestamp.tolist() == [1609459200, 1609545600]


def test_amazon_2014_and_2018(fixtures) -> None:
    reviews = fixtures / "amazon" / "reviews_Tiny_5.json"
    old = read_amazon(reviews, fixtures / "amazon" / "meta_Tiny_2014.json")
    assert old.name == "reviews_Tiny_5"
    assert _rows(old)[0] == ("A1", "B001", 1400000000, 5.0)
    assert list(old.catalog.ids) == ["B001", "B002", "B003", "B004"]
    assert old.catalog.text([0, 1]) == [
        "Blue Kettle; categories: Home, Kitchen, Tea; description: A kettle that is blue.",
        "Red Mug; brand: Mugs Inc; categories: Home, Kitchen"]
    assert old.catalog.text([2]) == ["B003"]  # rated but not in the metadata: id only
    new = read_amazon(reviews, fixtures / "amazon" / "meta_Tiny_2018.json")
    assert new.catalog.text([0]) == ["Blue Kettle; categories: Home, Kitchen; description: A kettle blue."]
    assert _rows(read_amazon(reviews)) == _rows(old)


def test_mind(fixtures) -> None:
    ds = read_mind(fixtures / "mind")
    rows = _rows(ds)
    t0 = 1573463158  # 11/11/2019 9:05:58 AM
    assert ("U1", "N1", t0 - 1, 1.0) in rows and ("U1", "N2", t0 - 1, 1.0) in rows  # history
    assert ("U1", "N3", t0, 1.0) in rows  # click
    assert not any(r[:2] == ("U1", "N5") and r[2] == t0 for r in rows)  # non-click is not an interaction
    assert len(rows) == 3 + 5  # history of U1 (2) and U2 (1), 5 clicks
    assert ds.catalog.text([5]) == ["Never shown; category: news; subcategory: us; "
                                    "abstract: Nobody saw this one."]
    no_hist = read_mind(fixtures / "mind", include_history=False)
    assert len(no_hist) == 5


def test_goodreads(fixtures) -> None:
    folder = fixtures / "goodreads"
    ds = read_goodreads(folder / "goodreads_interactions_tiny.json", folder / "goodreads_books_tiny.json")
    rows = _rows(ds)
    assert ("8842281e1d1347389f2ab93d60773d4d", "24375664", 1470084117, 5.0) in rows  # -0700 zone
    assert ("8842281e1d1347389f2ab93d60773d4d", "18245960", 1508242419, 0.0) in rows  # shelved, no rating
    mountain = ds.catalog.lookup("24375664")
    assert ds.catalog.text([mountain]) == ["The Mountain Book (2015); shelves: fantasy, to-read; "
                                           "description: About a mountain."]
    assert ds.catalog.text([ds.catalog.lookup("18245960")]) == ["A River"]
    assert ds.summary()["catalog_items"] == 3


def test_steam(fixtures) -> None:
    ds = read_steam(fixtures / "steam" / "steam_reviews.json", fixtures / "steam" / "steam_games.json")
    assert _rows(ds) == [("Ariman1", "328100", 1501632000, 1.0), ("Chaos Syren", "328100", 1515110400, 1.0),
                         ("Chaos Syren", "725280", 1513468800, 1.0)]
    assert ds.catalog.text([ds.catalog.lookup("328100")]) == [
        "Gunspell - Steam Edition (2016); genres: RPG; tags: RPG, Puzzle; developer: Ghost"]
    # release date "Soon..": no year
    assert ds.catalog.text([ds.catalog.lookup("725280")]) == ["Log Challenge; genres: Casual"]
