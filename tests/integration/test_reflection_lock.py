"""Reflection and the association worker never update one user's memories at the same time.

Both are real (the reflection graph and the association worker with its graph) and share the worker's per-user
lock in the real Redis. Each test holds one side inside its critical section (a chat-model call that waits for a
signal), starts the other, and checks it only gets in after the first one has finished.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from chromadb.api import ClientAPI
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from redis.asyncio import Redis

from companion.core.errors import UserBusyError
from companion.runtime.worker import AssociationWorker
from graphs.association import build_graph as build_association
from graphs.reflection import archive_store, run_reflection
from graphs.reflection import build_graph as build_reflection
from memory.association_queue import AssociationQueue, lock_key
from memory.embeddings import Embedder
from memory.links import LinkStore
from memory.long_term import LongTermStore
from memory.records import MemoryRecord
from memory.reflection_log import ReflectionLog
from memory.short_term import ASSOCIATION_STREAM, ShortTermStore
from tests.conftest import FakeChatModel

USER = "lock-user"
RUNS = [
    "I went running in the park this morning",
    "This morning I went for a run in the park",
    "I ran in the park again today before work",
]


class GatedModel(FakeChatModel):
    """Answers like the fake model, but first records the call and waits until the test opens the gate."""

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        EVENTS.append("reflection model called")
        ENTERED.set()
        assert RELEASED.wait(30), "the test never opened the gate"
        return super()._generate(messages, *args, **kwargs)


EVENTS: list[str] = []
ENTERED, RELEASED = threading.Event(), threading.Event()


class RecordingGraph:
    """The association graph, recording when the worker runs it (and optionally holding it until released)."""

    def __init__(self, graph: Any, gate: asyncio.Event | None = None) -> None:
        self.graph, self.gate = graph, gate

    async def ainvoke(self, *args: Any, **kwargs: Any) -> Any:
        EVENTS.append("association starts")
        if self.gate is not None:
            await self.gate.wait()
        result = await self.graph.ainvoke(*args, **kwargs)
        EVENTS.append("association ends")
        return result


@pytest.fixture(autouse=True)
def fresh_events() -> None:
    EVENTS.clear()
    ENTERED.clear()
    RELEASED.clear()


async def plant(long_term: LongTermStore, embedder: Embedder, redis: Redis) -> None:
    """Three similar memories for reflection to consolidate, and one new message queued for association."""
    now = time.time()
    records = [
        MemoryRecord(id=f"run-{i}", user_id=USER, text=text, created_at=now - 86_400 * (3 - i))
        for i, text in enumerate(RUNS)
    ]
    message = MemoryRecord(
        id="msg-1", user_id=USER, text="My sister Ana is getting married in June!", emotion="happiness",
        emotion_intensity=80, importance=700, created_at=now,
    )  # fmt: skip
    long_term.add(USER, [*records, message], embedder.embed([r.text for r in [*records, message]]))
    fields = {"user_id": USER, "conversation_id": "c", "memory_id": message.id, "created_at": repr(now)}
    await redis.xadd(ASSOCIATION_STREAM, fields)  # type: ignore[arg-type]


def reflection(
    chroma: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, summary: str
) -> Any:
    """The reflection graph, its chat model (the consolidation summariser) gated."""
    return build_reflection(
        long_term=long_term,
        archive=archive_store(long_term),
        short_term=short_term,
        log=ReflectionLog(chroma),
        embedder=embedder,
        chat_model=GatedModel(messages=iter([AIMessage(summary)])),
    )


def worker(redis: Redis, long_term: LongTermStore, chroma: ClientAPI, embedder: Embedder, **kw: Any) -> Any:
    graph = build_association(long_term=long_term, links=LinkStore(chroma), embedder=embedder)
    return AssociationWorker(queue=AssociationQueue(redis), graph=RecordingGraph(graph, **kw), retry_wait_seconds=0.01)  # type: ignore[arg-type]


async def until(condition: Any) -> None:
    for _ in range(600):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never met")


async def test_the_worker_waits_while_reflection_runs_even_past_the_lock_expiry(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> None:
    await plant(long_term, embedder, redis)
    summary = "The user runs in the park most mornings."
    graph = reflection(chroma_client, long_term, short_term, embedder, summary)
    # the lock expires after 1.5 s unless renewed (every 0.5 s); reflection holds it for well over that
    reflecting = asyncio.create_task(
        run_reflection(graph, user_id=USER, tasks=["consolidate"], lock=AssociationQueue(redis), lock_seconds=1.5)
    )
    assert await asyncio.to_thread(ENTERED.wait, 60)  # reflection is inside its run, holding the lock
    assert await redis.exists(lock_key(USER))

    association = worker(redis, long_term, chroma_client, embedder)
    ticking = asyncio.create_task(association.tick())

    async def worker_holds_the_message() -> bool:  # read from the stream, now waiting for the user's lock
        return (await association.queue.backlog())["pending"] == 1

    await until(worker_holds_the_message)
    await asyncio.sleep(4.0)  # 2.7 lock lifetimes: a lock that was not renewed would have let the worker in
    seen_before_release = list(EVENTS)
    RELEASED.set()
    report = await reflecting
    result = await ticking

    assert seen_before_release == ["reflection model called"]  # the worker did not start meanwhile
    assert EVENTS == ["reflection model called", "association starts", "association ends"]
    assert [c["text"] for c in report["consolidations"]] == [summary]
    assert result.processed == 1 and not await redis.exists(lock_key(USER))


async def test_reflection_waits_while_the_worker_processes_the_user(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> None:
    await plant(long_term, embedder, redis)
    gate = asyncio.Event()
    association = worker(redis, long_term, chroma_client, embedder, gate=gate)
    ticking = asyncio.create_task(association.tick())

    async def worker_started() -> bool:
        return "association starts" in EVENTS

    await until(worker_started)  # the worker holds the user's lock and is inside its graph
    RELEASED.set()  # reflection's model does not wait: only the lock can hold reflection back
    graph = reflection(chroma_client, long_term, short_term, embedder, "The user runs in the park.")
    reflecting = asyncio.create_task(
        run_reflection(graph, user_id=USER, tasks=["consolidate"], lock=AssociationQueue(redis), lock_seconds=30)
    )
    await asyncio.sleep(1.0)
    seen_before_release = list(EVENTS)
    gate.set()
    await ticking
    report = await reflecting

    assert seen_before_release == ["association starts"]  # reflection did not start its work meanwhile
    assert EVENTS == ["association starts", "association ends", "reflection model called"]
    assert len(report["consolidations"]) == 1


async def test_reflection_gives_up_with_a_one_line_error_when_the_user_stays_locked(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> None:
    await plant(long_term, embedder, redis)
    held = AssociationQueue(redis).lock(USER, timeout=30)
    assert await held.acquire()
    RELEASED.set()
    graph = reflection(chroma_client, long_term, short_term, embedder, "The user runs in the park.")
    with pytest.raises(UserBusyError, match="being updated by another process"):
        await run_reflection(graph, user_id=USER, tasks=["consolidate"], lock=AssociationQueue(redis), lock_seconds=0.2)
    assert EVENTS == [] and long_term.count(USER) == 4  # nothing of the run happened
    await held.release()


async def test_a_lock_that_lapsed_during_a_stall_is_taken_back_when_free(redis: Redis) -> None:
    """A process that stalls past the lock's lifetime between two renewals takes the lock back if it is free
    (before, the renewal task died on the lapsed lock and the rest of the run went unprotected)."""
    queue = AssociationQueue(redis)
    async with queue.hold("stalled", timeout=0.6):
        token = await redis.get(lock_key("stalled"))
        await redis.delete(lock_key("stalled"))  # what a stall past the lifetime looks like from Redis
        await asyncio.sleep(0.5)  # more than one renewal period (0.2 s)
        assert await redis.get(lock_key("stalled")) == token
    assert not await redis.exists(lock_key("stalled"))


async def test_a_lapsed_lock_that_another_process_took_is_left_to_it(redis: Redis) -> None:
    queue = AssociationQueue(redis)
    async with queue.hold("taken", timeout=0.6):
        await redis.delete(lock_key("taken"))
        other = queue.lock("taken", timeout=30)
        assert await other.acquire(blocking=False)
        await asyncio.sleep(0.5)
        assert await other.owned()  # the stalled holder did not take it back
    assert await other.owned()  # nor release it on the way out
    await other.release()
