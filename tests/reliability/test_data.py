"""Items 5 (timestamps, ratings) and 8 (damaged inputs): clear errors naming the file and line."""

from __future__ import annotations

import gzip
import logging
import sqlite3

import numpy as np
import pytest

from llm4rec.data.exceptions import DataError, FormatError, TimestampError
from llm4rec.data.interactions import Interactions
from llm4rec.data.loaders import read_table


def _csv(tmp_path, ts: str, rating: str = "4", name: str = "t.csv"):
    path = tmp_path / name
    path.write_text(f"user,item,timestamp,rating\n1,10,{ts},{rating}\n1,11,100,3\n2,10,50,5\n")
    return path


@pytest.mark.parametrize("ts", ["1e300", "inf", "-inf", "-9.3e18", "99999999999999999999", "9223372036854775808"])
def test_timestamps_outside_int64_seconds_are_rejected(tmp_path, ts):
    with pytest.raises(TimestampError, match=r"t\.csv: line 2: timestamp .* int64 range"):
        read_table(_csv(tmp_path, ts))


@pytest.mark.parametrize("role,row", [("item", "1,8\x00\x00,100,4"), ("user", "7\x00,8,100,4")])
def test_nul_in_an_id_is_an_error_naming_the_line(tmp_path, role, row):
    """numpy drops trailing NULs of strings: '8\\x00' must not silently become item '8'."""
    path = tmp_path / "n.csv"
    path.write_text(f"user,item,timestamp,rating\n1,8,50,4\n{row}\n")
    with pytest.raises(FormatError, match=rf"n\.csv: line 3: {role} id .* NUL character"):
        read_table(path)


@pytest.mark.parametrize("items,needle", [("item,title\n1,A\n1,B\n", "duplicate item id '1'"),
                                          ("name,title\n1,A\n", "no id column 'item'"),
                                          ("item,title\n1\x00,A\n", "NUL character")])
def test_item_table_errors_name_the_item_file(tmp_path, items, needle):
    data = tmp_path / "inter.csv"
    data.write_text("user,item,timestamp\n1,1,10\n2,1,20\n")
    (tmp_path / "items.csv").write_text(items)
    with pytest.raises(DataError, match=needle) as info:
        read_table(data, items=tmp_path / "items.csv")
    assert "items.csv" in str(info.value) and "inter.csv" not in str(info.value)


def test_nan_timestamp_is_an_error_naming_the_line(tmp_path):
    with pytest.raises(TimestampError, match=r"t\.csv: line 2"):
        read_table(_csv(tmp_path, "nan"))


def test_fractional_seconds_are_floored_with_a_warning(tmp_path, caplog):
    path = tmp_path / "f.csv"
    path.write_text("user,item,timestamp\n1,10,5.9\n1,11,5.1\n1,12,4.5\n")
    with caplog.at_level(logging.WARNING):
        ds = read_table(path)
    assert "2 timestamp(s) have fractional seconds" not in caplog.text  # all three are fractional
    assert "3 timestamp(s) have fractional seconds" in caplog.text and "f.csv: line 2" in caplog.text
    inter = ds.interactions
    assert inter.timestamp.tolist() == [4, 5, 5]
    assert [ds.catalog.ids[i] for i in inter.item] == ["12", "10", "11"]  # ties keep file order


def test_large_valid_timestamps_keep_their_order(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("user,item,timestamp\n1,10,9000000000000000000\n1,11,-9000000000000000000\n")
    inter = read_table(path).interactions
    assert inter.timestamp.tolist() == [-9000000000000000000, 9000000000000000000]


@pytest.mark.parametrize("rating", ["inf", "-inf", "nan", "1e39"])
def test_non_finite_ratings_are_rejected(tmp_path, rating):
    with pytest.raises(FormatError, match=r"t\.csv: line 2: rating .* is not a"):
        read_table(_csv(tmp_path, "1", rating))


def test_interactions_build_checks_arrays():
    with pytest.raises(ValueError, match="int64 range"):
        Interactions.build([0, 0], [0, 1], np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="finite"):
        Interactions.build([0, 0], [0, 1], [1, 2], np.array([1.0, np.inf]))


def test_truncated_gzip_is_a_format_error(tmp_path):
    data = gzip.compress(("user,item,timestamp\n" + "".join(f"{i % 50},{i % 300},{i}\n" for i in range(20000)))
                         .encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"cut\.csv\.gz: the file is truncated"):
        read_table(path)


def test_non_utf8_file_is_a_format_error(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("user,item,title\n1,2,Caf\xe9\n".encode("latin-1"))
    with pytest.raises(FormatError, match=r"latin\.csv: not UTF-8"):
        read_table(path)


# ---------------------------------------------------------------- LM cache
def _generator(tmp_path, mode="use"):
    from llm4rec.lm.openai_compat import OpenAIGenerator

    return OpenAIGenerator("m", base_url="http://127.0.0.1:9/v1", api_key_env=None, max_retries=0,
                           cache_mode=mode, cache_path=str(tmp_path / "lm.sqlite"))


def test_corrupt_sqlite_file_names_the_file(tmp_path):
    from llm4rec.lm.errors import CacheError

    (tmp_path / "lm.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheError, match=r"lm\.sqlite cannot be used"):
        _generator(tmp_path).chat([{"role": "user", "content": "hi"}])


def test_blocked_cache_folder_names_the_path(tmp_path):
    from llm4rec.lm.cache import LMCache
    from llm4rec.lm.errors import CacheError

    (tmp_path / "file").write_text("x")
    with pytest.raises(CacheError, match="file/sub"):
        LMCache(tmp_path / "file" / "sub" / "lm.sqlite")


def _damage(tmp_path):
    with sqlite3.connect(tmp_path / "lm.sqlite") as conn:
        conn.execute("UPDATE entries SET value = ?", (b"\xff{not json",))


def test_damaged_row_is_recomputed_in_use_mode_and_an_error_in_replay(tmp_path, caplog):
    from support import FakeServer

    from llm4rec.lm.errors import CacheError
    from llm4rec.lm.openai_compat import OpenAIGenerator

    with FakeServer(tmp_path, "ok", max_requests=5, reply="fine") as srv:
        def gen(mode):
            return OpenAIGenerator("m", base_url=srv.base_url, api_key_env=None, max_retries=0, cache_mode=mode,
                                   cache_path=str(tmp_path / "lm.sqlite"))

        msgs = [{"role": "user", "content": "hi"}]
        assert gen("use").chat(msgs) == "fine"
        _damage(tmp_path)
        with pytest.raises(CacheError, match=r"lm\.sqlite: 1 damaged chat row"):
            gen("replay").chat(msgs)
        with caplog.at_level(logging.WARNING):
            assert gen("use").chat(msgs) == "fine"
        assert "recomputing" in caplog.text
        assert len(srv.requests) == 2
        assert gen("replay").chat(msgs) == "fine"  # the row was rewritten


@pytest.mark.parametrize("manifest", ['{"files": []}', "{not json", '{"name": "x"}'])
def test_damaged_manifest_is_not_trusted(tmp_path, manifest, caplog):
    from llm4rec.artifacts import MANIFEST, _manifest_ok

    (tmp_path / MANIFEST).write_text(manifest)
    with caplog.at_level(logging.WARNING):
        assert not _manifest_ok(tmp_path)
    assert "damaged or empty" in caplog.text


def test_empty_dataset_manifest_is_fetched_again(tmp_path, monkeypatch, caplog):
    manifest = '{"files": {}}'
    import shutil

    from llm4rec.artifacts import CACHE_ENV, MANIFEST
    from llm4rec.data import fetch_dataset, load_dataset

    cached = fetch_dataset("ml-100k")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    copy = tmp_path / "ml-100k"
    shutil.copytree(cached, copy)
    for f in copy.iterdir():
        if f.name != MANIFEST:
            f.unlink()
    (copy / MANIFEST).write_text(manifest)
    with caplog.at_level(logging.WARNING):
        assert fetch_dataset("ml-100k") == copy
    assert "damaged or empty MANIFEST.json" in caplog.text
    assert load_dataset("ml-100k", memo=False).summary()["interactions"] == 100_000


def test_blocked_dataset_cache_folder_is_named(tmp_path, monkeypatch):
    from llm4rec.artifacts import CACHE_ENV, cache_dir
    from llm4rec.errors import ArtifactError

    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "file" / "cache"))
    with pytest.raises(ArtifactError, match=r"file/cache .*LLM4REC_CACHE"):
        cache_dir()
