"""The ``companion`` command with a real ``langchain-openai`` client against a local OpenAI-compatible server.

The server (``openai_server.py``) is the only fake: it answers with a reply built from what it was sent, and keeps
every request so the test can check what reached the model.
"""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from openai_server import FakeOpenAI, openai_env, serve_openai

COMPANION = Path(sys.executable).parent / "companion"
# Bounds a hung process; not a speed assertion.
PROCESS_TIMEOUT = 180


def reply_for(body: dict[str, Any]) -> str:
    """The canned answer: which remembered lines the system prompt carried, and how many messages came."""
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    section = system.split("TOLD YOU BEFORE", 1)[-1].split("\n\n", 1)[0]  # the persona prompt's memories
    remembered = [line[2:] for line in section.splitlines() if line.startswith("- ")]
    return f"model saw {len(body['messages'])} messages; remembered: {' | '.join(remembered) or 'nothing'}"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with serve_openai(reply_for) as server:
        yield server


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis_sync.Redis]:
    client = redis_sync.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


def chat(message: str, conversation: str, *, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    result = subprocess.run(
        [str(COMPANION), "chat", "--user", "e2e-user", "--conversation", conversation, "--message", message, "--json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


def test_companion_talks_to_an_openai_compatible_server_and_sends_it_what_it_remembers(
    fake_openai: FakeOpenAI, data_dir: Path, tmp_path: Path, redis_url: str, sync_redis: redis_sync.Redis
) -> None:
    env = openai_env(fake_openai.url, COMPANION_REDIS_URL=redis_url, COMPANION_DATA_DIR=str(data_dir))

    told = chat("I have a cat called Miso.", "monday", env=env, cwd=tmp_path)
    assert told["responder"] == "gpt-4o-mini"
    assert told["reply"] == fake_openai.replies[0] == "model saw 2 messages; remembered: nothing"

    asked = chat("What is my cat called?", "friday", env=env, cwd=tmp_path)
    assert asked["responder"] == "gpt-4o-mini"
    assert asked["reply"] == fake_openai.replies[1]
    assert "remembered: I have a cat called Miso." in asked["reply"]

    # Each turn asked once for a reply and, while the reply was written, once for importance and category and once
    # for the sensitivity classification.
    assert len(fake_openai.chats) == 2 and len(fake_openai.scorings) == 2 and len(fake_openai.classifications) == 2
    assert told["sensitivity"]["level"] == "confidential" and told["sensitivity"]["source"] == "model"
    assert told["sensitivity"]["tags"][0] == "pets"
    assert "I have a cat called Miso." in json.dumps(fake_openai.scorings[0]["body"]["messages"])
    assert (told["detection"]["importance"], told["detection"]["category"]) == (900, "interest")
    request = fake_openai.chats[1]
    assert request["path"] == "/v1/chat/completions"
    assert request["authorization"] == "Bearer test"
    assert request["body"]["model"] == "gpt-4o-mini"
    messages = request["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]  # a new conversation: no short-term context
    assert "- I have a cat called Miso." in messages[0]["content"]
    assert messages[1]["content"] == "What is my cat called?"
    # The first turn's system prompt had nothing to remember yet.
    assert "(nothing relevant yet)" in fake_openai.chats[0]["body"]["messages"][0]["content"]
    assert messages[0]["content"].startswith("You are Mira,")  # the persona prompt


def test_an_unreachable_model_is_one_line_exit_5_and_nothing_is_written(
    data_dir: Path, tmp_path: Path, redis_url: str, sync_redis: redis_sync.Redis
) -> None:
    unreachable = "http://127.0.0.1:1/v1"  # nothing listens on port 1
    env = openai_env(unreachable, COMPANION_REDIS_URL=redis_url, COMPANION_DATA_DIR=str(data_dir))
    result = subprocess.run(
        [str(COMPANION), "chat", "--user", "e2e-down", "--message", "hello there"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert result.returncode == 5, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "the chat model failed" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert sync_redis.keys("companion:u:{e2e-down}:*") == []
    assert sync_redis.xlen("companion:stream:association") == 0
