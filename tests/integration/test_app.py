from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from companion.settings import load_settings


def _client(tmp_path: Path, redis_url: str, **overrides: object) -> TestClient:
    settings = load_settings(data_dir=tmp_path, redis_url=redis_url, **overrides)
    return TestClient(create_app(settings))


def test_chat_turn_recalls_an_earlier_fact_over_rest(tmp_path: Path, redis_url: str) -> None:
    with _client(tmp_path, redis_url) as client:
        first = client.post("/v1/chat", json={"user_id": "rest-u1", "message": "My favourite tea is genmaicha."})
        assert first.status_code == 200, first.text
        assert first.json()["responder"] == "offline"
        second = client.post("/v1/chat", json={"user_id": "rest-u1", "message": "Which tea do I like best?"})
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
    with _client(tmp_path, redis_url, max_message_chars=20) as client:
        blank = client.post("/v1/chat", json={"user_id": "rest-u2", "message": "   "})
        assert blank.status_code == 400
        assert blank.json()["detail"] == "message is empty"
        too_long = client.post("/v1/chat", json={"user_id": "rest-u2", "message": "x" * 21})
        assert too_long.status_code == 400
        assert "limit is 20" in too_long.json()["detail"]
        bad_user = client.post("/v1/chat", json={"user_id": "no spaces!", "message": "hi"})
        assert bad_user.status_code == 400
        assert "invalid user id" in bad_user.json()["detail"]
        missing = client.post("/v1/chat", json={"message": "hi"})
        assert missing.status_code == 422


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path, redis_url: str) -> None:
    with _client(tmp_path, redis_url, rate_limit_per_user=2) as client:
        for _ in range(2):
            assert client.post("/v1/chat", json={"user_id": "rest-u3", "message": "hello"}).status_code == 200
        limited = client.post("/v1/chat", json={"user_id": "rest-u3", "message": "hello"})
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert "retry in" in limited.json()["detail"]
