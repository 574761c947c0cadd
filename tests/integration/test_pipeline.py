"""The flows end to end: what a chat turn or a bot's chat buffer queues is what the association worker consumes."""

from __future__ import annotations

import json

import pytest
from chromadb.api import ClientAPI
from redis.asyncio import Redis

from bots.common.chat_buffer import BufferedMessage, ChatBatchQueue, ChatBuffer
from companion.runtime.ingest import Ingestor, implicate_chat_batch
from companion.runtime.worker import AssociationWorker
from graphs.association import build_graph as build_association_graph
from graphs.conversation import build_graph as build_conversation_graph
from graphs.conversation import run_turn
from memory.association_queue import AssociationQueue
from memory.embeddings import Embedder
from memory.links import LinkStore
from memory.long_term import LongTermStore
from memory.short_term import ASSOCIATION_STREAM, ShortTermStore
from tools.detection import load_detector


@pytest.fixture
def links(chroma_client: ClientAPI) -> LinkStore:
    return LinkStore(chroma_client)


def make_worker(redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder) -> AssociationWorker:
    ingestor = Ingestor(
        redis=redis,
        long_term=long_term,
        links=links,
        embedder=embedder,
        detector_factory=load_detector,
        retry_wait_seconds=0.01,
    )

    async def implicator(entry_id: str, fields: dict[str, str]) -> int:
        return await implicate_chat_batch(redis, links, entry_id, fields)

    return AssociationWorker(
        queue=AssociationQueue(redis),
        graph=build_association_graph(long_term=long_term, links=links, embedder=embedder),
        ingestor=ingestor.process_submissions,
        implicator=implicator,
        retry_wait_seconds=0.01,
    )


async def test_an_emotional_chat_turn_is_decided_by_the_worker(
    redis: Redis, short_term: ShortTermStore, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    graph = build_conversation_graph(long_term=long_term, short_term=short_term, embedder=embedder)
    calm = await run_turn(graph, user_id="pipe-a", message="The bus timetable changed on Monday.")
    state = await run_turn(graph, user_id="pipe-a", message="I got the job!!! I am so happy and excited, I can't wait!")
    assert state["detection"]["intensity"] > 30 and state["detection"]["emotion"] != "neutral"
    stored = long_term.get("pipe-a", state["memory_id"])
    assert stored is not None and stored.emotion == state["detection"]["emotion"]

    result = await make_worker(redis, long_term, links, embedder).drain()
    assert result.processed == 2 and result.dead == 0
    decided = links.outcomes("pipe-a", [state["memory_id"], calm["memory_id"]])
    assert state["memory_id"] in decided, "the emotional message was decided, not skipped"
    calm_signal = calm["detection"]["intensity"] > 30 and calm["detection"]["emotion"] != "neutral"
    assert result.outcomes["skipped"] == (0 if calm_signal else 1)
    assert await redis.xlen(ASSOCIATION_STREAM) == 0  # acknowledged and removed
    assert (await redis.xpending(ASSOCIATION_STREAM, "association"))["pending"] == 0


async def test_a_group_chat_overflow_becomes_memories_of_each_author_exactly_once(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    buffer, queue = ChatBuffer(capacity=6, batch_size=50), ChatBatchQueue(redis, platform="telegram")
    said = [
        ("telegram:1", "ann", "I adopted a grey cat called Pixel yesterday, she is adorable."),
        ("telegram:2", "bo", "My marathon is in three weeks and my knee hurts."),
        ("telegram:1", "ann", "Pixel already sleeps on my keyboard every morning."),
        ("telegram:2", "bo", "I switched to running on grass to save the knee."),
        ("telegram:1", "ann", "Work is calm this month, finally."),
        ("telegram:2", "bo", "Booked the train to Porto for the race."),
        ("telegram:1", "ann", "Anyone tried the new bakery on Rua Augusta?"),
    ]
    batches = []
    for index, (user_id, author, text) in enumerate(said):
        batches += buffer.add(BufferedMessage("g-1", user_id, author, text, 1_760_000_000.0 + index))
    [batch] = batches  # 7 messages overflow a buffer of 6: 5 leave, 2 stay as context
    [entry_id] = await queue.push(batch)

    worker = make_worker(redis, long_term, links, embedder)
    result = await worker.drain()
    assert result.dead == 0 and result.ingested >= 2
    left = {m.text for m in batch.messages}
    for user_id in ("telegram:1", "telegram:2"):
        texts = {record.text for record in long_term.list_memories(user_id, limit=100)}
        assert texts == {text for uid, _, text in said if uid == user_id and text in left}
    # a redelivered entry submits nothing twice
    messages = json.dumps([message.to_dict() for message in batch.messages])
    fields = {"kind": "chat_batch", "platform": "telegram", "chat_id": "g-1", "messages": messages}
    assert await implicate_chat_batch(redis, links, entry_id, fields) == 0
    assert await implicate_chat_batch(redis, links, "another-entry", fields) == 2  # the check is real


async def test_an_unreadable_chat_batch_goes_to_the_dead_letters_and_the_worker_goes_on(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    bad_time = json.dumps([{"user_id": "telegram:5", "author": "x", "text": "hello", "ts": "yesterday-ish"}])
    await redis.xadd(
        ASSOCIATION_STREAM, {"kind": "chat_batch", "platform": "telegram", "chat_id": "g", "messages": "{"}
    )
    await redis.xadd(
        ASSOCIATION_STREAM, {"kind": "chat_batch", "platform": "telegram", "chat_id": "g", "messages": bad_time}
    )
    result = await make_worker(redis, long_term, links, embedder).drain()
    assert result.dead == 2 and result.processed == 0
    dead = await redis.xrange(f"{ASSOCIATION_STREAM}:dead")
    assert len(dead) == 2 and all(b"error" in fields for _, fields in dead)
