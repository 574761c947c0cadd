"""Request bodies over COMPANION_MAX_REQUEST_BYTES get a JSON 413 before they are parsed or the key is checked.

A 600 MB body with no API key was once read and parsed before the 401 (issue 16, item 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from starlette.types import Message

from app.main import create_app
from companion.core.settings import load_settings
from tests.integration.api_helpers import api_client, make_key

LIMIT = 64 * 1024
CHUNK = 16 * 1024


def test_a_declared_length_over_the_limit_gets_413_without_a_key(tmp_path: Path, redis_url: str) -> None:
    with api_client(tmp_path, redis_url, max_request_bytes=LIMIT) as client:
        response = client.post("/v1/chat", content=b"x" * (LIMIT + 1), headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.json()["error"] == "RequestTooLargeError"
        assert "COMPANION_MAX_REQUEST_BYTES" in response.json()["detail"]
        # within the limit nothing changes: no key is still a 401, a key and a body still a turn
        assert client.post("/v1/chat", json={"user_id": "lim", "message": "hi"}).status_code == 401
        own = make_key(redis_url, user_id="lim")
        assert client.post("/v1/chat", json={"user_id": "lim", "message": "hi"}, headers=own).status_code == 200


def test_a_chunked_body_without_content_length_or_key_gets_413(tmp_path: Path, redis_url: str) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(LIMIT // CHUNK + 4):
            yield b" " * CHUNK

    with api_client(tmp_path, redis_url, max_request_bytes=LIMIT) as client:
        response = client.post("/v1/chat", content=body(), headers={"content-type": "application/json"})
        assert response.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.request.headers
        assert response.status_code == 413
        assert response.json()["error"] == "RequestTooLargeError"


async def test_a_streamed_body_is_refused_once_it_passes_the_limit_and_never_read_further(tmp_path: Path) -> None:
    """Straight at the ASGI app: a long chunked body (no Content-Length, no key) stops being read at the limit."""
    app = create_app(load_settings(data_dir=tmp_path, max_request_bytes=LIMIT))
    pulled = 0

    async def receive() -> Message:  # 64 times the limit, as a client would stream it
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"{" * CHUNK, "more_body": pulled < 64 * LIMIT // CHUNK}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat",
        "raw_path": b"/v1/chat",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)  # the app's lifespan never ran: the request never got past the limit
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "RequestTooLargeError"
    assert pulled == LIMIT // CHUNK + 1  # the chunk that passed the limit was the last one read


def test_the_limit_is_a_setting_with_a_floor() -> None:
    assert load_settings().max_request_bytes == 8 * 1024 * 1024
    assert load_settings(max_request_bytes=2048).max_request_bytes == 2048
