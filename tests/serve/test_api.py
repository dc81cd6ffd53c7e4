"""The HTTP API against a real uvicorn server on 127.0.0.1, called with httpx (models fitted on ML-100K)."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_support import AUTH

from llm4rec.errors import ConfigError


def metric(url: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` (with matching labels) on the server's /metrics page."""
    total = 0.0
    for fam in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def ext_history(ml100k, user: str) -> list[str]:
    inter = ml100k.interactions
    u = list(ml100k.user_ids).index(user)
    off = inter.user_offsets()
    return [str(ml100k.catalog.ids[i]) for i in inter.item[off[u]:off[u + 1]]]


@pytest.mark.parametrize("label", ["itemknn", "bpr", "pop"])
def test_recommend_known_user_matches_the_model(live, fitted, ml100k, label):
    with live.client() as c:
        r = c.post("/v1/recommend", json={"user": "7", "k": 10, "model": label})
    assert r.status_code == 200, r.text
    body = r.json()
    ids, scores = fitted[label].recommend([list(ml100k.user_ids).index("7")], k=10)
    assert [it["id"] for it in body["items"]] == [str(ml100k.catalog.ids[i]) for i in ids[0]]
    np.testing.assert_allclose([it["score"] for it in body["items"]], scores[0], rtol=1e-5)
    assert body["items"][0]["title"] == ml100k.catalog.title(int(ids[0, 0]))


def test_adhoc_history_equals_the_known_user(live, ml100k):
    """A new user sending user 13's history gets exactly user 13's recommendations (item-kNN)."""
    with live.client() as c:
        known = c.post("/v1/recommend", json={"user": "13", "k": 20}).json()
        adhoc = c.post("/v1/recommend", json={"history": ext_history(ml100k, "13"), "k": 20}).json()
        fresh = c.post("/v1/recommend", json={"history": ["50", "181"], "k": 20}).json()
    assert adhoc["items"] == known["items"]
    assert {"50", "181"}.isdisjoint(it["id"] for it in fresh["items"])  # seen items excluded
    assert fresh["items"] != known["items"]


def test_adhoc_history_with_an_llm_ranker_and_candidates(live, ml100k):
    cands = ["1", "50", "100", "181", "258", "300", "313", "1000"]
    hist = ext_history(ml100k, "25")
    with live.client() as c:
        known = c.post("/v1/recommend", json={"user": "25", "k": 8, "candidates": cands, "model": "llm"}).json()
        adhoc = c.post("/v1/recommend", json={"history": hist, "k": 8, "candidates": cands, "model": "llm"}).json()
        keep = c.post("/v1/recommend", json={"user": "25", "k": 8, "candidates": cands, "model": "llm",
                                             "exclude_seen": False}).json()
    assert adhoc == known
    assert len(keep["items"]) == len(cands)  # nothing excluded
    assert {it["id"] for it in known["items"]} == set(cands) - set(hist)


def test_candidate_scores_are_the_models(live, fitted, ml100k):
    cands = ["1", "2", "3", "4", "5"]
    with live.client() as c:
        body = c.post("/v1/recommend", json={"user": "900", "k": 5, "candidates": cands, "exclude_seen": False}).json()
    dense = [ml100k.catalog.lookup(x) for x in cands]
    expect = fitted["itemknn"].score([list(ml100k.user_ids).index("900")], np.array(dense))[0]
    got = {it["id"]: it["score"] for it in body["items"]}
    np.testing.assert_allclose([got[x] for x in cands], expect, rtol=1e-5)
    assert [it["score"] for it in body["items"]] == sorted(got.values(), reverse=True)


@pytest.mark.parametrize(("body", "status", "code", "needle"), [
    ({"k": 5}, 422, "invalid_request", "exactly one of 'user'"),
    ({"user": "1", "history": ["1"]}, 422, "invalid_request", "exactly one of 'user'"),
    ({"user": "1", "k": 0}, 422, "invalid_request", "k: Input should be greater than or equal to 1"),
    ({"user": "1", "k": 5000}, 422, "invalid_request", "above the limit"),
    ({"user": "1", "colour": "red"}, 422, "invalid_request", "colour"),
    ({"user": "no-such-user"}, 404, "unknown_user", "ad-hoc 'history'"),
    ({"history": ["50", "nope1", "nope2"]}, 422, "unknown_item", "2 unknown item id(s) in 'history'"),
    ({"user": "1", "candidates": []}, 422, "invalid_request", "candidates"),
    ({"user": "1", "model": "gpt9"}, 404, "unknown_model", "served: itemknn, bpr, pop, llm"),
    ({"history": ["50"], "model": "bpr"}, 422, "adhoc_unsupported", "one vector per known user"),
    ({"user": "1", "model": "llm"}, 422, "candidates_required", "pass 'candidates'"),
])
def test_invalid_requests_get_clear_4xx_bodies(live, body, status, code, needle):
    with live.client() as c:
        r = c.post("/v1/recommend", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and needle in err["message"] + str(err.get("details")), err


def test_malformed_json_is_a_422(live):
    with live.client() as c:
        r = c.post("/v1/recommend", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_auth_is_required_except_for_health_and_metrics(live):
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": "Basic x"}):
        r = httpx.post(live.url + "/v1/recommend", json={"user": "1"}, headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer" and r.json()["error"]["code"] == "unauthorized"
    assert httpx.get(live.url + "/v1/items/50").status_code == 401
    assert httpx.get(live.url + "/healthz").json() == {"status": "ok", "models": ["itemknn", "bpr", "pop", "llm"]}
    assert httpx.get(live.url + "/metrics").status_code == 200
    assert httpx.get(live.url + "/v1/items/50", headers=AUTH).status_code == 200


def test_token_configuration_errors(monkeypatch, tmp_path):
    from llm4rec.serve.auth import load_tokens, token_ok
    from llm4rec.serve.settings import ServeSettings

    monkeypatch.delenv("LLM4REC_API_TOKENS", raising=False)
    with pytest.raises(ConfigError, match="no token is configured"):
        load_tokens(ServeSettings())
    monkeypatch.setenv("LLM4REC_API_TOKENS", "short")
    with pytest.raises(ConfigError, match="shorter than 16"):
        load_tokens(ServeSettings())
    monkeypatch.setenv("LLM4REC_API_TOKENS", "a" * 20 + ", " + "b" * 20)
    tokens = load_tokens(ServeSettings())
    assert tokens == ["a" * 20, "b" * 20]
    assert token_ok("b" * 20, tokens) and not token_ok("b" * 19, tokens) and not token_ok(None, tokens)
    assert load_tokens(ServeSettings(auth=False, tokens_env="LLM4REC_TEST_UNSET_TOKENS")) == []


def test_items_users_models_and_openapi(live, ml100k):
    with live.client() as c:
        item = c.get("/v1/items/50").json()
        assert item["title"] == "Star Wars" and "Sci-Fi" in item["text"]
        assert c.get("/v1/items/999999").json()["error"]["code"] == "unknown_item"
        user = c.get("/v1/users/1", params={"limit": 5}).json()
        assert [it["id"] for it in user["history"]] == ext_history(ml100k, "1")[-5:]
        models = {m["label"]: m for m in c.get("/v1/models").json()}
        assert models["itemknn"]["adhoc_history"] and not models["bpr"]["adhoc_history"]
        assert models["llm"]["explains"] and not models["itemknn"]["explains"]
        schema = c.get("/openapi.json").json()
    assert {"/v1/recommend", "/v1/explain", "/v1/chat", "/v1/items/{item_id}", "/healthz", "/metrics"} <= set(
        schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "RecommendRequest" in schema["components"]["schemas"]


def test_concurrent_recommends_are_micro_batched(live, fitted, ml100k):
    users = [str(u) for u in range(1, 17)]
    before = metric(live.url, "llm4rec_score_calls_total", model="itemknn")
    batches_before = metric(live.url, "llm4rec_batch_requests_count", model="itemknn")

    async def fire():
        async with httpx.AsyncClient(base_url=live.url, headers=AUTH, timeout=30) as c:
            return await asyncio.gather(*(c.post("/v1/recommend", json={"user": u, "k": 5}) for u in users))

    responses = asyncio.run(fire())
    calls = metric(live.url, "llm4rec_score_calls_total", model="itemknn") - before
    batches = metric(live.url, "llm4rec_batch_requests_count", model="itemknn") - batches_before
    assert all(r.status_code == 200 for r in responses)
    assert calls == batches and calls < len(users) / 2, (calls, batches)  # 16 requests, a few score calls
    ids, _ = fitted["itemknn"].recommend([list(ml100k.user_ids).index(u) for u in users], k=5)
    for r, row in zip(responses, ids, strict=True):  # batching changes nothing in the answers
        assert [it["id"] for it in r.json()["items"]] == [str(ml100k.catalog.ids[i]) for i in row]


def test_batching_off_scores_each_request_alone(server_factory):
    s = server_factory(batching=False)

    async def fire():
        async with httpx.AsyncClient(base_url=s.url, headers=AUTH, timeout=30) as c:
            return await asyncio.gather(*(c.post("/v1/recommend", json={"user": str(u)}) for u in range(1, 9)))

    assert all(r.status_code == 200 for r in asyncio.run(fire()))
    assert metric(s.url, "llm4rec_score_calls_total", model="itemknn") == 8


def test_overload_gets_429_with_retry_after(server_factory):
    s = server_factory(max_in_flight=1, batch_window_ms=800, retry_after_s=3)

    async def fire():
        async with httpx.AsyncClient(base_url=s.url, headers=AUTH, timeout=30) as c:
            first = asyncio.ensure_future(c.post("/v1/recommend", json={"user": "1"}))
            await asyncio.sleep(0.2)  # the first request now waits in its micro-batch window
            second = await c.post("/v1/recommend", json={"user": "2"})
            return await first, second

    first, second = asyncio.run(fire())
    assert first.status_code == 200
    assert second.status_code == 429 and second.headers["retry-after"] == "3"
    assert second.json()["error"]["code"] == "overloaded"
    assert httpx.get(s.url + "/healthz").status_code == 200  # health is never limited
    assert metric(s.url, "llm4rec_rejected_total", reason="overload") == 1


def test_deadline_gives_504(server_factory):
    s = server_factory(deadline_s=0.05, batch_window_ms=500)
    with s.client() as c:
        r = c.post("/v1/recommend", json={"user": "1"})
        assert r.status_code == 504 and r.json()["error"]["code"] == "deadline_exceeded"
        time.sleep(0.6)  # the abandoned job is dropped, the server keeps answering
        assert c.get("/v1/items/1").status_code == 200


def test_explain_cites_the_history(live, ml100k):
    with live.client() as c:
        r = c.post("/v1/explain", json={"user": "1", "item": "181", "model": "llm"})
        assert r.status_code == 200, r.text
        text = r.json()["explanation"]
        assert text.startswith("Because you watched ")
        seen = {ml100k.catalog.title(ml100k.catalog.lookup(i)) for i in ext_history(ml100k, "1")}
        assert any(t in text for t in seen)
        adhoc = c.post("/v1/explain", json={"history": ["50", "172"], "item": "181", "model": "llm"}).json()
        assert "Star Wars" in adhoc["explanation"] and "Empire Strikes Back" in adhoc["explanation"]
        bad = c.post("/v1/explain", json={"user": "1", "item": "181", "model": "itemknn"})
        assert bad.status_code == 422 and "models that can: llm" in bad.json()["error"]["message"]


def test_chat_keeps_state_server_side(live):
    with live.client() as c:
        first = c.post("/v1/chat", json={"message": 'I love "Star Wars" and space adventures'}).json()
        sid = first["session_id"]
        assert first["state"]["mentioned"] == ["50"] and len(first["suggestions"]) == 3
        more = c.post("/v1/chat", json={"session_id": sid, "message": "more"}).json()
        assert more["session_id"] == sid and more["state"]["turns"] == 2
        assert not {s["id"] for s in more["suggestions"]} & {s["id"] for s in first["suggestions"]}
        other = c.post("/v1/chat", json={"message": "comedies please"}).json()
        assert other["session_id"] != sid and other["state"]["turns"] == 1
        gone = c.post("/v1/chat", json={"session_id": "not-a-session", "message": "hi"})
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "unknown_session"


def test_chat_sessions_expire(server_factory):
    s = server_factory(session_ttl_s=0.3)
    with s.client() as c:
        sid = c.post("/v1/chat", json={"message": "westerns"}).json()["session_id"]
        assert c.post("/v1/chat", json={"session_id": sid, "message": "more"}).status_code == 200
        time.sleep(0.5)
        r = c.post("/v1/chat", json={"session_id": sid, "message": "more"})
    assert r.status_code == 404 and "expired" in r.json()["error"]["message"]


@pytest.mark.parametrize("log_text", [False, True])
def test_request_logs_leave_out_user_text_by_default(server_factory, caplog, log_text):
    s = server_factory(log_user_text=log_text)
    secret = "my secret taste for Casablanca"
    with caplog.at_level(logging.INFO, logger="llm4rec.serve.access"), s.client() as c:
        c.post("/v1/chat", json={"message": secret})
        c.post("/v1/recommend", json={"history": ["50", "172"]})
        deadline = time.monotonic() + 30  # the server logs right after it has sent the response (late under load)
        while True:
            records = [r.getMessage() for r in caplog.records if r.name == "llm4rec.serve.access"]
            if any('"route": "/v1/recommend"' in m for m in records) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
    assert any('"route": "/v1/chat"' in m and '"status": 200' in m for m in records), records
    assert any(secret in m for m in records) is log_text
    assert any('"172"' in m for m in records) is log_text
