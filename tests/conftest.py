"""Shared fixtures: a real embedded Redis server for the session, real Chroma, the real local embedder.

Only the chat model is faked (``FakeChatModel``), at LangChain's boundary.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.api import ClientAPI
from chromadb.api.client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings
from cryptography.fernet import Fernet
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from redis.asyncio import Redis

from memory.cipher import TextCipher
from memory.embedded import EmbeddedRedis
from memory.embeddings import Embedder, load_embedder
from memory.long_term import LongTermStore
from memory.short_term import ShortTermStore

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# Apps and bots built in-process leave the queues to the test; tests/integration/test_serve_background.py runs the
# default (the worker and the scheduler inside `companion serve`) in a process of its own.
os.environ.setdefault("COMPANION_BACKGROUND", "false")


class FakeChatModel(GenericFakeChatModel):
    """LangChain's fake chat model, with ``bind_tools`` so tool-calling code paths accept it."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> FakeChatModel:  # type: ignore[override]
        return self


def fake_chat_model(*replies: str) -> FakeChatModel:
    """A fake chat model answering ``replies`` in order."""
    return FakeChatModel(messages=iter([AIMessage(reply) for reply in replies]))


def importance_scorer(importance: int, category: str, *, turns: int = 1) -> FakeChatModel:
    """A fake scorer model giving ``importance`` and ``category`` (the seed's structured output) ``turns`` times."""
    return FakeChatModel(
        messages=iter(
            AIMessage(
                "",
                tool_calls=[
                    {
                        "name": "ImportanceAndCategory",
                        "args": {"importance": importance, "category": category},
                        "id": f"call-{turn}",
                    }
                ],
            )
            for turn in range(turns)
        )
    )


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("companion-session")


@pytest.fixture(scope="session")
def redis_server(session_dir: Path) -> Iterator[EmbeddedRedis]:
    """One real Redis server (the embedded one) for the whole test session."""
    server = EmbeddedRedis(session_dir / "redis-data")
    server.ensure_running()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client on a flushed database: each test starts with an empty Redis."""
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def embedder(session_dir: Path) -> Embedder:
    """The real local embedder (ONNX MiniLM), built once per session."""
    return load_embedder(session_dir / "models")


@pytest.fixture
def data_dir(tmp_path: Path, session_dir: Path, embedder: Embedder) -> Path:
    """A fresh data dir whose model cache is the session's (the ``embedder`` fixture has built it)."""
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / "models").symlink_to(session_dir / "models", target_is_directory=True)
    return directory


@pytest.fixture
def chroma_client(tmp_path: Path) -> Iterator[ClientAPI]:
    """A real embedded Chroma in a fresh directory, released after the test.

    Chroma keeps every client's system (its SQLite connections, loaded vector indexes, Rust runtime) in a process-wide
    cache keyed by path, for the life of the process; each test's directory is new, so without the release the
    cache, and pytest's memory, grew by one store per test.
    """
    yield chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    SharedSystemClient.clear_system_cache()


@pytest.fixture
def long_term(chroma_client: ClientAPI) -> LongTermStore:
    return LongTermStore(chroma_client, cipher=TextCipher(Fernet.generate_key()))


@pytest.fixture
def short_term(redis: Redis) -> ShortTermStore:
    return ShortTermStore(redis, per_user_per_minute=1000, global_per_minute=100_000)
