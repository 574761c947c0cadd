"""The REST API end to end over HTTP (TestClient), with real Redis, Chroma, embedder and checkpointer."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from redis.asyncio import Redis

from companion.runtime.ingest import INGEST_STREAM
from graphs.reflection import archive_store
from memory.association_queue import DEAD_LETTER_STREAM, RETRY_STREAM
from memory.outreach import OUTBOX_STREAM, OutreachStore
from memory.records import MemoryRecord
from memory.short_term import ASSOCIATION_STREAM
from tests.integration.api_helpers import api_client, make_key
from tools.updates import _reading
from tools.utterance import classify_utterance


def _chat(client, auth, user_id: str, message: str, conversation_id: str = "default"):  # type: ignore[no-untyped-def]
    response = client.post(
        "/v1/chat", json={"user_id": user_id, "message": message, "conversation_id": conversation_id}, headers=auth
    )
    assert response.status_code == 200, response.text
    return response.json()


def user_route_probes(
    user_id: str, memory_id: str, raw_id: str = "no-such-submission"
) -> list[tuple[str, str, dict[str, Any] | None]]:
    """One request on every route that reads, writes or deletes ``user_id``'s data (cross-user and cross-tenant)."""
    return [
        ("POST", "/v1/chat", {"user_id": user_id, "message": "what is my PIN?"}),
        ("POST", "/v1/chat/stream", {"user_id": user_id, "message": "what is my PIN?"}),
        ("GET", f"/v1/users/{user_id}/memories", None),
        ("GET", f"/v1/users/{user_id}/memories?q=PIN", None),
        ("GET", f"/v1/users/{user_id}/memories?level=ultrasecret", None),
        ("GET", f"/v1/users/{user_id}/memories/{memory_id}", None),
        ("POST", f"/v1/users/{user_id}/memories", {"text": "my PIN is 1111"}),
        ("PATCH", f"/v1/users/{user_id}/memories/{memory_id}", {"text": "my PIN is 2222"}),
        ("DELETE", f"/v1/users/{user_id}/memories/{memory_id}", None),
        ("GET", f"/v1/users/{user_id}/personality", None),
        ("GET", f"/v1/users/{user_id}/export", None),
        ("GET", f"/v1/users/{user_id}/memories/{memory_id}/versions", None),
        ("GET", f"/v1/users/{user_id}/memories/{memory_id}/relations", None),
        ("GET", f"/v1/users/{user_id}/personality/mood", None),
        ("GET", f"/v1/users/{user_id}/outreach", None),
        ("POST", f"/v1/users/{user_id}/outreach/{user_id}:1767225600/ack", None),
        ("POST", f"/v1/users/{user_id}/raw", {"messages": [{"role": "user", "content": "my PIN is 0000"}]}),
        ("GET", f"/v1/users/{user_id}/raw/{raw_id}", None),
        ("GET", f"/v1/users/{user_id}/processing", None),
        ("GET", f"/v1/users/{user_id}/hierarchy", None),
        ("GET", f"/v1/users/{user_id}/sessions/pin-session", None),
        ("GET", f"/v1/users/{user_id}/stats", None),
        ("POST", f"/v1/users/{user_id}/cleanup?retention_days=0", None),
        ("GET", f"/v1/users/{user_id}/session", None),
        ("GET", f"/v1/users/{user_id}/interactions", None),
        ("GET", f"/v1/users/{user_id}/profile", None),
        ("PATCH", f"/v1/users/{user_id}/profile", {"display_name": "Mallory"}),
        ("GET", f"/v1/users/{user_id}/outreach/preferences", None),
        ("PATCH", f"/v1/users/{user_id}/outreach/preferences", {"opt_out": True}),
        ("POST", f"/v1/users/{user_id}/outreach/decline", None),
        ("POST", f"/v1/users/{user_id}/proactive", {}),
        ("POST", f"/v1/users/{user_id}/reflect", {"tasks": ["consolidate"]}),
        ("GET", f"/v1/users/{user_id}/insights", None),
        ("GET", f"/v1/users/{user_id}/conflicts", None),
        ("POST", f"/v1/users/{user_id}/conflicts/conflict-1/undo", None),
        ("GET", f"/v1/users/{user_id}/archive", None),
        ("POST", f"/v1/users/{user_id}/archive/{memory_id}/restore", None),
        ("DELETE", f"/v1/users/{user_id}", None),
    ]


def test_every_route_with_a_user_in_its_path_is_probed() -> None:
    """A new route of a user's data cannot be added without joining the isolation probes above."""
    from app.main import create_app
    from companion.core.settings import load_settings

    paths = create_app(load_settings(data_dir=Path("/nonexistent-never-started"))).openapi()["paths"]
    probes = [(method, path.split("?")[0]) for method, path, _ in user_route_probes("u-x", "m-x")]
    missing = []
    for template, operations in paths.items():
        if "{user_id}" not in template:
            continue
        pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        for method in operations:
            if not any(m == method.upper() and pattern.match(path) for m, path in probes):
                missing.append(f"{method.upper()} {template}")
    assert missing == []


def test_missing_unknown_and_revoked_keys_get_401_with_a_body(tmp_path: Path, redis_url: str) -> None:
    with api_client(tmp_path, redis_url) as client:
        missing = client.get("/v1/users/k1/memories")
        assert missing.status_code == 401
        assert missing.json()["error"] == "AuthenticationError"
        assert "Authorization: Bearer" in missing.json()["detail"]
        unknown = client.get("/v1/users/k1/memories", headers={"Authorization": "Bearer cmp_notakey"})
        assert unknown.status_code == 401
        assert unknown.json()["detail"] == "unknown or revoked API key"
        assert client.get("/health").status_code == 200  # health and metrics are open


def test_a_user_key_never_reaches_another_users_data_on_any_route(tmp_path: Path, redis_url: str) -> None:
    alice, bob = make_key(redis_url, user_id="probe-alice"), make_key(redis_url, user_id="probe-bob")
    with api_client(tmp_path, redis_url) as client:
        secret = _chat(client, alice, "probe-alice", "My bank PIN is 4921, keep it safe.")
        memory_id = secret["memory_id"]
        own = client.get(f"/v1/users/probe-alice/memories/{memory_id}", headers=alice)
        assert own.status_code == 200 and "4921" in own.json()["text"]
        raw = {"session_id": "pin-session", "messages": [{"role": "user", "content": "My PIN is 4921."}]}
        raw_id = client.post("/v1/users/probe-alice/raw", json=raw, headers=alice).json()["submission_id"]

        probes = [
            *user_route_probes("probe-alice", memory_id, raw_id),
            ("GET", "/v1/admin/users", None),
            ("GET", "/v1/admin/dead-letters", None),
            ("POST", "/v1/admin/dead-letters/replay", {}),
        ]
        for method, path, body in probes:
            response = client.request(method, path, json=body, headers=bob)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"] == "PermissionDeniedError"
            assert "4921" not in response.text

        # Bob's own views never contain Alice's memory, even when asked by its id
        assert client.get(f"/v1/users/probe-bob/memories/{memory_id}", headers=bob).status_code == 404
        assert client.delete(f"/v1/users/probe-bob/memories/{memory_id}", headers=bob).status_code == 404
        assert client.get("/v1/users/probe-bob/memories?q=PIN", headers=bob).json()["memories"] == []
        assert "4921" not in client.get("/v1/users/probe-bob/export", headers=bob).text
        # nor do Bob's ingestion views, even for Alice's submission and session ids
        assert client.get(f"/v1/users/probe-bob/raw/{raw_id}", headers=bob).status_code == 404
        assert client.get("/v1/users/probe-bob/sessions/pin-session", headers=bob).status_code == 404
        assert client.get(f"/v1/users/probe-bob/memories/{memory_id}/versions", headers=bob).status_code == 404
        for view in ("processing", "hierarchy", "stats"):
            assert "4921" not in client.get(f"/v1/users/probe-bob/{view}", headers=bob).text
            assert raw_id not in client.get(f"/v1/users/probe-bob/{view}", headers=bob).text
        # and Alice's memory is still there after all of it
        assert client.get(f"/v1/users/probe-alice/memories/{memory_id}", headers=alice).status_code == 200


def test_a_key_of_one_tenant_never_reaches_another_tenants_users_on_any_route(tmp_path: Path, redis_url: str) -> None:
    acme = make_key(redis_url, user_id="ten-alice", tenant="acme")
    # the same user id string, from other tenants: the default one, another tenant's user key and its admin
    intruders = {
        "default user key": make_key(redis_url, user_id="ten-alice"),
        "globex user key": make_key(redis_url, user_id="ten-alice", tenant="globex"),
        "globex admin key": make_key(redis_url, admin=True, tenant="globex", clearance="ultrasecret"),
    }
    operator = make_key(redis_url, admin=True, clearance="ultrasecret")
    with api_client(tmp_path, redis_url) as client:
        memory_id = _chat(client, acme, "ten-alice", "My bank PIN is 4921, keep it safe.")["memory_id"]
        for who, auth in intruders.items():
            for method, path, body in user_route_probes("ten-alice", memory_id):
                response = client.request(method, path, json=body, headers=auth)
                assert response.status_code == 403, (who, method, path, response.text)
                assert response.json()["error"] == "PermissionDeniedError"
                assert "belongs to another tenant" in response.json()["detail"]
                assert "4921" not in response.text

        # A tenant admin sees its own tenant's users only; a new user id is claimed by the tenant that reaches it.
        _chat(client, intruders["globex admin key"], "ten-bob", "I like jazz.")
        assert client.get("/v1/admin/users", headers=intruders["globex admin key"]).json() == {
            "users": ["ten-bob"],
            "total": 1,
            "next_cursor": None,
        }
        acme_admin = make_key(redis_url, admin=True, tenant="acme")
        assert client.get("/v1/users/ten-bob/memories", headers=acme_admin).status_code == 403
        assert client.get("/v1/admin/users", headers=acme_admin).json()["users"] == ["ten-alice"]
        # the queues' dead letters span every tenant: an operator's, never a tenant admin's
        for method, path, body in (
            ("GET", "/v1/admin/dead-letters", None),
            ("POST", "/v1/admin/dead-letters/replay", {}),
        ):
            denied = client.request(method, path, json=body, headers=acme_admin)
            assert denied.status_code == 403 and "operator key" in denied.json()["detail"], denied.text
        # the operator key (no tenant) still reaches everyone, as admin keys did before tenants
        assert client.get("/v1/admin/users", headers=operator).json()["users"] == ["ten-alice", "ten-bob"]
        assert client.get("/v1/users/ten-bob/memories", headers=operator).json()["total"] == 1

        # and Alice's memory is untouched by every probe
        own = client.get(f"/v1/users/ten-alice/memories/{memory_id}", headers=acme)
        assert own.status_code == 200 and "4921" in own.json()["text"]


def test_default_tenant_keys_keep_todays_behaviour(tmp_path: Path, redis_url: str) -> None:
    own, admin = make_key(redis_url, user_id="dflt-cy"), make_key(redis_url, admin=True)
    tenant_admin = make_key(redis_url, admin=True, tenant="acme")
    with api_client(tmp_path, redis_url) as client:
        _chat(client, own, "dflt-cy", "I like jazz.")
        assert client.get("/v1/users/dflt-cy/memories", headers=own).json()["total"] == 1
        assert client.get("/v1/admin/users", headers=admin).json()["users"] == ["dflt-cy"]
        # a default-tenant user cannot be claimed by a tenant
        assert client.get("/v1/users/dflt-cy/memories", headers=tenant_admin).status_code == 403
        assert client.get("/v1/admin/users", headers=tenant_admin).json() == {
            "users": [],
            "total": 0,
            "next_cursor": None,
        }


def test_admin_key_reaches_admin_routes_and_any_user(tmp_path: Path, redis_url: str) -> None:
    admin = make_key(redis_url, admin=True)
    with api_client(tmp_path, redis_url) as client:
        _chat(client, admin, "adm-carol", "I play the cello.")
        users = client.get("/v1/admin/users", headers=admin)
        assert users.status_code == 200
        assert users.json() == {"users": ["adm-carol"], "total": 1, "next_cursor": None}
        assert client.get("/v1/users/adm-carol/memories", headers=admin).json()["total"] == 1


def test_memories_list_search_get_and_delete(tmp_path: Path, redis_url: str) -> None:
    auth = make_key(redis_url, user_id="mem-dana")
    with api_client(tmp_path, redis_url) as client:
        for message in ("I adopted a cat called Miso.", "My sister lives in Lisbon.", "I run every Sunday morning."):
            _chat(client, auth, "mem-dana", message)
        listing = client.get("/v1/users/mem-dana/memories?limit=2", headers=auth).json()
        assert listing["total"] == 3 and len(listing["memories"]) == 2
        assert listing["memories"][0]["text"] == "I run every Sunday morning."  # newest first
        search = client.get("/v1/users/mem-dana/memories", params={"q": "my pet", "limit": 1}, headers=auth).json()
        assert [hit["memory"]["text"] for hit in search["hits"]] == ["I adopted a cat called Miso."]
        memory_id = search["hits"][0]["memory"]["id"]
        assert client.delete(f"/v1/users/mem-dana/memories/{memory_id}", headers=auth).json() == {"deleted": True}
        assert client.get(f"/v1/users/mem-dana/memories/{memory_id}", headers=auth).status_code == 404
        assert client.get("/v1/users/mem-dana/memories", headers=auth).json()["total"] == 2


def test_streamed_turn_sends_tokens_then_the_full_response(tmp_path: Path, redis_url: str) -> None:
    auth = make_key(redis_url, user_id="sse-erin")
    with api_client(tmp_path, redis_url) as client:
        _chat(client, auth, "sse-erin", "My favourite colour is teal.")
        with client.stream(
            "POST", "/v1/chat/stream", json={"user_id": "sse-erin", "message": "Which colour do I like?"}, headers=auth
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            text = "".join(response.iter_text())
        events = [block for block in text.strip().split("\n\n") if block]
        kinds = [block.split("\n")[0].removeprefix("event: ") for block in events]
        assert kinds[0] == "token" and kinds[-1] == "done"
        done = json.loads(events[-1].split("data: ", 1)[1])
        assert any("teal" in memory["text"] for memory in done["memories"])
        assert done["memory_id"]
        # validation and rate limits still answer before the stream starts
        blank = client.post("/v1/chat/stream", json={"user_id": "sse-erin", "message": " "}, headers=auth)
        assert blank.status_code == 422, blank.text
        too_long = client.post("/v1/chat/stream", json={"user_id": "sse-erin", "message": "x" * 4001}, headers=auth)
        assert too_long.status_code == 400 and "limit is 4000" in too_long.json()["detail"]  # raised inside the graph


def test_health_detailed_and_prometheus_metrics(tmp_path: Path, redis_url: str) -> None:
    auth = make_key(redis_url, user_id="met-fay")
    with api_client(tmp_path, redis_url) as client:
        _chat(client, auth, "met-fay", "Hello there.")
        detailed = client.get("/health/detailed").json()
        assert detailed["status"] == "ok"
        assert detailed["redis"]["ok"] and detailed["chroma"]["ok"]
        assert detailed["association_queue_depth"] >= 1
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        body = metrics.text
        assert 'companion_http_requests_total{method="POST",route="/v1/chat",status="200"} 1.0' in body
        assert 'companion_store_up{store="redis"} 1.0' in body
        assert "companion_association_queue_depth" in body


def test_every_turn_joins_the_users_interaction_log_without_its_words(tmp_path: Path, redis_url: str) -> None:
    user = "log-ivy"
    auth = make_key(redis_url, user_id=user)
    with api_client(tmp_path, redis_url) as client:
        _chat(client, auth, user, "My best friend died yesterday and I can't stop crying.")
        _chat(client, auth, user, "What's the weather like where you are?", conversation_id="c2")
        log = client.get(f"/v1/users/{user}/interactions", headers=auth)
        assert log.status_code == 200, log.text
        grief, weather = log.json()["interactions"][1], log.json()["interactions"][0]  # newest first
        assert (grief["conversation_id"], weather["conversation_id"]) == ("default", "c2")
        assert grief["emotion"] == "sadness" and grief["intensity"] > 30 and grief["mood_rule"] == "sorry_for"
        assert grief["pad_after"]["pleasure"] < grief["pad_before"]["pleasure"]  # the companion felt for them
        assert grief["responder"] == "offline" and grief["response_ms"] > 0 and not grief["proactive"]
        assert weather["emotion"] != "sadness" and weather["sensitivity"] and weather["injection"] == "none"
        assert "crying" not in log.text and "weather" not in log.text  # numbers and labels, never the words
        assert len(client.get(f"/v1/users/{user}/interactions?limit=1", headers=auth).json()["interactions"]) == 1
        assert client.get(f"/v1/users/{user}/interactions?limit=0", headers=auth).status_code == 422
        exported = client.get(f"/v1/users/{user}/export", headers=auth).json()
        assert [i["turn_id"] for i in exported["interactions"]] == [weather["turn_id"], grief["turn_id"]]
        assert client.delete(f"/v1/users/{user}", headers=auth).status_code == 200
        admin = make_key(redis_url, admin=True)
        assert client.get(f"/v1/users/{user}/interactions", headers=admin).json()["interactions"] == []


def test_a_profile_names_the_user_sets_their_language_and_withdrawn_consent_stops_the_log(
    tmp_path: Path, redis_url: str
) -> None:
    user = "profile-lena"
    auth = make_key(redis_url, user_id=user)
    with api_client(tmp_path, redis_url) as client:
        url = f"/v1/users/{user}/profile"
        assert client.get(url, headers=auth).json() == {
            "user_id": user,
            "display_name": "",
            "language": "en",
            "analytics_consent": True,
        }
        changed = client.patch(url, json={"display_name": " Lena ", "language": "de"}, headers=auth).json()
        assert (changed["display_name"], changed["language"], changed["analytics_consent"]) == ("Lena", "de", True)
        for bad in ({"language": "German"}, {"display_name": "x" * 101}, {"analytics_consent": "no"}, {"age": 3}):
            assert client.patch(url, json=bad, headers=auth).status_code == 422, bad
        _chat(client, auth, user, "Ich habe heute meinen Führerschein bestanden!")
        assert len(client.get(f"/v1/users/{user}/interactions", headers=auth).json()["interactions"]) == 1
        withdrawn = client.patch(url, json={"analytics_consent": False}, headers=auth).json()
        assert withdrawn["analytics_consent"] is False and withdrawn["display_name"] == "Lena"
        assert client.get(f"/v1/users/{user}/interactions", headers=auth).json()["interactions"] == []  # deleted
        _chat(client, auth, user, "Und morgen fahre ich zum ersten Mal allein.")
        assert client.get(f"/v1/users/{user}/interactions", headers=auth).json()["interactions"] == []  # not logged
        assert client.get(f"/v1/users/{user}/export", headers=auth).json()["profile"]["language"] == "de"


@pytest.mark.parametrize("erase_as", ["user", "admin"])
def test_export_then_erase_leaves_nothing_of_the_user(tmp_path: Path, redis_url: str, erase_as: str) -> None:
    user = f"gone-{erase_as}"
    own, other = make_key(redis_url, user_id=user), make_key(redis_url, user_id="stays-put")
    admin = make_key(redis_url, admin=True)
    with api_client(tmp_path, redis_url) as client:
        _chat(client, own, user, "My passport number is X1234567.")
        _chat(client, own, user, "I live at 12 Elm Street.", conversation_id="c:2")
        _chat(client, other, "stays-put", "I like jazz.")

        export = client.get(f"/v1/users/{user}/export", headers=own).json()
        assert {m["text"] for m in export["memories"]} == {
            "My passport number is X1234567.",
            "I live at 12 Elm Street.",
        }
        assert set(export["short_term"]["conversations"]) == {"default", "c:2"}
        assert {t["thread_id"] for t in export["checkpoint_threads"]} == {f"{user}:default", f"{user}:c%3A2"}
        assert len(export["queued_messages"]) == 2
        assert len(export["api_keys"]) == 1 and "cmp_" not in json.dumps(export["api_keys"])
        assert [state["persona"] for state in export["personality"]] == ["default"]

        # what reflection and outreach leave behind: an archived (faded) memory and an undelivered outreach
        services = client.app.state.services  # type: ignore[attr-defined]
        faded = MemoryRecord(id=f"faded-{erase_as}", user_id=user, text="An old, faded memory.")
        archive_store(services.long_term).add(user, [faded], np.full((1, 384), 0.05, dtype=np.float32))
        asyncio.run(_xadd(redis_url, OUTBOX_STREAM, {"user_id": user, "text": "Thinking of you!"}))
        # what failed for good, a dead letter on each queue, and what waits for a retry
        for dead_stream in (DEAD_LETTER_STREAM, f"{INGEST_STREAM}:dead"):
            asyncio.run(_xadd(redis_url, dead_stream, {"user_id": user, "error": "boom", "memory_id": "m1"}))
        retry = {"user_id": user, "memory_id": "m2", "attempts": "1", "due_at": "1e12", "error": "boom"}
        asyncio.run(_xadd(redis_url, RETRY_STREAM, retry))
        assert len(client.get(f"/v1/users/{user}/export", headers=own).json()["queued_messages"]) == 3

        def lexical_index_bytes() -> bytes:  # the lexical index's files (one per user) and their write-ahead logs
            return b"".join(f.read_bytes() for f in (tmp_path / "lexical").iterdir())

        assert b"Elm Street" in lexical_index_bytes()  # (the passport number is ultrasecret: sealed, never indexed)
        assert classify_utterance.cache_info().currsize > 0  # the turns' texts were read and cached
        erased = client.delete(f"/v1/users/{user}", headers=own if erase_as == "user" else admin)
        assert erased.status_code == 200, erased.text
        assert classify_utterance.cache_info().currsize == 0 and _reading.cache_info().currsize == 0
        report = erased.json()
        assert report["memories"] == 2 and report["checkpoint_threads"] == 2
        assert report["api_keys"] == 1 and report["personality_states"] == 1 and report["archived_memories"] == 1
        # two turns on the association queue, one deferred retry, one outreach in the outbox, two dead letters
        assert report["queued_messages"] == 6
        # the user's key is revoked with the rest
        assert client.get(f"/v1/users/{user}/export", headers=own).status_code == 401
        after = client.get(f"/v1/users/{user}/export", headers=admin).json()
        assert after["memories"] == [] and after["checkpoint_threads"] == [] and after["queued_messages"] == []
        assert after["short_term"]["conversations"] == {} and after["personality"] == []
        assert client.get("/v1/users/stays-put/memories", headers=other).json()["total"] == 1
        assert not any(word in lexical_index_bytes().lower() for word in (b"x1234567", b"elm street", b"passport"))

    # independent of the app's own readers: look into every store directly
    async def redis_leftovers() -> tuple[list[bytes], list[object]]:
        redis = Redis.from_url(redis_url)
        try:
            keys = [key async for key in redis.scan_iter(match=f"*{user}*")]
            streams = (
                ASSOCIATION_STREAM,
                RETRY_STREAM,
                DEAD_LETTER_STREAM,
                INGEST_STREAM,
                f"{INGEST_STREAM}:dead",
                OUTBOX_STREAM,
            )
            entries = [
                e for stream in streams for e in await redis.xrange(stream) if e[1].get(b"user_id") == user.encode()
            ]
            return keys, entries
        finally:
            await redis.aclose()

    keys, entries = asyncio.run(redis_leftovers())
    assert keys == [] and entries == []
    with sqlite3.connect(tmp_path / "checkpoints.sqlite") as db:
        threads = {row[0] for row in db.execute("SELECT DISTINCT thread_id FROM checkpoints")}
        writes = {row[0] for row in db.execute("SELECT DISTINCT thread_id FROM writes")}
    assert not any(thread.startswith(user) for thread in threads | writes)
    assert "stays-put:default" in threads

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    for collection in chroma.list_collections():
        assert collection.get(where={"user_id": user})["ids"] == []


def test_unknown_or_repeated_query_parameters_and_wrong_methods_are_4xx(tmp_path: Path, redis_url: str) -> None:
    auth = make_key(redis_url, user_id="qp-hal")
    with api_client(tmp_path, redis_url) as client:
        typo = client.get("/v1/users/qp-hal/memories?query=tea", headers=auth)
        assert typo.status_code == 422
        assert typo.json() == {"error": "ValidationError", "detail": "query.query: unknown query parameter"}
        twice = client.get("/v1/users/qp-hal/memories?q=tea&q=cats", headers=auth)
        assert twice.status_code == 422 and twice.json()["detail"] == "query.q: given more than once"
        wrong = client.put("/v1/users/qp-hal/memories/abc", headers=auth)
        assert wrong.status_code == 405
        assert wrong.headers["Allow"] == "DELETE, GET, PATCH"
        assert client.get("/v1/users/qp-hal/memories?limit=0", headers=auth).status_code == 422
        huge = client.post("/v1/chat", json={"user_id": "qp-hal", "message": "x" * 100_001}, headers=auth)
        assert huge.status_code == 422 and "at most 100000 characters" in huge.json()["detail"]


def test_personality_shows_the_mood_a_message_moved_and_only_to_its_user(tmp_path: Path, redis_url: str) -> None:
    own, other = make_key(redis_url, user_id="pers-ann"), make_key(redis_url, user_id="pers-bob")
    with api_client(tmp_path, redis_url) as client:
        before = client.get("/v1/users/pers-ann/personality", headers=own)
        assert before.status_code == 200, before.text
        assert before.json()["source"] == "new" and before.json()["interactions"] == 0
        _chat(client, own, "pers-ann", "You are wonderful, thank you so much for listening to me!")
        after = client.get("/v1/users/pers-ann/personality?changes=5", headers=own).json()
        assert after["interactions"] == 1 and after["source"] in {"redis", "chroma"}
        assert after["recent_changes"], "the compliment moved the mood and the change is recorded with its cause"
        assert after["mood"]["pleasure"] > before.json()["mood"]["pleasure"]
        assert before.json()["satisfaction_patterns"] == {}
        # the compliment met the social and validation needs, counted under its interaction kind
        assert after["satisfaction_patterns"]["validation"] == {"compliment": 1}
        assert after["satisfaction_patterns"]["social"] == {"compliment": 1}
        assert client.get("/v1/users/pers-ann/personality", headers=other).status_code == 403
        assert client.get("/v1/users/pers-ann/personality?changes=0", headers=own).status_code == 422


async def _xadd(redis_url: str, stream: str, fields: dict[str, str]) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await redis.xadd(stream, fields)  # type: ignore[arg-type]
    finally:
        await redis.aclose()


def test_outreach_is_listed_until_acknowledged_and_only_to_its_user(tmp_path: Path, redis_url: str) -> None:
    own, other = make_key(redis_url, user_id="out-ivy"), make_key(redis_url, user_id="out-jon")

    async def send(user_id: str, outreach_id: str, text: str) -> None:
        redis = Redis.from_url(redis_url)
        try:
            entry = {
                "outreach_id": outreach_id,
                "user_id": user_id,
                "persona": "default",
                "text": text,
                "trigger": "need_urgency",
                "score": "0.71",
                "reasons": {"needs": 0.9},
                "created_at": "1.0",
            }
            await OutreachStore(redis).send(user_id, entry, now=time.time())
        finally:
            await redis.aclose()

    asyncio.run(send("out-ivy", "out-ivy:1", "Hey! I was thinking about you."))
    asyncio.run(send("out-ivy", "out-ivy:2", "How did the interview go?"))
    asyncio.run(send("out-jon", "out-jon:1", "Jon's own message."))
    with api_client(tmp_path, redis_url) as client:
        listing = client.get("/v1/users/out-ivy/outreach", headers=own)
        assert listing.status_code == 200, listing.text
        page = listing.json()
        assert page["total"] == 2 and [o["outreach_id"] for o in page["outreach"]] == ["out-ivy:1", "out-ivy:2"]
        assert page["outreach"][0]["score"] == 0.71 and page["outreach"][0]["reasons"] == {"needs": 0.9}
        assert "Jon" not in listing.text

        ack = client.post("/v1/users/out-ivy/outreach/out-ivy:1/ack", headers=own)
        assert ack.status_code == 200 and ack.json()["delivered"] is True
        again = client.post("/v1/users/out-ivy/outreach/out-ivy:1/ack", headers=own)  # idempotent
        assert again.json()["delivered_at"] == ack.json()["delivered_at"]
        after = client.get("/v1/users/out-ivy/outreach", headers=own).json()
        assert [o["outreach_id"] for o in after["outreach"]] == ["out-ivy:2"]

        # another user's outreach is not found through one's own path, nor reachable through theirs
        assert client.post("/v1/users/out-ivy/outreach/out-jon:1/ack", headers=own).status_code == 404
        assert client.post("/v1/users/out-ivy/outreach/nope/ack", headers=own).status_code == 404
        assert client.get("/v1/users/out-jon/outreach", headers=own).status_code == 403
        assert client.get("/v1/users/out-jon/outreach", headers=other).json()["total"] == 1
