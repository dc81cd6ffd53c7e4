"""Record/replay cache: modes, crash resume, concurrent writers, accounting and cost."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from llm4rec.lm import Accounting, LMCache, Price, make_encoder
from llm4rec.lm.cache import make_key

SRC = str(Path(__file__).resolve().parents[2] / "src")
TITLES = [f"Movie number {i} ({1950 + i % 70}) Drama" for i in range(60)]


def _run(code: str, cache: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code).replace("CACHE", str(cache))],
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_modes_off_refresh_use(wl_enc, tmp_path) -> None:
    path = str(tmp_path / "m.sqlite")
    wl_enc.set_cache("use", path)
    a = wl_enc.encode(TITLES[:4])
    c0 = wl_enc.backend_calls
    wl_enc.set_cache("refresh", path)  # recompute and overwrite
    b = wl_enc.encode(TITLES[:4])
    assert wl_enc.backend_calls == c0 + 1 and a.tobytes() == b.tobytes()
    wl_enc.set_cache("off")
    wl_enc.encode(TITLES[:4])
    assert wl_enc.backend_calls == c0 + 2
    assert len(LMCache(path)) == 4


def test_killed_run_resumes_without_recomputing(tmp_path) -> None:
    cache = tmp_path / "crash.sqlite"
    code = """
        import os
        from llm4rec.lm.wordllama import WordLlamaEncoder
        titles = [f"Movie number {i} ({1950 + i % 70}) Drama" for i in range(60)]
        enc = WordLlamaEncoder(cache_path="CACHE")
        real = enc._encode
        calls = []
        def dying(texts, bs):
            calls.append(1)
            if len(calls) == 4:
                os._exit(9)  # killed in the middle of the 4th batch
            return real(texts, bs)
        enc._encode = dying
        enc.encode(titles, batch_size=10)
    """
    proc = _run(code, cache)
    assert proc.returncode == 9, proc.stderr
    enc = make_encoder({"backend": "wordllama", "cache_path": str(cache)})
    x = enc.encode(TITLES, batch_size=10)
    assert enc.backend_calls == 3  # 3 of 6 batches were committed before the crash
    assert x.shape == (60, 256)


def test_concurrent_writers_do_not_corrupt(tmp_path) -> None:
    cache = tmp_path / "conc.sqlite"
    code = """
        import sys
        from llm4rec.lm.wordllama import WordLlamaEncoder
        titles = [f"Movie number {i} ({1950 + i % 70}) Drama" for i in range(60)]
        enc = WordLlamaEncoder(cache_path="CACHE")
        for r in range(5):
            enc.encode(titles, batch_size=1)  # 60 small transactions, overlapping with the other writer
            enc.set_cache("refresh", "CACHE")
        print("ok")
    """
    env = {**os.environ, "PYTHONPATH": SRC}
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code).replace("CACHE", str(cache))],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and "ok" in out, err
    with sqlite3.connect(cache) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 60
    enc = make_encoder({"backend": "wordllama", "cache_path": str(cache), "cache_mode": "replay"})
    fresh = make_encoder({"backend": "wordllama", "cache_mode": "off"})
    assert np.array_equal(enc.encode(TITLES), fresh.encode(TITLES))


def test_key_depends_on_everything_but_secrets() -> None:
    k = make_key("openai", "served:m", "generate", {"max_tokens": 5}, "hi")
    assert k == make_key("openai", "served:m", "generate", {"max_tokens": 5}, "hi")
    assert k != make_key("openai", "served:m2", "generate", {"max_tokens": 5}, "hi")
    assert k != make_key("openai", "served:m", "generate", {"max_tokens": 6}, "hi")
    assert k != make_key("openai", "served:m", "generate", {"max_tokens": 5}, "hi!")
    assert k != make_key("hf", "served:m", "generate", {"max_tokens": 5}, "hi")


def test_api_key_never_in_cache(tmp_path, monkeypatch) -> None:
    from llm4rec.lm import make_generator

    monkeypatch.setenv("MY_TEST_API_KEY", "sk-secret-123")
    g = make_generator({"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m",
                        "api_key_env": "MY_TEST_API_KEY", "cache_path": str(tmp_path / "k.sqlite")})
    assert g.http._client.headers["Authorization"] == "Bearer sk-secret-123"
    assert "sk-secret" not in repr(g.__dict__.get("model_id", "")) and "sk-secret" not in g.model_id


def test_accounting_and_price() -> None:
    acc = Accounting()
    u = acc.usage("openai", "gpt-x", Price(prompt_per_mtok=2.0, completion_per_mtok=8.0))
    acc.record(u, calls=1, items=3, prompt_tokens=1_000_000, completion_tokens=500_000, wall_s=1.5)
    acc.record(u, items=3, cache_hits=3)
    d = acc.report()[0]
    assert d["cost_usd"] == pytest.approx(6.0) and d["cache_hits"] == 3 and d["items"] == 6
    assert "| openai | gpt-x | 1 |" in acc.table()
    assert acc.usage("hf", "m").cost_usd is None


def test_file_hash_is_memoised(tmp_path) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    c = LMCache(tmp_path / "h.sqlite")
    h1 = c.file_hash(f)
    assert h1 == c.file_hash(f)
    f.write_bytes(b"abcd")
    assert c.file_hash(f) != h1
