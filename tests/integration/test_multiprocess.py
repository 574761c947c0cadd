"""Several processes of the app on one data dir: the shared Chroma server, and the embedded store's lock."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.embedded import ChromaDirectoryLock, EmbeddedChromaServer, EmbeddedRedis
from memory.embeddings import Embedder

COMPANION = Path(sys.executable).parent / "companion"
PROCESS_TIMEOUT = 180  # bounds a hung process; not a speed assertion


@pytest.fixture
def data_dir(tmp_path: Path, session_dir: Path, embedder: Embedder) -> Iterator[Path]:
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / "models").symlink_to(session_dir / "models", target_is_directory=True)
    yield directory
    EmbeddedChromaServer(directory).stop()
    EmbeddedRedis(directory).stop()


def _env(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMPANION_")}
    env.update(HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", COMPANION_DATA_DIR=str(data_dir))
    return env


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMPANION), *args], env=env, capture_output=True, text=True, timeout=PROCESS_TIMEOUT, check=False
    )


def test_two_processes_chat_at_once_through_the_shared_chroma_server(data_dir: Path) -> None:
    env = _env(data_dir)
    started = _run("services", "start", "--json", env=env)
    assert started.returncode == 0, started.stderr
    status = json.loads(started.stdout)
    assert status["chroma"]["shared_server_running"] is True
    assert status["redis"]["running"] is True

    messages = [f"Fact number {index}: my locker code is {1000 + index}." for index in range(4)]
    writers = [
        subprocess.Popen(
            [str(COMPANION), "chat", "--user", user, "--json"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for user in ("mp-alice", "mp-bob")
    ]
    outputs = [writer.communicate("\n".join(messages) + "\n", timeout=PROCESS_TIMEOUT) for writer in writers]
    for writer, (stdout, stderr) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, stderr
        assert len(stdout.splitlines()) == len(messages)

    for user in ("mp-alice", "mp-bob"):
        listed = _run("memories", "list", "--user", user, "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        body = json.loads(listed.stdout)
        assert body["total"] == len(messages)
        assert sorted(memory["text"] for memory in body["memories"]) == sorted(messages)

    stopped = _run("services", "stop", "--json", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["chroma"]["shared_server_running"] is False
    # With the server stopped, the embedded store reads what the server wrote.
    listed = _run("memories", "list", "--user", "mp-alice", "--json", env=env)
    assert json.loads(listed.stdout)["total"] == len(messages)


def test_a_second_process_on_a_locked_embedded_store_gets_a_one_line_error(data_dir: Path) -> None:
    lock = ChromaDirectoryLock(data_dir / "chroma")
    lock.acquire()  # this test process plays the part of a process that has the embedded store open
    try:
        result = _run("chat", "--user", "mp-carol", "--message", "hello", env=_env(data_dir))
    finally:
        lock.release()
    assert result.returncode == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "companion services start" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
