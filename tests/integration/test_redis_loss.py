"""Accepted work survives Redis losing data (seed 004: Chroma is the source of truth).

A turn's memory carries a pending mark in Chroma until association has processed it; the worker's sweep queues
again what no stream holds. Real Redis (a server of the test's own where it is stopped), real Chroma, the real
embedder and detector; no chat model (the offline responder).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api import ClientAPI
from langgraph.checkpoint.memory import InMemorySaver
from redis.asyncio import Redis

from app.services.chat import to_response
from companion.runtime.worker import SWEEP_MIN_AGE_SECONDS, AssociationWorker, requeue_pending, run_scheduled
from graphs.association import build_graph as association_graph
from graphs.conversation import build_graph as conversation_graph
from graphs.conversation import run_turn
from memory.association_queue import AssociationQueue
from memory.embedded import EmbeddedRedis
from memory.embeddings import Embedder
from memory.links import LinkStore
from memory.long_term import LongTermStore
from memory.records import MemoryRecord
from memory.short_term import ShortTermStore

MESSAGES = [
    "My sister Ana is getting married in June and I am so happy for her!",
    "I am really scared about the surgery next week.",
    "Work has been so stressful, too many meetings again.",
    "I finally finished my first marathon, I am so proud!",
    "I miss my grandmother, she passed away last spring.",
    "My dog Rex loves the beach, it made me smile today.",
]


def turns_graph(long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder) -> Any:
    return conversation_graph(
        long_term=long_term, short_term=short_term, embedder=embedder, checkpointer=InMemorySaver()
    )


def worker_over(redis: Redis, long_term: LongTermStore, embedder: Embedder) -> AssociationWorker:
    graph = association_graph(long_term=long_term, links=LinkStore(long_term.client), embedder=embedder)
    return AssociationWorker(queue=AssociationQueue(redis), graph=graph, retry_wait_seconds=0.01)


def pending_ids(long_term: LongTermStore, user_id: str) -> set[str]:
    return {record.id for record in long_term.pending(user_id)}


async def test_after_flushall_the_sweep_requeues_every_accepted_turn_and_the_worker_associates_them(
    redis: Redis, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = turns_graph(long_term, short_term, embedder)
    ids = [(await run_turn(graph, user_id="rq-user", message=text))["memory_id"] for text in MESSAGES]
    assert pending_ids(long_term, "rq-user") == set(ids)  # accepted, queued, not associated yet
    queue = AssociationQueue(redis)
    later = time.time() + SWEEP_MIN_AGE_SECONDS + 1
    assert await requeue_pending(queue, long_term, now=later) == 0  # every one is still on the stream

    await redis.flushall()  # Redis loses every queued association job
    assert await requeue_pending(queue, long_term) == 0  # too young: a writer may be queuing them right now
    assert await requeue_pending(queue, long_term, now=later) == len(ids)
    assert await requeue_pending(queue, long_term, now=later) == 0  # queued now: not queued twice

    result = await worker_over(redis, long_term, embedder).drain()
    assert result.processed == len(ids) and result.dead == 0 and result.deferred == 0
    assert sum(result.outcomes.values()) == len(ids)
    assert pending_ids(long_term, "rq-user") == set()  # 0 accepted turns never processed
    assert await requeue_pending(queue, long_term, now=later) == 0


async def test_the_scheduled_worker_sweeps_as_it_starts(
    redis: Redis, long_term: LongTermStore, embedder: Embedder
) -> None:
    stop = asyncio.Event()
    swept: list[int] = []

    async def sweep() -> int:
        swept.append(await requeue_pending(AssociationQueue(redis), long_term))
        stop.set()
        return swept[-1]

    worker = worker_over(redis, long_term, embedder)
    await asyncio.wait_for(run_scheduled(worker, interval=3600, sweep=sweep, stop=stop), timeout=120)  # a hang bound
    assert swept == [0]  # at start, not after the first interval


class RedisDiesAfterTheChromaWrite(LongTermStore):
    """Our own store that stops the Redis server right after a memory is written: the outage between the writes."""

    server: EmbeddedRedis | None = None

    def add(self, user_id: str, records: Sequence[MemoryRecord], embeddings: np.ndarray) -> None:
        super().add(user_id, records, embeddings)
        if self.server is not None:
            self.server.stop()
            self.server = None


async def test_a_redis_outage_between_the_two_writes_returns_the_reply_and_the_turn_is_associated_later(
    tmp_path: Path, chroma_client: ClientAPI, embedder: Embedder
) -> None:
    server = EmbeddedRedis(tmp_path / "outage")
    server.ensure_running()
    redis = Redis.from_url(server.url)
    try:
        long_term = RedisDiesAfterTheChromaWrite(chroma_client)
        short_term = ShortTermStore(redis, per_user_per_minute=1000, global_per_minute=100_000)
        graph = turns_graph(long_term, short_term, embedder)
        long_term.server = server
        state = await run_turn(graph, user_id="out-user", message=MESSAGES[0])

        assert state["reply"] and state["short_term"] == "deferred" and state["association_entry"] is None
        assert to_response(state).short_term == "deferred"
        stored = long_term.get("out-user", state["memory_id"])
        assert stored is not None and stored.assoc_pending  # the memory is kept, waiting for association

        await asyncio.to_thread(server.ensure_running)
        queue = AssociationQueue(redis)
        assert await queue.known_messages() == set()  # the turn never reached the queue
        assert await requeue_pending(queue, long_term, now=time.time() + SWEEP_MIN_AGE_SECONDS + 1) == 1
        result = await worker_over(redis, long_term, embedder).drain()
        assert result.processed == 1 and result.dead == 0
        assert pending_ids(long_term, "out-user") == set()

        following = await run_turn(graph, user_id="out-user", message="What did I tell you earlier?")
        assert following["context_source"] == "chroma" and following["short_term"] == "stored"
        assert MESSAGES[0] in [turn["content"] for turn in following["context"]]
    finally:
        await redis.aclose()
        server.stop()
