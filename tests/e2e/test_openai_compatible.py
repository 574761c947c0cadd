"""The ``companion`` command with a real ``langchain-openai`` client against a local OpenAI-compatible server.

The server is the only fake: it answers ``POST /v1/chat/completions`` (non-streaming) with a reply built from
what it was sent, and keeps every request so the test can check what reached the model.
"""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync

from memory.embeddings import Embedder

COMPANION = Path(sys.executable).parent / "companion"
# Bounds a hung process; not a speed assertion.
PROCESS_TIMEOUT = 180


@dataclass
class FakeOpenAI:
    """What the local server received and answered."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    #: Requests that asked for importance and category (structured output), not for a reply.
    scorings: list[dict[str, Any]] = field(default_factory=list)
    #: Requests that asked for a sensitivity classification (structured output).
    classifications: list[dict[str, Any]] = field(default_factory=list)

    @property
    def chats(self) -> list[dict[str, Any]]:
        """The requests for a reply."""
        return [r for r in self.requests if r not in self.scorings and r not in self.classifications]


#: What the server answers to an importance/category request.
SCORED = {"importance": 900, "category": "interest"}
#: What it answers to a sensitivity request (design seed 002).
CLASSIFIED = {"classification": "confidential", "confidence": 0.88, "tags": ["pets"], "sentiment": "positive"}


def is_scoring(body: dict[str, Any]) -> bool:
    return "response_format" in body or "tools" in body


def reply_for(body: dict[str, Any]) -> str:
    """The canned answer: which remembered lines the system prompt carried, and how many messages came."""
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    section = system.split("TOLD YOU BEFORE", 1)[-1].split("\n\n", 1)[0]  # the persona prompt's memories
    remembered = [line[2:] for line in section.splitlines() if line.startswith("- ")]
    return f"model saw {len(body['messages'])} messages; remembered: {' | '.join(remembered) or 'nothing'}"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server_state = FakeOpenAI(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server_state.requests.append(
                {"path": self.path, "authorization": self.headers.get("Authorization"), "body": body}
            )
            if self.path != "/v1/chat/completions" or body.get("stream"):
                self.send_error(404 if self.path != "/v1/chat/completions" else 400)
                return
            if is_scoring(body) and "SensitivityVerdict" in json.dumps(body):
                server_state.classifications.append(server_state.requests[-1])
                text = json.dumps(CLASSIFIED)
            elif is_scoring(body):
                server_state.scorings.append(server_state.requests[-1])
                text = json.dumps(SCORED)
            else:
                text = reply_for(body)
                server_state.replies.append(text)
            payload = json.dumps(
                {
                    "id": f"chatcmpl-{len(server_state.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server_state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def data_dir(tmp_path: Path, session_dir: Path, embedder: Embedder) -> Path:
    """A fresh data dir whose model cache is the session's (the ``embedder`` fixture has built it)."""
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / "models").symlink_to(session_dir / "models", target_is_directory=True)
    return directory


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
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPANION_", "OPENAI_"))}
    env.update(
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        COMPANION_CHAT_MODEL="openai:gpt-4o-mini",
        COMPANION_OPENAI_BASE_URL=fake_openai.url,
        COMPANION_OPENAI_API_KEY="test",
        COMPANION_REDIS_URL=redis_url,
        COMPANION_DATA_DIR=str(data_dir),
    )

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
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPANION_", "OPENAI_"))}
    env.update(
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        COMPANION_CHAT_MODEL="openai:gpt-4o-mini",
        COMPANION_OPENAI_BASE_URL="http://127.0.0.1:1/v1",  # nothing listens on port 1
        COMPANION_OPENAI_API_KEY="test",
        COMPANION_REDIS_URL=redis_url,
        COMPANION_DATA_DIR=str(data_dir),
    )
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
