"""HTTP manners: rate-limit headers on every limited response, request ids in and out, a CORS allow-list, JSON logs
that carry the request id and never the user's words."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from test_cli import cli_env, companion, sync_redis  # noqa: F401  (a fixture)
from test_serve_background import Served, serve  # noqa: F401  (a fixture)

from tests.integration.api_helpers import api_client, make_key

ORIGIN = "https://app.example.com"


def test_limited_routes_say_where_the_caller_stands_and_a_429_says_when_to_come_back(
    tmp_path: Path, redis_url: str
) -> None:
    user = "manners-lin"
    auth = make_key(redis_url, user_id=user)
    with api_client(tmp_path, redis_url, rate_limit_per_user=3) as client:
        first = client.post("/v1/chat", json={"user_id": user, "message": "hello there"}, headers=auth)
        second = client.post(
            f"/v1/users/{user}/raw", json={"messages": [{"role": "user", "content": "hi"}]}, headers=auth
        )
        assert first.status_code == 200 and second.status_code == 202, second.text
        assert [r.headers["X-RateLimit-Limit"] for r in (first, second)] == ["3", "3"]
        assert [r.headers["X-RateLimit-Remaining"] for r in (first, second)] == ["2", "1"]
        assert 0 <= int(second.headers["X-RateLimit-Reset"]) <= 60

        third = client.post("/v1/chat", json={"user_id": user, "message": "and again"}, headers=auth)
        assert third.headers["X-RateLimit-Remaining"] == "0"
        limited = client.post("/v1/chat", json={"user_id": user, "message": "one more"}, headers=auth)
        assert limited.status_code == 429
        assert limited.headers["X-RateLimit-Limit"] == "3" and limited.headers["X-RateLimit-Remaining"] == "0"
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["X-RateLimit-Reset"] == limited.headers["Retry-After"]

        unlimited = client.get(f"/v1/users/{user}/memories", headers=auth)  # a read counts nothing
        assert unlimited.status_code == 200 and "X-RateLimit-Limit" not in unlimited.headers


def test_every_response_has_a_request_id_and_a_client_may_choose_it(tmp_path: Path, redis_url: str) -> None:
    with api_client(tmp_path, redis_url) as client:
        made = client.get("/health")
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
        assert client.get("/health").headers["X-Request-ID"] != made.headers["X-Request-ID"]
        assert client.get("/health", headers={"X-Request-ID": "order-42/retry-1"}).headers["X-Request-ID"] == (
            "order-42/retry-1"
        )
        too_long = client.get("/health", headers={"X-Request-ID": "x" * 129}).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", too_long)
        unauthorised = client.post("/v1/chat", json={"user_id": "u", "message": "hi"}, headers={"X-Request-ID": "r-1"})
        assert unauthorised.status_code == 401 and unauthorised.headers["X-Request-ID"] == "r-1"


def test_cors_answers_only_the_allowed_origins(tmp_path: Path, redis_url: str) -> None:
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    with api_client(tmp_path, redis_url) as closed:
        assert "access-control-allow-origin" not in closed.options("/v1/chat", headers=preflight).headers
    with api_client(tmp_path, redis_url, cors_origins=f"{ORIGIN}, http://localhost:5173") as client:
        allowed = client.options("/v1/chat", headers=preflight)
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        other = client.options("/v1/chat", headers={**preflight, "Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in other.headers
        # an error a browser app must be able to read: the 401 of a missing key carries the CORS headers too
        refused = client.post("/v1/chat", json={"user_id": "u", "message": "hi"}, headers={"Origin": ORIGIN})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ORIGIN
        assert "X-RateLimit-Remaining" in refused.headers["access-control-expose-headers"]


def test_a_malformed_cors_origin_is_a_one_line_error(data_dir: Path, redis_url: str, tmp_path: Path) -> None:
    env = cli_env(data_dir, redis_url, cors_origins="app.example.com")
    result = companion("serve", "--port", "8000", env=env, cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "COMPANION_CORS_ORIGINS" in result.stderr and "app.example.com" in result.stderr


def test_json_logs_carry_the_request_id_and_never_the_users_words(
    serve: Callable[..., Served],  # noqa: F811
    data_dir: Path,
    redis_url: str,
    tmp_path: Path,
) -> None:
    secret_words = "my locker code is 7391 and my cat is called Quimby"
    served = serve("--no-background", env={"log_format": "json"})
    user = "manners-jo"
    auth = make_key(redis_url, user_id=user)
    turn = served.http.post(
        "/v1/chat", json={"user_id": user, "message": secret_words}, headers={**auth, "X-Request-ID": "trace-7"}
    )
    assert turn.status_code == 200 and turn.headers["X-Request-ID"] == "trace-7"
    search = served.http.get(f"/v1/users/{user}/memories", params={"q": "locker code"}, headers=auth)
    assert search.status_code == 200
    assert served.stop() == 0

    lines = [line for line in served.log.read_text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert records and all({"time", "level", "logger", "message", "request_id"} <= set(r) for r in records)
    chat_lines = [r for r in records if "POST /v1/chat" in r["message"]]
    assert [r["request_id"] for r in chat_lines] == ["trace-7"]
    whole = served.log.read_text()
    assert "7391" not in whole and "Quimby" not in whole and "locker" not in whole
