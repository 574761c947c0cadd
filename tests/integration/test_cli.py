"""The real ``companion`` command in a subprocess, over the session's Redis and an embedded Chroma in a tmp dir."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
import redis as redis_sync
from chromadb.config import Settings as ChromaSettings

from memory.long_term import collection_name

COMPANION = Path(sys.executable).parent / "companion"
# Bounds a hung process; not a speed assertion.
PROCESS_TIMEOUT = 180


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis_sync.Redis]:
    """A plain client on the session's Redis, flushed: each test starts from an empty Redis."""
    client = redis_sync.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


def cli_env(data_dir: Path, redis_url: str, /, **overrides: str) -> dict[str, str]:
    # no COMPANION_* setting and no real OpenAI key of the developer's leaks into the command
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPANION_", "OPENAI_"))}
    env.update(
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        NO_PROXY="127.0.0.1,localhost",
        COMPANION_DATA_DIR=str(data_dir),
        COMPANION_REDIS_URL=redis_url,
    )
    env.update({f"COMPANION_{key.upper()}": value for key, value in overrides.items()})
    return env


def companion(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # cwd is a tmp dir so that no .env file of the checkout is read.
    return subprocess.run(
        [str(COMPANION), *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def one_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    objects = json_lines(result)
    assert len(objects) == 1, result.stdout
    return objects[0]


def chroma_collections(data_dir: Path) -> set[str]:
    """Names of the collections in the embedded Chroma under ``data_dir`` (none if it was never created)."""
    path = data_dir / "chroma"
    if not (path / "chroma.sqlite3").exists():
        return set()
    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    return {collection.name for collection in client.list_collections()}


def assert_nothing_written(data_dir: Path, user: str, client: redis_sync.Redis) -> None:
    assert collection_name(user) not in chroma_collections(data_dir)
    assert list(client.scan_iter(match=f"companion:u:{{{user}}}:*")) == []
    assert client.dbsize() == 0


# -- a working chat ------------------------------------------------------------------------------------------
def test_chat_remembers_a_fact_and_memories_search_and_list_show_it(
    data_dir: Path, tmp_path: Path, redis_url: str, sync_redis: redis_sync.Redis
) -> None:
    env = cli_env(data_dir, redis_url)
    told = one_json(
        companion("chat", "--user", "u1", "--message", "I have a cat called Miso", "--json", env=env, cwd=tmp_path)
    )
    assert {"reply", "memories", "timings_ms", "responder", "memory_id", "context_source"} <= told.keys()
    assert told["responder"] == "offline"
    assert told["reply"].startswith("[offline]")
    assert told["memories"] == []
    assert told["timings_ms"]["total"] > 0
    assert {"admit", "load_context", "retrieve", "respond", "store_long_term", "store_short_term"} <= told[
        "timings_ms"
    ].keys()

    asked = one_json(
        companion("chat", "--user", "u1", "--message", "what is my cat called?", "--json", env=env, cwd=tmp_path)
    )
    assert "I have a cat called Miso" in [memory["text"] for memory in asked["memories"]]
    assert told["memory_id"] in [memory["id"] for memory in asked["memories"]]
    assert "Miso" in asked["reply"]
    assert asked["context_source"] == "redis"

    found = one_json(companion("memories", "search", "--user", "u1", "--query", "cat", "--json", env=env, cwd=tmp_path))
    assert found["user"] == "u1"
    assert found["memories"][0]["text"] in {"I have a cat called Miso", "what is my cat called?"}
    assert "I have a cat called Miso" in [memory["text"] for memory in found["memories"]]

    listed = one_json(companion("memories", "list", "--user", "u1", "--json", env=env, cwd=tmp_path))
    assert listed["total"] == 2
    assert [memory["text"] for memory in listed["memories"]] == ["what is my cat called?", "I have a cat called Miso"]
    assert listed["memories"][1]["id"] == told["memory_id"]
    assert listed["memories"][1]["reply"] == told["reply"]
    assert all(memory["user_id"] == "u1" for memory in listed["memories"])

    # One collection, the user's own; and the turns are in Redis.
    assert chroma_collections(data_dir) == {collection_name("u1"), "companion-personality"}
    assert len(sync_redis.lrange("companion:u:{u1}:c:{default}:turns", 0, -1)) == 4


def test_interactive_chat_answers_each_line_and_keeps_going_after_a_bad_one(
    data_dir: Path, tmp_path: Path, redis_url: str, sync_redis: redis_sync.Redis
) -> None:
    env = cli_env(data_dir, redis_url, max_message_chars="50")
    lines = ["I have a cat called Miso", "x" * 60, "what is my cat called?"]
    result = companion("chat", "--user", "u1", "--json", env=env, cwd=tmp_path, stdin="\n".join(lines) + "\n")

    first, second = json_lines(result)
    assert first["reply"].startswith("[offline]")
    assert "I have a cat called Miso" in [memory["text"] for memory in second["memories"]]
    assert result.stderr.strip().splitlines() == ["error: message is 60 characters long; the limit is 50"]
    assert len(sync_redis.lrange("companion:u:{u1}:c:{default}:turns", 0, -1)) == 4


# -- errors: one line, an exit code, nothing written ---------------------------------------------------------
BAD_INPUT = [
    # (id, arguments, settings, exit code, what stderr must mention)
    ("empty-message", ["chat", "--user", "u1", "--message", ""], {}, 2, "message is empty"),
    ("whitespace-message", ["chat", "--user", "u1", "--message", "  \t "], {}, 2, "message is empty"),
    (
        "message-over-limit",
        ["chat", "--user", "u1", "--message", "y" * 51],
        {"max_message_chars": "50"},
        2,
        "message is 51 characters long; the limit is 50",
    ),
    ("bad-user-id", ["chat", "--user", "bad user!", "--message", "hi"], {}, 2, "invalid user id 'bad user!'"),
    ("empty-user-id", ["chat", "--user", "", "--message", "hi"], {}, 2, "invalid user id ''"),
    (
        "markup-in-user-id",
        ["chat", "--user", "[bold]u1", "--message", "hi"],
        {},
        2,
        "invalid user id '[bold]u1'",
    ),
    (
        "bad-conversation-id",
        ["chat", "--user", "u1", "--conversation", "a b", "--message", "hi"],
        {},
        2,
        "invalid conversation id 'a b'",
    ),
    (
        "k-zero",
        ["memories", "search", "--user", "u1", "--query", "cat", "--k", "0"],
        {},
        2,
        "--k: must be between 1 and 50, got 0",
    ),
    (
        "malformed-env-value",
        ["chat", "--user", "u1", "--message", "hi"],
        {"retrieval_k": "abc"},
        2,
        "COMPANION_RETRIEVAL_K",
    ),
    (
        "chat-model-without-its-key",
        ["chat", "--user", "u1", "--message", "hi"],
        {"chat_model": "openai:gpt-4o-mini"},
        2,
        "cannot use chat model 'openai:gpt-4o-mini': Missing credentials",
    ),
    (
        "unreachable-redis",
        ["chat", "--user", "u1", "--message", "hi"],
        {"redis_url": "redis://127.0.0.1:1"},
        4,
        "cannot reach Redis at redis://127.0.0.1:1",
    ),
    (
        "unreachable-chroma",
        ["chat", "--user", "u1", "--message", "hi"],
        {"chroma_url": "http://127.0.0.1:1"},
        4,
        "cannot reach Chroma at http://127.0.0.1:1",
    ),
]


@pytest.mark.parametrize(
    ("arguments", "settings", "exit_code", "problem"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input_exits_with_one_line_naming_the_problem_and_writes_nothing(
    data_dir: Path,
    tmp_path: Path,
    redis_url: str,
    sync_redis: redis_sync.Redis,
    arguments: list[str],
    settings: dict[str, str],
    exit_code: int,
    problem: str,
) -> None:
    result = companion(*arguments, env=cli_env(data_dir, redis_url, **settings), cwd=tmp_path)
    assert result.returncode == exit_code, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert problem in result.stderr
    user = arguments[arguments.index("--user") + 1]
    assert_nothing_written(data_dir, user, sync_redis)


def test_a_data_dir_below_a_regular_file_is_reported_with_its_path(
    tmp_path: Path, redis_url: str, sync_redis: redis_sync.Redis
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a regular file")
    data_dir = blocker / "data"
    result = companion("chat", "--user", "u1", "--message", "hi", env=cli_env(data_dir, redis_url), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"data directory {data_dir} is not writable" in result.stderr
    assert blocker.read_text() == "a regular file"
    assert sync_redis.dbsize() == 0


def test_debug_shows_the_traceback_of_a_bad_input(data_dir: Path, tmp_path: Path, redis_url: str) -> None:
    result = companion(
        "--debug", "chat", "--user", "u1", "--message", " ", env=cli_env(data_dir, redis_url), cwd=tmp_path
    )
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "InvalidInputError: message is empty" in result.stderr


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"redis_url": "redis://127.0.0.1:1"}, "cannot reach Redis at redis://127.0.0.1:1"),
        ({"chroma_url": "http://127.0.0.1:1"}, "cannot reach Chroma at http://127.0.0.1:1"),
    ],
    ids=["redis", "chroma"],
)
def test_serve_with_an_unreachable_store_is_one_line_and_exit_code_4(
    data_dir: Path, tmp_path: Path, redis_url: str, settings: dict[str, str], problem: str
) -> None:
    result = companion("serve", "--port", "1", env=cli_env(data_dir, redis_url, **settings), cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert problem in result.stderr
