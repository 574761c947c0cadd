from pathlib import Path

from tests.integration.api_helpers import api_client, make_key


def test_chat_turn_recalls_an_earlier_fact_over_rest(tmp_path: Path, redis_url: str) -> None:
    auth = make_key(redis_url, user_id="rest-u1")
    with api_client(tmp_path, redis_url) as client:
        first = client.post(
            "/v1/chat", json={"user_id": "rest-u1", "message": "My favourite tea is genmaicha."}, headers=auth
        )
        assert first.status_code == 200, first.text
        assert first.json()["responder"] == "offline"
        second = client.post(
            "/v1/chat", json={"user_id": "rest-u1", "message": "Which tea do I like best?"}, headers=auth
        )
        assert second.status_code == 200
        body = second.json()
        assert any("genmaicha" in memory["text"] for memory in body["memories"])
        assert body["reply"].startswith("[offline]")
        assert client.get("/health").json() == {
            "status": "ok",
            "redis": True,
            "chroma": True,
            "chroma_mode": "embedded",
        }


def test_bad_input_is_a_4xx_with_a_message_not_a_500(tmp_path: Path, redis_url: str) -> None:
    auth = make_key(redis_url, admin=True)
    with api_client(tmp_path, redis_url, max_message_chars=20) as client:
        blank = client.post("/v1/chat", json={"user_id": "rest-u2", "message": "   "}, headers=auth)
        assert blank.status_code == 422
        assert blank.json() == {"error": "ValidationError", "detail": "message: Value error, message is empty"}
        too_long = client.post("/v1/chat", json={"user_id": "rest-u2", "message": "x" * 21}, headers=auth)
        assert too_long.status_code == 400
        assert "limit is 20" in too_long.json()["detail"]
        bad_user = client.post("/v1/chat", json={"user_id": "no spaces!", "message": "hi"}, headers=auth)
        assert bad_user.status_code == 422
        assert bad_user.json()["detail"].startswith("user_id: String should match pattern")
        missing = client.post("/v1/chat", json={"message": "hi"}, headers=auth)
        assert missing.status_code == 422
        assert missing.json() == {"error": "ValidationError", "detail": "user_id: Field required"}


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path, redis_url: str) -> None:
    auth = make_key(redis_url, user_id="rest-u3")
    with api_client(tmp_path, redis_url, rate_limit_per_user=2) as client:
        for _ in range(2):
            response = client.post("/v1/chat", json={"user_id": "rest-u3", "message": "hello"}, headers=auth)
            assert response.status_code == 200
        limited = client.post("/v1/chat", json={"user_id": "rest-u3", "message": "hello"}, headers=auth)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert "retry in" in limited.json()["detail"]
        # deletes are writes too: they count against the same limit
        memory_id = client.get("/v1/users/rest-u3/memories", headers=auth).json()["memories"][0]["id"]
        deleted = client.delete(f"/v1/users/rest-u3/memories/{memory_id}", headers=auth)
        assert deleted.status_code == 429
        assert client.get(f"/v1/users/rest-u3/memories/{memory_id}", headers=auth).status_code == 200
