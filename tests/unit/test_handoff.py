"""The hand-off of ``companion chat`` to ``companion serve``: the discovery file, and the API's answers as CLI errors.

Real files and real sockets; the end-to-end hand-off (a real ``serve``, the CLI in a subprocess) is in
tests/integration/test_cli_handoff.py.
"""

import http.server
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.cli.handoff import (
    DISCOVERY_FILE,
    ServiceNotReachedError,
    error_from_response,
    find_service,
    new_token,
    publish,
    response_as_state,
    settings_fingerprint,
    withdraw,
)
from companion.core.errors import (
    ChatModelError,
    CompanionError,
    InjectionBlockedError,
    InvalidInputError,
    RateLimitedError,
    StoreUnavailableError,
)
from companion.core.settings import Settings, load_settings

URL = "http://127.0.0.1:9"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path)


def announce(settings: Settings, /, port: int = 9, **changes: object) -> Path:
    """Write this process's discovery file, as ``companion serve`` does, then apply ``changes`` to it."""
    path = publish(
        settings.data_dir, host="0.0.0.0", port=port, token=new_token(), fingerprint=settings_fingerprint(settings)
    )
    if changes:
        path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return path


def test_the_discovery_file_is_owner_only_and_names_a_loopback_address(settings: Settings) -> None:
    path = announce(settings, port=8123)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in settings.data_dir.iterdir()] == [DISCOVERY_FILE]  # no temporary file left behind
    record = json.loads(path.read_text())
    assert record["url"] == "http://127.0.0.1:8123" and record["pid"] == os.getpid()
    assert len(record["token"]) >= 40 and record["token"] != new_token()


@pytest.fixture
def companion_process() -> Iterator[int]:
    """A live process whose command line says ``companion``, as a server's would."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "companion", "serve"])
    yield process.pid
    process.kill()
    process.wait()


def test_a_live_companion_process_with_the_same_settings_is_found(settings: Settings, companion_process: int) -> None:
    announce(settings, port=8123, pid=companion_process)
    found = find_service(settings)
    assert found is not None and (found.url, found.pid) == ("http://127.0.0.1:8123", companion_process)


def test_a_stale_or_foreign_discovery_file_is_ignored(settings: Settings, companion_process: int) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()

    announce(settings, pid=dead.pid)
    assert find_service(settings) is None  # its process is gone

    other = subprocess.Popen(["sleep", "120"])
    try:
        announce(settings, pid=other.pid)
        assert find_service(settings) is None  # a live process that is not a companion server (a pid reused)
    finally:
        other.kill()
        other.wait()

    announce(settings, pid=companion_process, settings="0" * 64)
    assert find_service(settings) is None  # a server running with another persona, chat model or stores

    path = announce(settings, pid=companion_process)
    path.chmod(0o620)
    assert find_service(settings) is None  # someone else could have written it

    path.write_text("{not json")
    path.chmod(0o600)
    assert find_service(settings) is None


def test_the_fingerprint_follows_the_settings_that_decide_who_answers(tmp_path: Path) -> None:
    base = settings_fingerprint(load_settings(data_dir=tmp_path))
    assert settings_fingerprint(load_settings(data_dir=tmp_path, max_message_chars=50)) == base
    assert settings_fingerprint(load_settings(data_dir=tmp_path, persona="sage")) != base
    with_password = load_settings(data_dir=tmp_path, redis_url="redis://:hunter2@127.0.0.1:6390/0")
    assert settings_fingerprint(with_password) != base
    announce(with_password)
    assert "hunter2" not in (tmp_path / DISCOVERY_FILE).read_text()


def test_a_server_withdraws_only_its_own_discovery_file(settings: Settings) -> None:
    path = announce(settings, pid=os.getpid() + 1)  # another server on the same data dir wrote it since
    withdraw(settings.data_dir)
    assert path.exists()
    announce(settings)
    withdraw(settings.data_dir)
    assert not path.exists()
    withdraw(settings.data_dir)  # nothing left to remove: no error


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (400, {"error": "InvalidInputError", "detail": "message is too long"}, InvalidInputError, 2),
        (422, {"error": "ValidationError", "detail": "message: String should have at most 4000 characters"}, None, 2),
        (429, {"error": "RateLimitedError", "detail": "too many messages; retry in 42 s"}, RateLimitedError, 3),
        (429, {"error": "InjectionBlockedError", "detail": "cooling down"}, InjectionBlockedError, 3),
        (503, {"error": "StoreUnavailableError", "detail": "cannot reach Redis"}, StoreUnavailableError, 4),
        (503, {"error": "ChatModelError", "detail": "the chat model failed: 500"}, ChatModelError, 5),
        (500, {"error": "InternalError", "detail": "an unexpected error; it is in the server's log"}, None, 1),
    ],
    ids=lambda value: str(value) if isinstance(value, int) else None,
)
def test_an_error_answer_is_the_error_the_cli_would_have_raised(
    status: int, body: dict[str, str], expected: type[CompanionError] | None, code: int
) -> None:
    error = error_from_response(status, body, "42", url=URL)
    assert error.exit_code == code
    if expected is not None:
        assert type(error) is expected and str(error) == body["detail"]
    else:
        assert body["detail"] in str(error)
    if isinstance(error, RateLimitedError | InjectionBlockedError):
        assert error.retry_after == 42.0


def test_an_answer_that_is_no_error_body_is_still_one_line() -> None:
    error = error_from_response(502, None, None, url=URL)
    assert (
        type(error) is CompanionError and str(error) == f"the companion service at {URL} failed (HTTP 502): no detail"
    )


def test_a_response_of_a_turn_that_stored_nothing_prints_no_short_term() -> None:
    assert response_as_state({"memory_id": None, "short_term": "stored"})["short_term"] is None
    assert response_as_state({"memory_id": "abc", "short_term": "deferred"})["short_term"] == "deferred"


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A listener that is not the server of the discovery file: it refuses every key."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": "AuthenticationError", "detail": "unknown or revoked API key"}')

    def log_message(self, *args: object) -> None:
        pass


def test_a_listener_that_refuses_the_token_or_no_listener_at_all_is_not_reached(
    settings: Settings, companion_process: int
) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        announce(settings, port=server.server_address[1], pid=companion_process)
        service = find_service(settings)
        assert service is not None and service.answers()
        with pytest.raises(ServiceNotReachedError):
            service.chat(user_id="u", conversation_id="default", message="hi")
    finally:
        server.shutdown()
        server.server_close()
    assert not service.answers()
    with pytest.raises(ServiceNotReachedError):  # the port is closed now
        service.chat(user_id="u", conversation_id="default", message="hi")
