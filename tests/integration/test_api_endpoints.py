"""Ingestion, memory versions and relations, mood history, dead letters and worker health, over HTTP.

Real Redis, Chroma, embedder and detector; the worker runs in the app's own event loop (``client.portal``) over
the app's services, exactly as ``companion worker --run-once`` would.
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path
from typing import Any

import redis
from fastapi.testclient import TestClient

from companion.runtime.ingest import process_queued
from memory.association_queue import WORKERS_KEY, AssociationQueue
from memory.links import Relation, Version
from memory.records import MemoryRecord
from tests.integration.api_helpers import api_client, make_key

SESSION = [
    {"role": "user", "content": "I finally finished my first marathon today!"},
    {"role": "assistant", "content": "That is wonderful news!"},
    {"role": "user", "content": "My knee hurts a lot though, I'm worried."},
    {"role": "user", "content": "My sister Ana ran it with me."},
]


def _services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def _run_worker(client: TestClient) -> dict[str, Any]:
    """One ``--run-once`` of the worker in the app's loop, with its heartbeat."""
    services = _services(client)
    result = client.portal.call(process_queued, services)  # type: ignore[union-attr]
    beat = functools.partial(AssociationQueue(services.redis).heartbeat, "test-worker", processed=1, ttl=60)
    client.portal.call(beat)  # type: ignore[union-attr]
    return result.to_dict()


def test_a_raw_session_is_queued_processed_and_read_back_as_a_hierarchy(tmp_path: Path, redis_url: str) -> None:
    user = "ing-api-rosa"
    auth = make_key(redis_url, user_id=user)
    with api_client(tmp_path, redis_url) as client:
        submitted = client.post(
            f"/v1/users/{user}/raw", json={"session_id": "marathon", "messages": SESSION}, headers=auth
        )
        assert submitted.status_code == 202, submitted.text
        body = submitted.json()
        assert body["status"] == "queued" and body["messages"] == 3 and body["session_id"] == "marathon"
        assert body["queue_position"] >= 1
        submission_id = body["submission_id"]
        queued = client.get(f"/v1/users/{user}/processing", headers=auth).json()
        assert queued["ingest_queue"]["queued"] >= 1
        assert [s["submission_id"] for s in queued["submissions"]] == [submission_id]

        _run_worker(client)

        status = client.get(f"/v1/users/{user}/raw/{submission_id}", headers=auth).json()
        assert status["status"] == "done" and status["memories"] == 3 and status["finished_at"] >= status["queued_at"]
        processing = client.get(f"/v1/users/{user}/processing", headers=auth).json()
        assert processing["worker_alive"] and processing["workers"][0]["consumer"] == "test-worker"

        tree = client.get(f"/v1/users/{user}/hierarchy", headers=auth).json()
        (session,) = tree["sessions"]
        assert session["session_id"] == "marathon" and session["summary"]["memory_count"] == 3
        assert [m["text"] for m in session["memories"]] == [m["content"] for m in SESSION if m["role"] == "user"]
        assert session["raw"][0]["submission_id"] == submission_id
        only_raw = client.get(f"/v1/users/{user}/hierarchy", params={"memory_type": "raw"}, headers=auth).json()
        assert only_raw["sessions"][0]["memories"] is None and only_raw["sessions"][0]["raw"]
        future = client.get(
            f"/v1/users/{user}/hierarchy", params={"start_date": "2999-01-01T00:00:00Z"}, headers=auth
        ).json()
        assert future["sessions"][0]["memories"] == [] and future["sessions"][0]["summary"] is None

        detail = client.get(f"/v1/users/{user}/sessions/marathon", headers=auth).json()
        assert detail["session"]["summary"]["text"] and detail["submissions"][0]["submission_id"] == submission_id
        assert client.get(f"/v1/users/{user}/sessions/nope", headers=auth).status_code == 404

        stats = client.get(f"/v1/users/{user}/stats", headers=auth).json()
        assert stats["memories"] >= 3 and stats["summaries"] == 1 and stats["raw_transcripts"] == 1
        assert stats["submissions"] == {"queued": 0, "processing": 0, "done": 1, "failed": 0}
        assert stats["ingested_messages"] == 3

        kept = client.post(f"/v1/users/{user}/cleanup", headers=auth).json()  # 30 days: the transcript is new
        assert kept == {"user_id": user, "removed_raw_transcripts": 0, "retention_days": 30.0}
        removed = client.post(f"/v1/users/{user}/cleanup", params={"retention_days": 0}, headers=auth).json()
        assert removed["removed_raw_transcripts"] == 1
        assert client.get(f"/v1/users/{user}/stats", headers=auth).json()["raw_transcripts"] == 0
        # the memories and the summary stay; only the raw transcript went
        assert client.get(f"/v1/users/{user}/sessions/marathon", headers=auth).json()["session"]["summary"]


def test_bad_sessions_get_a_4xx_naming_the_problem(tmp_path: Path, redis_url: str) -> None:
    user = "ing-api-bad"
    auth = make_key(redis_url, user_id=user)
    with api_client(tmp_path, redis_url) as client:
        url = f"/v1/users/{user}/raw"
        assert client.post(url, json={}, headers=auth).status_code == 422
        assert client.post(url, json={"messages": []}, headers=auth).status_code == 422
        bad_role = client.post(url, json={"messages": [{"role": "system", "content": "x"}]}, headers=auth)
        assert bad_role.status_code == 422 and "role" in bad_role.json()["detail"]
        only_assistant = client.post(url, json={"messages": [SESSION[1]]}, headers=auth)
        assert only_assistant.status_code == 422 and "no user message" in only_assistant.json()["detail"]
        blank = client.post(url, json={"messages": [{"role": "user", "content": "  "}]}, headers=auth)
        assert blank.status_code == 422
        # a time is a JSON number and skip_invalid a JSON boolean: no true/false/"…" for one, no 0/1 for the other
        for ts in (False, True, "1700000000"):
            message = {"role": "user", "content": "Hello", "ts": ts}
            assert client.post(url, json={"messages": [message]}, headers=auth).status_code == 422, ts
        assert client.post(url, json={"messages": [SESSION[0]], "skip_invalid": 0}, headers=auth).status_code == 422
        long_one = {"role": "user", "content": "x" * 4001}
        rejected = client.post(url, json={"messages": [SESSION[0], long_one]}, headers=auth)
        assert rejected.status_code == 400
        detail = rejected.json()["detail"]
        assert "message 2: content longer than 4000" in detail and '"skip_invalid": true' in detail
        assert client.get(f"/v1/users/{user}/processing", headers=auth).json()["submissions"] == []  # nothing kept
        skipped = client.post(url, json={"messages": [SESSION[0], long_one], "skip_invalid": True}, headers=auth)
        assert skipped.status_code == 202 and skipped.json()["skipped_lines"] == [2] and skipped.json()["messages"] == 1
        assert client.get(f"/v1/users/{user}/raw/0123abc", headers=auth).status_code == 404


def test_the_seeds_session_data_text_metadata_and_processing_estimate(tmp_path: Path, redis_url: str) -> None:
    user = "ing-api-seed"
    auth = make_key(redis_url, user_id=user)
    text = "User: I prefer window seats.\nAssistant: Noted!\nUser: And I always fly with my cello,\nso two seats."
    metadata = {"session_type": "travel_planning", "rating": 5, "reviewed": False}
    with redis.Redis.from_url(redis_url) as plain:  # no worker heartbeat left by an earlier test
        stale = list(plain.scan_iter(match=f"{WORKERS_KEY}*"))
        if stale:
            plain.delete(*stale)
    with api_client(tmp_path, redis_url) as client:
        url = f"/v1/users/{user}/raw"
        waiting = client.post(url, json={"session_data": text, "metadata": metadata}, headers=auth)
        assert waiting.status_code == 202, waiting.text
        body = waiting.json()
        assert body["messages"] == 2 and body["metadata"] == metadata
        # no worker has beaten yet: nothing would process it, and the answer says so instead of guessing
        assert body["estimated_processing_seconds"] is None and "no worker" in body["estimated_processing_time"]
        _run_worker(client)
        status = client.get(f"{url}/{body['submission_id']}", headers=auth).json()
        assert status["status"] == "done" and status["metadata"] == metadata
        tree = client.get(f"/v1/users/{user}/hierarchy", params={"memory_type": "discrete"}, headers=auth).json()
        assert [m["text"] for m in tree["sessions"][0]["memories"]] == [
            "I prefer window seats.",
            "And I always fly with my cello,\nso two seats.",  # an unlabelled line continues its message
        ]
        later = client.post(url, json={"session_data": "User: Aisle seats now, actually."}, headers=auth).json()
        assert later["estimated_processing_seconds"] > 0 and later["estimated_processing_time"] in {
            "under a minute",
            "about 1 minutes",
        } | {f"about {n} minutes" for n in range(2, 10)}
        # one-line errors: both forms, neither, no speaker, no user line, too many metadata keys
        both = client.post(url, json={"session_data": text, "messages": SESSION}, headers=auth)
        assert both.status_code == 422 and "one of the two" in both.json()["detail"]
        assert client.post(url, json={"metadata": metadata}, headers=auth).status_code == 422
        unlabelled = client.post(url, json={"session_data": "hello there"}, headers=auth)
        assert unlabelled.status_code == 400 and "line 1 has no speaker" in unlabelled.json()["detail"]
        assistant_only = client.post(url, json={"session_data": "Assistant: hi"}, headers=auth)
        assert assistant_only.status_code == 400 and "no user message" in assistant_only.json()["detail"]
        nul = client.post(url, json={"session_data": "User: a\u0000b"}, headers=auth)
        assert nul.status_code == 400, nul.text
        crowded = {f"k{i}": i for i in range(21)}
        assert client.post(url, json={"session_data": text, "metadata": crowded}, headers=auth).status_code == 422


def test_memory_versions_and_relations_read_back_with_their_causes(tmp_path: Path, redis_url: str) -> None:
    user = "links-api-tom"
    auth = make_key(redis_url, user_id=user)
    with api_client(tmp_path, redis_url) as client:
        services = _services(client)
        texts = {"m-job": "Tom works as a nurse in Porto.", "m-cause": "I got promoted to head nurse!"}
        records = [MemoryRecord(id=i, user_id=user, text=t, version=2 if i == "m-job" else 1) for i, t in texts.items()]
        services.long_term.upsert(user, records, services.embedder.embed(list(texts.values())))
        services.links.write_association(
            user,
            versions=[
                Version("m-job", 1, "Tom works as a nurse.", "m-first", "I work as a nurse.", 1.0),
                Version("m-job", 2, texts["m-job"], "m-cause", texts["m-cause"], 2.0),
            ],
            relations=[
                Relation("m-job", "m-cause", 80.0, "same job", "m-cause", 2.0),
                Relation("m-job", "m-gone", 40.0, "a deleted neighbour", "m-cause", 2.0),
            ],
        )
        versions = client.get(f"/v1/users/{user}/memories/m-job/versions", headers=auth).json()
        assert versions["current_version"] == 2
        assert [(v["version"], v["caused_by"]) for v in versions["versions"]] == [(1, "m-first"), (2, "m-cause")]
        assert versions["versions"][1]["cause_text"] == texts["m-cause"]
        relations = client.get(f"/v1/users/{user}/memories/m-job/relations", headers=auth).json()["relations"]
        assert [(r["to_id"], r["to_text"], r["strength"]) for r in relations] == [
            ("m-cause", texts["m-cause"], 80.0),
            ("m-gone", None, 40.0),
        ]
        plain = client.get(f"/v1/users/{user}/memories/m-cause/versions", headers=auth).json()
        assert plain["versions"] == [] and plain["current_version"] == 1
        for route in ("versions", "relations"):
            missing = client.get(f"/v1/users/{user}/memories/nothing/{route}", headers=auth)
            assert missing.status_code == 404 and missing.json()["error"] == "NotFoundError"


def test_mood_history_lists_recorded_changes_with_rule_and_cause(tmp_path: Path, redis_url: str) -> None:
    user = "mood-api-uma"
    auth = make_key(redis_url, user_id=user)
    with api_client(tmp_path, redis_url) as client:
        empty = client.get(f"/v1/users/{user}/personality/mood", headers=auth).json()
        assert empty["source"] == "new" and empty["changes"] == []
        for message in ("Thank you, you helped me so much!", "I failed my driving test again."):
            assert client.post("/v1/chat", json={"user_id": user, "message": message}, headers=auth).status_code == 200
        history = client.get(f"/v1/users/{user}/personality/mood", headers=auth).json()
        assert [c["rule"] for c in history["changes"]] == ["failure", "compliment"]  # newest first
        compliment = history["changes"][1]
        assert compliment["delta"]["pleasure"] > 0 and compliment["cause"]
        assert compliment["after"]["pleasure"] == round(compliment["before"]["pleasure"] + 0.3, 4)
        assert history["kept"] == 50
        only = client.get(f"/v1/users/{user}/personality/mood", params={"rule": "failure"}, headers=auth).json()
        assert [c["rule"] for c in only["changes"]] == ["failure"]
        assert len(client.get(f"/v1/users/{user}/personality/mood?limit=1", headers=auth).json()["changes"]) == 1


def test_dead_letters_are_listed_and_replayed_by_admins_only(tmp_path: Path, redis_url: str) -> None:
    user = "dead-api-vic"
    own, admin = make_key(redis_url, user_id=user), make_key(redis_url, admin=True)
    with api_client(tmp_path, redis_url) as client:
        submitted = client.post(f"/v1/users/{user}/raw", json={"messages": SESSION}, headers=own).json()
        # the transcript vanishes before the worker gets to it: the submission fails and is dead-lettered
        _services(client).links.delete_raw(user, [submitted["submission_id"]])
        _run_worker(client)
        failed = client.get(f"/v1/users/{user}/raw/{submitted['submission_id']}", headers=own).json()
        assert failed["status"] == "failed" and "is gone" in failed["error"]

        listing = client.get("/v1/admin/dead-letters", params={"queue": "ingest"}, headers=admin)
        assert listing.status_code == 200
        mine = [d for d in listing.json()["dead_letters"] if d["user_id"] == user]
        assert len(mine) == 1 and "is gone" in mine[0]["error"]
        assert mine[0]["fields"]["submission_id"] == submitted["submission_id"]
        health = client.get("/health/detailed").json()
        assert health["queues"]["ingest"]["dead"] >= 1 and health["worker"]["status"] == "alive"
        assert health["worker"]["last_beat_age_seconds"] < 60

        assert client.get("/v1/admin/dead-letters", headers=own).status_code == 403
        assert client.post("/v1/admin/dead-letters/replay", json={}, headers=own).status_code == 403
        unknown = client.post("/v1/admin/dead-letters/replay", json={"queue": "ingest", "ids": ["1-1"]}, headers=admin)
        assert unknown.status_code == 404
        replayed = client.post(
            "/v1/admin/dead-letters/replay", json={"queue": "ingest", "ids": [mine[0]["id"]]}, headers=admin
        )
        assert replayed.json() == {"queue": "ingest", "replayed": 1}
        after = client.get("/v1/admin/dead-letters", params={"queue": "ingest"}, headers=admin).json()
        assert all(d["id"] != mine[0]["id"] for d in after["dead_letters"])
        assert client.get(f"/v1/users/{user}/processing", headers=own).json()["ingest_queue"]["queued"] >= 1


def test_health_detailed_and_metrics_report_the_worker_and_queues(tmp_path: Path, redis_url: str) -> None:
    with api_client(tmp_path, redis_url) as client:
        before = client.get("/health/detailed").json()
        assert set(before["queues"]) == {"association", "ingest"}
        assert before["worker"]["status"] in {"absent", "stale", "alive"}
        beat = functools.partial(AssociationQueue(_services(client).redis).heartbeat, "beat-now", processed=7, ttl=60)
        client.portal.call(beat)  # type: ignore[union-attr]
        detailed = client.get("/health/detailed").json()
        assert detailed["worker"]["status"] == "alive" and detailed["worker"]["alive"] >= 1
        assert 0 <= detailed["worker"]["last_beat_age_seconds"] < 60
        body = client.get("/metrics").text
        assert "companion_workers_alive" in body and "companion_worker_heartbeat_age_seconds" in body
        assert 'companion_queue_entries{queue="ingest",state="dead"}' in body
        assert 'companion_queue_entries{queue="association",state="queued"}' in body


def test_a_damaged_chroma_store_turns_health_to_503_and_routes_to_json_503s(tmp_path: Path, redis_url: str) -> None:
    user = "damaged-store-user"
    auth = make_key(redis_url, user_id=user)
    with api_client(tmp_path, redis_url, as_served=True) as client:
        assert client.post("/v1/chat", json={"user_id": user, "message": "My cat is Miso"}, headers=auth).is_success
        assert client.get("/health").status_code == 200
        with sqlite3.connect(tmp_path / "chroma" / "chroma.sqlite3") as db:  # a table lost: a damaged store
            db.execute("ALTER TABLE collections RENAME TO collections_lost")
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "degraded" and health.json()["chroma"] is False
        detailed = client.get("/health/detailed").json()
        assert detailed["chroma"]["ok"] is False and detailed["chroma"]["error"]
        for response in (
            client.get(f"/v1/users/{user}/memories", headers=auth),
            client.post("/v1/chat", json={"user_id": user, "message": "What is my cat called?"}, headers=auth),
        ):
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["error"] == "StoreUnavailableError" and body["detail"].startswith("Chroma failed: ")
