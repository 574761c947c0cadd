"""``companion chat`` hands its turns to a ``companion serve`` on the same data dir (issue 22).

A real ``serve`` (uvicorn, the app, its worker) and the real ``companion chat`` in subprocesses, over the session's
Redis and a temporary data dir; the offline responder answers. What is checked: the turn ran in the server (its
access log, the memory it stored), the CLI printed what it prints running the turn itself and imported none of the
heavy libraries, the server's errors are the CLI's one-line errors and exit codes, and a discovery file left by a
server that is gone sends the CLI back to running the turn itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from test_cli import PROCESS_TIMEOUT, cli_env, companion, json_lines, one_json, sync_redis  # noqa: F401 (fixture)
from test_serve_background import Served, _wait_for, serve  # noqa: F401 (a fixture)

from companion.cli.handoff import DISCOVERY_FILE, new_token, publish, settings_fingerprint
from companion.core.settings import load_settings
from memory.embedded import running_chroma_server

USER = "handoff-ines"
#: What a handed-off turn must not load: the point of handing it off.
HEAVY = {"chromadb", "langgraph", "onnxruntime", "tokenizers", "numpy", "fastapi", "uvicorn"}

PROBE = """
import json, sys
from companion.cli.main import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump(sorted({name.split(".")[0] for name in sys.modules}), out)
sys.exit(code)
"""


def chat_in_probe(
    args: list[str], env: dict[str, str], tmp_path: Path, stdin: str | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``companion chat ARGS`` in a fresh interpreter: the finished process and the top-level packages it imported."""
    report = tmp_path / "modules.json"
    report.unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), "chat", *args],
        env=env,
        cwd=tmp_path,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert report.exists(), result.stderr
    return result, set(json.loads(report.read_text()))


def served_turns(served: Served) -> int:
    """How many chat turns the server has answered (its access log)."""
    return served.log.read_text().count('"POST /v1/chat HTTP/1.1" 200')


@pytest.fixture
def start(serve: Callable[..., Served], data_dir: Path) -> Iterator[Callable[..., Served]]:  # noqa: F811
    """``companion serve --no-background`` with ``settings``, up once it has written its discovery file.

    Stopped with SIGINT at the end, whatever the test's outcome: killed, it would leave behind the Chroma server it
    started for the data dir (a detached process).
    """
    started: list[Served] = []

    def begin(**settings: str) -> Served:
        served = serve("--no-background", env=settings)
        started.append(served)
        _wait_for((data_dir / DISCOVERY_FILE).exists, "serve to write its discovery file")
        return served

    yield begin
    for served in started:
        if served.process.poll() is None:
            served.stop()


def shape(value: Any) -> Any:
    """The keys of ``value``, nested (a list of objects by its first one), without the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value and isinstance(value[0], dict) else "list"
    return type(value).__name__ if value is not None else None


def test_a_one_shot_chat_is_handed_to_serve_and_prints_what_it_prints_itself(
    start: Callable[..., Served],
    data_dir: Path,
    redis_url: str,
    tmp_path: Path,
) -> None:
    served = start()
    env = cli_env(data_dir, redis_url)
    record = json.loads((data_dir / DISCOVERY_FILE).read_text())
    assert record["pid"] == served.process.pid and (data_dir / DISCOVERY_FILE).stat().st_mode & 0o077 == 0

    told = one_json(
        companion("chat", "--user", USER, "--message", "My cat is called Miso.", "--json", env=env, cwd=tmp_path)
    )
    before = served_turns(served)
    result, loaded = chat_in_probe(["--user", USER, "--message", "What is my cat called?", "--json"], env, tmp_path)
    assert served_turns(served) == before + 1  # the server ran the turn ...
    assert loaded & HEAVY == set()  # ... and this process loaded neither the stores nor the models
    handed = one_json(result)
    assert handed["memory_id"] and "Miso" in handed["reply"]
    assert [m["id"] for m in handed["memories"]][:1] == [told["memory_id"]]

    # the memory is the server's: it lists it
    auth = {"Authorization": f"Bearer {record['token']}"}
    listed = served.http.get(f"/v1/users/{USER}/memories", headers=auth)
    assert listed.status_code == 200, listed.text
    assert handed["memory_id"] in {memory["id"] for memory in listed.json()["memories"]}

    # the same object, key for key, as the turn run in this process prints (--local; beside serve it shares Chroma)
    local = one_json(
        companion(
            "chat", "--user", USER, "--local", "--message", "Miso sleeps all day.", "--json", env=env, cwd=tmp_path
        )
    )
    assert served_turns(served) == before + 1
    assert shape(handed) == shape(local)
    assert list(handed) == list(local) and list(handed["timings_ms"]) == list(local["timings_ms"])

    # without --json, the reply line
    text = companion("chat", "--user", USER, "--message", "Goodnight!", env=env, cwd=tmp_path)
    assert text.returncode == 0 and text.stdout.startswith("companion: [offline]") and text.stderr == ""
    assert served_turns(served) == before + 2

    # the token is this process's operator key: every user, admin routes; a near miss is refused
    assert served.http.get("/v1/admin/users", headers=auth).status_code == 200
    near = {"Authorization": f"Bearer {record['token'][:-1]}{'A' if record['token'][-1] != 'A' else 'B'}"}
    assert served.http.get("/v1/admin/users", headers=near).status_code == 401

    assert served.stop() == 0
    assert not (data_dir / DISCOVERY_FILE).exists()  # withdrawn on a clean shutdown
    assert running_chroma_server(data_dir) is None


def test_an_interactive_chat_is_handed_to_serve_turn_by_turn(
    start: Callable[..., Served],
    data_dir: Path,
    redis_url: str,
    tmp_path: Path,
) -> None:
    served = start()
    lines = "I'm learning the cello.\n\nignored after the empty line\n"
    result, loaded = chat_in_probe(["--user", USER, "--json"], cli_env(data_dir, redis_url), tmp_path, stdin=lines)
    turns = json_lines(result)
    assert len(turns) == 1 and turns[0]["memory_id"]
    assert served_turns(served) == 1 and loaded & HEAVY == set()

    both = "What am I learning?\n/quit\n"
    result, _ = chat_in_probe(["--user", USER, "--json"], cli_env(data_dir, redis_url), tmp_path, stdin=both)
    assert [m["text"] for m in one_json(result)["memories"]][:1] == ["I'm learning the cello."]
    assert served_turns(served) == 2


def test_the_services_errors_are_the_clis_one_line_errors_and_exit_codes(
    start: Callable[..., Served],
    data_dir: Path,
    redis_url: str,
    tmp_path: Path,
    sync_redis: redis_sync.Redis,  # noqa: F811
) -> None:
    # The server accepts shorter messages and fewer per minute than this CLI would: the errors are the server's.
    served = start(max_message_chars="40", rate_limit_per_user="2")
    env = cli_env(data_dir, redis_url)

    long = companion(
        "chat", "--user", USER, "--message", "a message longer than forty characters, surely", env=env, cwd=tmp_path
    )
    assert long.returncode == 2, long.stderr
    assert long.stderr.strip().splitlines() == ["error: message is 46 characters long; the limit is 40"]
    assert long.stdout == "" and "Traceback" not in long.stderr

    flood = "handoff-flood"
    codes = [
        companion("chat", "--user", flood, "--message", f"hello {n}", "--json", env=env, cwd=tmp_path) for n in range(3)
    ]
    assert [result.returncode for result in codes] == [0, 0, 3], codes[-1].stderr
    limited = codes[-1].stderr.strip().splitlines()
    assert len(limited) == 1 and limited[0].startswith("error: ") and "Traceback" not in limited[0]
    assert served_turns(served) == 2

    # interactive: the error is printed and the session goes on
    session = companion("chat", "--user", "handoff-other", "--json", env=env, cwd=tmp_path, stdin="x" * 41 + "\nhi\n")
    assert session.returncode == 0 and len(json_lines(session)) == 1
    assert session.stderr.strip().splitlines() == ["error: message is 41 characters long; the limit is 40"]


def test_a_discovery_file_of_a_server_that_is_gone_is_ignored(data_dir: Path, redis_url: str, tmp_path: Path) -> None:
    env = cli_env(data_dir, redis_url)
    settings = load_settings(data_dir=data_dir, redis_url=redis_url)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lingering = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "companion", "serve"])
    try:
        for pid in (gone.pid, lingering.pid):  # a killed server; a live one that no longer listens where it said
            publish(data_dir, host="127.0.0.1", port=9, token=new_token(), fingerprint=settings_fingerprint(settings))
            record = json.loads((data_dir / DISCOVERY_FILE).read_text())
            (data_dir / DISCOVERY_FILE).write_text(json.dumps({**record, "pid": pid}))
            result, loaded = chat_in_probe(["--user", USER, "--message", f"hello from {pid}", "--json"], env, tmp_path)
            assert one_json(result)["memory_id"]
            assert {"chromadb", "langgraph"} <= loaded  # the turn ran in this process, as without a server
    finally:
        lingering.kill()
        lingering.wait()


def test_a_chat_model_failure_in_the_service_is_exit_5_in_one_line(
    start: Callable[..., Served],
    data_dir: Path,
    redis_url: str,
    tmp_path: Path,
) -> None:
    model = {"chat_model": "openai:gpt-4o-mini", "openai_base_url": "http://127.0.0.1:1/v1", "openai_api_key": "test"}
    start(**model)  # nothing listens on port 1: every reply fails
    result, loaded = chat_in_probe(
        ["--user", USER, "--message", "hello there"], cli_env(data_dir, redis_url, **model), tmp_path
    )
    assert result.returncode == 5, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the chat model failed"), result.stderr
    assert loaded & HEAVY == set()  # the service ran the turn, and failed it
