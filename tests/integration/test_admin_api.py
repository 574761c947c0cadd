"""Admin views over REST: system stats, an admin-wide cleanup (operator keys only), and a user's session."""

from __future__ import annotations

from pathlib import Path

import redis as redis_sync

from tests.integration.api_helpers import api_client, make_key


def test_stats_cleanup_and_the_session_view(tmp_path: Path, redis_url: str) -> None:
    redis_sync.Redis.from_url(redis_url).flushdb()  # the counts are service-wide: start from an empty Redis
    operator, tenant_admin = make_key(redis_url, admin=True), make_key(redis_url, admin=True, tenant="acme")
    ada, bo = make_key(redis_url, user_id="stats-ada"), make_key(redis_url, user_id="stats-bo")
    with api_client(tmp_path, redis_url) as client:
        for text in ("I grow tomatoes on my balcony", "My cat Miso hates the rain"):
            assert (
                client.post("/v1/chat", json={"user_id": "stats-ada", "message": text}, headers=ada).status_code == 200
            )
        client.post("/v1/chat", json={"user_id": "stats-bo", "message": "Hello there"}, headers=bo)
        client.post("/v1/users/stats-bo/raw", json={"messages": [{"role": "user", "content": "hi"}]}, headers=bo)

        stats = client.get("/v1/admin/stats", headers=operator).json()
        assert stats["users"] == 2 and stats["memories"] == 3 and stats["active_users_24h"] == 2
        assert stats["queues"]["association"]["queued"] == 3 and stats["queues"]["ingest"]["queued"] == 1
        assert stats["workers_alive"] == 0 and stats["incidents"] == 0 and stats["crises"] == {}
        assert client.get("/v1/admin/stats", headers=tenant_admin).json()["users"] == 0  # acme has no users yet
        assert client.get("/v1/admin/stats", headers=ada).status_code == 403

        cleaned = client.post("/v1/admin/cleanup", json={"retention_days": 0}, headers=operator)
        assert cleaned.status_code == 200 and cleaned.json() == {"removed_raw_transcripts": 0, "retention_days": 0.0}
        assert client.post("/v1/admin/cleanup", json={}, headers=tenant_admin).status_code == 403  # spans tenants

        session = client.get("/v1/users/stats-ada/session", headers=ada).json()
        assert session["source"] == "redis" and [t["role"] for t in session["turns"]] == ["user", "assistant"] * 2
        assert session["turns"][0]["content"] == "I grow tomatoes on my balcony" and session["last_active"]
        other = client.get("/v1/users/stats-ada/session", params={"conversation_id": "trip"}, headers=ada).json()
        assert other["source"] == "empty" and other["turns"] == []
        assert client.get("/v1/users/stats-ada/session", headers=bo).status_code == 403
