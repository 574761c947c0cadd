"""LangGraph Studio's server (``langgraph dev``) serving the four graphs of ``langgraph.json``.

The real ``langgraph dev`` runs as a subprocess (in-memory runtime, blockbuster on: a blocking call on its event loop
fails the request) over a fresh data dir and the session's Redis, without a chat model (the offline responder).
For each graph: the drawing and the schemas Studio asks for, and a threadless run of what the README says to type.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from memory.embeddings import Embedder

ROOT = Path(__file__).resolve().parents[2]
LANGGRAPH = Path(sys.executable).parent / "langgraph"
GRAPHS = ("conversation", "association", "reflection", "proactive")
# Bounds on a hung server; not speed assertions.
START_TIMEOUT = 180.0
REQUEST_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0


@dataclass
class Studio:
    """The running server: its HTTP client, log file and process."""

    client: httpx.Client
    log: Path
    process: subprocess.Popen[bytes]

    def assistant_id(self, graph: str) -> str:
        """The id of the assistant the server made for ``graph`` (``/schemas`` takes only an id)."""
        found = self.client.post("/assistants/search", json={"graph_id": graph}).json()
        assert len(found) == 1, found
        return str(found[0]["assistant_id"])

    def run(self, graph: str, payload: dict[str, Any], context: dict[str, Any] | None = None) -> dict[str, Any]:
        """A threadless run to the end (``POST /runs/wait``); the final output, or the server's ``__error__``."""
        body: dict[str, Any] = {"assistant_id": self.assistant_id(graph), "input": payload}
        if context is not None:
            body["context"] = context
        response = self.client.post("/runs/wait", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def studio_config(directory: Path) -> Path:
    """The repository's ``langgraph.json`` with absolute paths and without its ``.env``, which could name a model."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    config.pop("env", None)
    config["dependencies"] = [str(ROOT)]
    config["graphs"] = {
        name: str(ROOT / spec.split(":")[0]) + ":" + spec.split(":")[1] for name, spec in config["graphs"].items()
    }
    path = directory / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


def server_env(data_dir: Path, redis_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPANION_", "OPENAI_"))}
    env.update(
        COMPANION_DATA_DIR=str(data_dir),
        COMPANION_REDIS_URL=redis_url,
        HF_HUB_OFFLINE="1",
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGGRAPH_NO_VERSION_CHECK="true",
        LANGSMITH_TRACING="false",
    )
    return env


@pytest.fixture(scope="module")
def studio(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, session_dir: Path, embedder: Embedder
) -> Iterator[Studio]:
    """``langgraph dev`` on a free port; stopped (SIGINT, as Ctrl-C) by the last test, or after the module."""
    directory = tmp_path_factory.mktemp("studio")
    data_dir = directory / "data"
    data_dir.mkdir()
    (data_dir / "models").symlink_to(session_dir / "models", target_is_directory=True)  # built by ``embedder``
    port = free_port()
    log = directory / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(LANGGRAPH), "dev", "--no-browser", "--no-reload", "--port", str(port)]
            + ["--config", str(studio_config(directory))],
            cwd=directory,  # its in-memory runtime keeps threads and runs in ./.langgraph_api
            env=server_env(data_dir, redis_url),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_TIMEOUT)
    server = Studio(client=client, log=log, process=process)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"langgraph dev exited:\n{server.log_text()[-4000:]}"
            assert time.monotonic() < deadline, f"langgraph dev did not start:\n{server.log_text()[-4000:]}"
            try:
                if client.get("/ok").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield server
    finally:
        client.close()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.parametrize("graph", GRAPHS)
def test_studio_draws_each_graph_and_gets_its_schemas(studio: Studio, graph: str) -> None:
    assistant = studio.assistant_id(graph)
    drawn = studio.client.get(f"/assistants/{assistant}/graph")
    assert drawn.status_code == 200, drawn.text
    assert {"__start__", "__end__"} <= {node["id"] for node in drawn.json()["nodes"]}
    assert studio.client.get(f"/assistants/{assistant}/graph", params={"xray": "true"}).status_code == 200

    schemas = studio.client.get(f"/assistants/{assistant}/schemas")
    assert schemas.status_code == 200, schemas.text
    body = schemas.json()
    for key in ("input_schema", "output_schema", "state_schema", "context_schema"):
        assert body[key] and body[key]["type"] == "object", (key, body[key])
    context = body["context_schema"]["properties"]
    assert "user_id" in context
    # no embedding arrays in what a run returns
    assert not {"query_embedding", "messages", "scored"} & set(body["output_schema"]["properties"])


def test_a_conversation_turn_runs_then_association_takes_its_message(studio: Studio) -> None:
    turn = studio.run(
        "conversation", {"message": "I am so happy, I finally got the job I wanted!"}, {"user_id": "studio-e2e"}
    )
    assert "__error__" not in turn, turn
    assert turn["responder"] == "offline" and turn["reply"]
    assert turn["detection"]["is_emotional_signal"]
    assert "query_embedding" not in turn

    batch = studio.run("association", {"message_ids": [turn["memory_id"]]}, {"user_id": "studio-e2e"})
    assert "__error__" not in batch, batch
    assert set(batch["outcomes"]) == {turn["memory_id"]}
    assert "messages" not in batch and "scored" not in batch

    empty = studio.run("association", {}, {"user_id": "studio-e2e"})
    assert empty.get("outcomes", {}) == {} and "__error__" not in empty


def test_reflection_and_proactive_runs_complete(studio: Studio) -> None:
    reflection = studio.run("reflection", {}, {"user_id": "studio-e2e"})
    assert "__error__" not in reflection, reflection
    assert (
        set(reflection["done"]) == set(reflection["tasks"]) == {"consolidate", "conflicts", "insights", "personality"}
    )

    proactive = studio.run("proactive", {"dry_run": True}, {"user_id": "studio-e2e"})
    assert "__error__" not in proactive, proactive
    assert proactive["decision"] in {"blocked", "below_threshold", "would_send"}


def test_a_run_without_a_user_id_says_what_to_pass(studio: Studio) -> None:
    result = studio.run("conversation", {"message": "hello"})
    assert result["__error__"]["error"] == "MissingContextError"
    assert '{"user_id": "alice"}' in result["__error__"]["message"]


def test_services_are_built_once_and_closed_when_the_server_stops(studio: Studio) -> None:
    """Last in the module: it stops the server."""
    for graph in GRAPHS:
        assert studio.client.get(f"/assistants/{studio.assistant_id(graph)}/graph").status_code == 200
    assert studio.log_text().count("studio: built the process's services") == 1

    studio.process.send_signal(signal.SIGINT)
    studio.process.wait(timeout=STOP_TIMEOUT)
    log = studio.log_text()
    assert log.count("studio: closed the process's services") == 1
    assert "BlockingError" not in log
