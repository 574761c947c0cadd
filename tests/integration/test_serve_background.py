"""``companion serve`` alone does the background work: a chat message is associated and an ingested session becomes
memories within the worker's interval, with no ``companion worker`` or ``companion scheduler`` running; other
commands on the same data dir keep working beside it; ``--no-background`` leaves the queue to a separate worker."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_sync
from test_cli import COMPANION, cli_env, companion, one_json, sync_redis  # noqa: F401  (a fixture too)

from memory.embedded import running_chroma_server

STARTUP_TIMEOUT = 120.0
WAIT_TIMEOUT = 60.0
USER = "serve-bea"
SESSION = [
    {"role": "user", "content": "I adopted a greyhound called Pepper last spring."},
    {"role": "assistant", "content": "Lovely! How is Pepper settling in?"},
    {"role": "user", "content": "She sleeps on the sofa all day and runs like the wind at the beach."},
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class Served:
    def __init__(self, process: subprocess.Popen[str], port: int, log: Path) -> None:
        self.process, self.log = process, log
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0)

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            return self.http.get("/health").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.fixture
def serve(
    data_dir: Path,
    redis_url: str,
    tmp_path: Path,
    sync_redis: redis_sync.Redis,  # noqa: F811
) -> Iterator[Callable[..., Served]]:
    """Starts ``companion serve`` on an empty Redis (its worker would otherwise meet other tests' queues)."""
    started: list[Served] = []

    def start(*flags: str, env: dict[str, str] | None = None) -> Served:
        """``companion serve FLAGS`` with the worker's interval at 1 s and ``env`` as further settings."""
        port = _free_port()
        log = tmp_path / f"serve-{port}.log"
        settings = {"association_interval_seconds": "1", **(env or {})}
        with log.open("w") as out:
            process = subprocess.Popen(
                [str(COMPANION), "serve", "--port", str(port), *flags],
                env=cli_env(data_dir, redis_url, **settings),
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        served = Served(process, port, log)
        started.append(served)
        _wait_for(served.healthy, "serve to answer /health", STARTUP_TIMEOUT)
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait(timeout=30)


def _key(data_dir: Path, redis_url: str, tmp_path: Path) -> dict[str, str]:
    created = one_json(
        companion("keys", "create", "--user", USER, "--json", env=cli_env(data_dir, redis_url), cwd=tmp_path)
    )
    return {"Authorization": f"Bearer {created['secret']}"}


def test_serve_alone_associates_chat_and_ingests_sessions_and_shares_its_stores(
    serve: Callable[..., Served], data_dir: Path, redis_url: str, tmp_path: Path
) -> None:
    served = serve()
    auth = _key(data_dir, redis_url, tmp_path)
    assert running_chroma_server(data_dir) is not None  # serve shares the data dir's Chroma

    turn = served.http.post(
        "/v1/chat",
        json={"user_id": USER, "message": "My grandmother died last night and I can't stop crying."},
        headers=auth,
    )
    assert turn.status_code == 200, turn.text

    def associated() -> dict[str, Any] | None:
        status = served.http.get(f"/v1/users/{USER}/processing", headers=auth).json()
        done = status["association_queue"]["queued"] == 0 and any(w["processed"] >= 1 for w in status["workers"])
        return status if done else None

    status = _wait_for(associated, "the in-process worker to associate the chat message")
    assert status["worker_alive"] is True and all(w["pid"] == served.process.pid for w in status["workers"])

    submitted = served.http.post(
        f"/v1/users/{USER}/raw", json={"session_id": "pepper", "messages": SESSION}, headers=auth
    )
    assert submitted.status_code == 202, submitted.text
    submission_id = submitted.json()["submission_id"]

    def ingested() -> dict[str, Any] | None:
        found = served.http.get(f"/v1/users/{USER}/raw/{submission_id}", headers=auth).json()
        return found if found["status"] in {"done", "failed"} else None

    submission = _wait_for(ingested, "the in-process worker to ingest the session")
    assert submission["status"] == "done" and submission["memories"] >= 2, submission

    # another process reads the same stores while serve holds them
    listed = one_json(
        companion("memories", "list", "--user", USER, "--json", env=cli_env(data_dir, redis_url), cwd=tmp_path)
    )
    texts = " ".join(memory["text"] for memory in listed["memories"])
    assert "grandmother" in texts and "Pepper" in texts

    assert served.stop() == 0
    assert running_chroma_server(data_dir) is None  # the server serve started stops with it


def test_no_background_leaves_the_queue_to_a_separate_worker(
    serve: Callable[..., Served], data_dir: Path, redis_url: str, tmp_path: Path
) -> None:
    served = serve("--no-background")
    auth = _key(data_dir, redis_url, tmp_path)
    turn = served.http.post(
        "/v1/chat", json={"user_id": USER, "message": "I passed my driving test today!"}, headers=auth
    )
    assert turn.status_code == 200, turn.text
    time.sleep(3)  # three of the worker's intervals, had it been running
    status = served.http.get(f"/v1/users/{USER}/processing", headers=auth).json()
    assert status["worker_alive"] is False and status["association_queue"]["queued"] >= 1

    ran = one_json(companion("worker", "--run-once", "--json", env=cli_env(data_dir, redis_url), cwd=tmp_path))
    assert ran["processed"] >= 1
    assert served.stop() == 0
