"""A local OpenAI-compatible server for end-to-end tests: the only fake, so the real ``langchain-openai`` client runs.

It answers ``POST /v1/chat/completions`` (non-streaming) and keeps every request so a test can check what reached
the model. Structured-output requests (importance and category, sensitivity) get fixed answers; every other
request is answered by the test's ``reply`` function from the request body.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: What the server answers to an importance/category request.
SCORED = {"importance": 900, "category": "interest"}
#: What it answers to a sensitivity request (design seed 002).
CLASSIFIED = {"classification": "confidential", "confidence": 0.88, "tags": ["pets"], "sentiment": "positive"}


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


def is_scoring(body: dict[str, Any]) -> bool:
    return "response_format" in body or "tools" in body


@contextmanager
def serve_openai(reply: Callable[[dict[str, Any]], str], *, delay: float = 0.0) -> Iterator[FakeOpenAI]:
    """Run the server on a free loopback port for the ``with`` block; ``reply(body)`` writes each free-text answer.

    ``delay`` (seconds): every request is answered that long after it arrived, as a remote model would (each on
    its own thread, so requests made side by side wait side by side; ``bench/hot_path.py --chat-delay-ms``).
    """
    server_state = FakeOpenAI(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            arrived = time.monotonic()
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
                text = reply(body)
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
            time.sleep(max(0.0, delay - (time.monotonic() - arrived)))
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
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def serve_openai_process(reply: str, *, delay: float = 0.0) -> Iterator[str]:
    """The same server in a process of its own, answering every free-text request with ``reply``; yields its URL.

    For benchmarks: a model is another machine, so its HTTP handling must not take the measured process's CPU
    and GIL (in-process, the server's threads were timed as part of the turn).
    """
    command = [sys.executable, "-m", "tests.e2e.openai_server", "--reply", reply, "--delay", str(delay)]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    process = subprocess.Popen(command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the OpenAI-compatible server did not start (exit code {process.wait()})")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the server stops when its stdin closes
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def openai_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a ``companion`` process whose chat model is the server at ``url``: this process's own,
    less any ``COMPANION_``/``OPENAI_`` setting, offline, and with loopback kept off any proxy."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPANION_", "OPENAI_"))}
    env.update(
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        COMPANION_CHAT_MODEL="openai:gpt-4o-mini",
        COMPANION_OPENAI_BASE_URL=url,
        COMPANION_OPENAI_API_KEY="test",
        **extra,
    )
    return env


def main() -> None:
    """Serve until stdin closes (``serve_openai_process``); prints the URL first."""
    parser = argparse.ArgumentParser(description="A local OpenAI-compatible server (tests and benchmarks).")
    parser.add_argument("--reply", required=True, help="the answer to every free-text request")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between a request and its answer")
    args = parser.parse_args()
    with serve_openai(lambda body: args.reply, delay=args.delay) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
