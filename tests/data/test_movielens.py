"""Built-in MovieLens datasets: exact counts, ids, catalog and user fields, both file layouts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm4rec.data import DataError, Dataset
from llm4rec.data.movielens import ML1M_ID_GAPS, detect_layout, read_movielens
from llm4rec.data.registry import fetch_dataset


def _assert_contract(ds: Dataset) -> None:
    """Field types every MovieLens dataset shares, whatever layout it came from."""
    table = ds.catalog.table
    assert list(ds.catalog.text_fields) == ["title", "year", "genres"]
    assert str(table["year"].dtype) == "Int64"
    assert all(isinstance(g, list) and all(isinstance(x, str) for x in g) for g in table["genres"])
    assert not table["title"].str.contains(r"\(\d{4}\)\s*$").any()
    assert list(ds.user_info.columns) == ["age", "gender", "occupation", "zip_code"]
    assert len(ds.user_info) == ds.n_users
    assert ds.user_info["age"].dtype == np.int64
    inter = ds.interactions
    assert inter.user.dtype == np.int32 and inter.item.dtype == np.int32
    assert inter.timestamp.dtype == np.int64 and inter.rating.dtype == np.float32
    assert np.all(np.diff(inter.user) >= 0)


def test_ml100k_counts_and_fields(ml100k: Dataset) -> None:
    s = ml100k.summary()
    assert (s["users"], s["items"], s["catalog_items"], s["interactions"]) == (943, 1682, 1682, 100_000)
    _assert_contract(ml100k)
    assert set(np.unique(ml100k.interactions.rating)) == {1, 2, 3, 4, 5}
    toy_story = ml100k.catalog.lookup("1")
    assert ml100k.catalog.text([toy_story]) == ["Toy Story (1995); genres: Animation, Children's, Comedy"]
    unknown = ml100k.catalog.lookup("267")
    assert ml100k.catalog.title(unknown) == "unknown" and pd.isna(ml100k.catalog.table.at[unknown, "year"])
    # RecBole split item 1412's "(1995) (V)" badly; the loader recovers title and year
    row = ml100k.catalog.table.loc[ml100k.catalog.lookup("1412")]
    assert (row["title"], row["year"]) == ("Land Before Time III: The Time of the Great Giving", 1995)
    assert ml100k.user_info.iloc[0].tolist() == [24, "M", "technician", "85711"]
    assert s["time_span"] == "1997-09-20 .. 1998-04-22"


def test_ml1m_counts_ids_and_cold_items(ml1m: Dataset) -> None:
    s = ml1m.summary()
    assert (s["users"], s["items"], s["catalog_items"], s["interactions"]) == (6040, 3706, 3883, 1_000_209)
    _assert_contract(ml1m)
    assert int(np.count_nonzero(ml1m.interactions.item_counts() == 0)) == 3883 - 3706
    # official MovieLens ids, recovered from the RecBole "Title (Year)" ids
    ids = ml1m.catalog.ids.astype(int)
    assert ids[0] == 1 and ids[-1] == 3952 and len(ids) == 3883
    assert not set(ids) & set(ML1M_ID_GAPS)
    anchors = {"1": "Toy Story", "260": "Star Wars: Episode IV - A New Hope", "1193":
               "One Flew Over the Cuckoo's Nest", "1839": "My Giant", "2571": "Matrix, The",
               "3814": "Love and Death", "3816": "Official Story, The (La Historia Oficial)",
               "3952": "Contender, The"}
    assert {k: ml1m.catalog.title(ml1m.catalog.lookup(k)) for k in anchors} == anchors
    # ratings.dat's first line is "1::1193::5::978300760" (ties in time keep the file order)
    first = np.flatnonzero((ml1m.interactions.user == 0) & (ml1m.interactions.timestamp == 978300760))
    assert ml1m.catalog.ids[ml1m.interactions.item[first]].tolist()[0] == "1193"
    assert ml1m.user_ids[0] == "1" and ml1m.user_ids[-1] == "6040"
    assert ml1m.user_info.iloc[0].tolist() == [1, "F", "K-12 student", "48067"]


def test_official_layout_ml100k(fixtures) -> None:
    ds = read_movielens(fixtures / "ml-100k-official", "ml-100k")
    assert detect_layout(fixtures / "ml-100k-official", "ml-100k") == "official"
    _assert_contract(ds)
    assert (ds.n_users, ds.n_items, len(ds)) == (5, 6, 16)
    t = ds.catalog.table
    assert t["title"].tolist() == [
        "Toy Story", "GoldenEye", "Cité des enfants perdus, La", "unknown",
        "Land Before Time III: The Time of the Great Giving", "Some Film Without Year"]
    assert t["year"].tolist()[:3] == [1995, 1995, 1995] and pd.isna(t["year"][3])
    assert t["year"][5] == 1997  # no year in the title: taken from the release date
    assert t["genres"][0] == ["Animation", "Children's", "Comedy"] and t["genres"][3] == ["unknown"]
    assert ds.user_info["occupation"].tolist()[:2] == ["technician", "other"]


def test_official_layout_ml1m(fixtures) -> None:
    ds = read_movielens(fixtures / "ml-1m-official", "ml-1m")
    _assert_contract(ds)
    assert ds.catalog.ids.tolist() == ["1", "12", "73", "3952"]
    assert ds.catalog.title(1) == "Dracula: Dead and Loving It"  # ':' inside a '::'-separated file
    assert ds.catalog.title(2) == "Misérables, Les"  # latin-1
    assert ds.user_info["occupation"].tolist() == ["K-12 student", "self-employed", "scientist"]
    assert ds.summary()["items"] == 3 and ds.n_items == 4  # the unrated movie stays in the catalog


def test_both_layouts_agree_on_real_data(tmp_path, ml100k: Dataset) -> None:
    """Rebuild the official ML-100K files from the RecBole copy and load them with the GroupLens parser."""
    inter = ml100k.interactions
    uid, iid = ml100k.user_ids, ml100k.catalog.ids
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    pd.DataFrame({"u": uid[inter.user], "i": iid[inter.item], "r": inter.rating.astype(int),
                  "t": inter.timestamp}).to_csv(folder / "u.data", sep="\t", header=False, index=False)
    from llm4rec.data.movielens import ML100K_GENRES

    t = ml100k.catalog.table
    lines = []
    for i, (title, year, genres) in enumerate(zip(t["title"], t["year"], t["genres"], strict=True)):
        full = title if pd.isna(year) else f"{title} ({year})"
        flags = "|".join("1" if g in genres else "0" for g in ML100K_GENRES)
        lines.append(f"{iid[i]}|{full}|||url|{flags}")
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    u = ml100k.user_info
    (folder / "u.user").write_text("".join(f"{uid[k]}|{a}|{g}|{o}|{z}\n" for k, (a, g, o, z)
                                           in enumerate(u.itertuples(index=False))))
    official = read_movielens(folder, "ml-100k")
    assert detect_layout(folder, "ml-100k") == "official"
    np.testing.assert_array_equal(official.catalog.ids, ml100k.catalog.ids)
    np.testing.assert_array_equal(official.user_ids, ml100k.user_ids)
    for col in ("user", "item", "timestamp", "rating"):
        np.testing.assert_array_equal(getattr(official.interactions, col), getattr(inter, col))
    pd.testing.assert_frame_equal(official.catalog.table, ml100k.catalog.table)
    pd.testing.assert_frame_equal(official.user_info, ml100k.user_info)


def test_layout_detection_errors(tmp_path) -> None:
    with pytest.raises(DataError, match="neither the GroupLens files"):
        read_movielens(tmp_path, "ml-100k")
    with pytest.raises(DataError, match="not a MovieLens release"):
        read_movielens(tmp_path, "ml-20m")


def test_cache_holds_one_layout() -> None:
    folder = fetch_dataset("ml-100k")
    assert detect_layout(folder, "ml-100k") in ("official", "recbole")
    assert (folder / "MANIFEST.json").is_file()
