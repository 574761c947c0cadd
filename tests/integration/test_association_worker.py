"""The association worker on the real stream: at-least-once delivery, reclaiming, retries, dead letters, two
workers at once, and a Redis restart in the middle of processing. Real Redis, real Chroma, real embedder."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import httpx
import openai
import pytest
from chromadb.api import ClientAPI
from chromadb.config import Settings as ChromaSettings
from conftest import FakeChatModel, fake_chat_model
from redis.asyncio import Redis
from redis.exceptions import RedisError

from companion.runtime.worker import AssociationWorker
from graphs.association import build_graph
from memory.association_queue import WORKERS_KEY, AssociationQueue, RedisLLMBudget
from memory.embedded import EmbeddedChromaServer, EmbeddedRedis, running_chroma_server
from memory.embeddings import Embedder
from memory.links import LinkStore
from memory.long_term import LongTermStore
from memory.records import MemoryKind, MemoryRecord, new_id
from memory.short_term import ASSOCIATION_STREAM

TOPICS = [
    ("My dog Rex loves the beach.", "pets"),
    ("I am learning to play the cello on Tuesdays.", "interest"),
    ("My sister Ana is getting married in June.", "person"),
    ("Work has been stressful with too many meetings.", "problem"),
]


@pytest.fixture
def links(chroma_client: ClientAPI) -> LinkStore:
    return LinkStore(chroma_client)


def seed_memories(long_term: LongTermStore, embedder: Embedder, user_id: str) -> list[MemoryRecord]:
    """One semantic memory per topic, to be versioned or related."""
    records = [
        MemoryRecord(id=new_id(), user_id=user_id, text=text, kind=MemoryKind.SEMANTIC, category=category)
        for text, category in TOPICS
    ]
    long_term.add(user_id, records, embedder.embed([r.text for r in records]))
    return records


def queued_messages(
    long_term: LongTermStore, embedder: Embedder, user_id: str, count: int, *, seed: int = 7
) -> list[MemoryRecord]:
    """Messages as a chat turn stores them (with detection), a mix of every branch and of skipped ones."""
    rng = random.Random(seed)
    records = []
    for index in range(count):
        text, category = TOPICS[index % len(TOPICS)]
        variant = rng.choice(["Also, it made me so happy today.", "I keep thinking about it.", "Big news!"])
        records.append(
            MemoryRecord(
                id=new_id(),
                user_id=user_id,
                text=f"{text} {variant} (note {index})",
                category=category if index % 3 else "",
                emotion="happiness",
                emotion_intensity=rng.choice([20, 45, 80]),
                importance=rng.choice([300, 700]),
                created_at=time.time() + index * 1e-3,
            )
        )
    long_term.add(user_id, records, embedder.embed([r.text for r in records]))
    return records


async def enqueue(redis: Redis, records: list[MemoryRecord]) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for record in records:
            pipe.xadd(
                ASSOCIATION_STREAM,
                {"user_id": record.user_id, "conversation_id": "c", "memory_id": record.id, "created_at": "0"},
            )
        await pipe.execute()


def make_worker(redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder, **kw: Any) -> Any:
    graph_kwargs = {k: kw.pop(k) for k in ("chat_model", "llm_budget") if k in kw}
    graph = build_graph(long_term=long_term, links=links, embedder=embedder, **graph_kwargs)
    kw.setdefault("retry_wait_seconds", 0.01)
    return AssociationWorker(queue=AssociationQueue(redis), graph=graph, **kw)


def effects(long_term: LongTermStore, links: LinkStore, user_id: str, seeds: list[MemoryRecord]) -> dict[str, Any]:
    """What association left, summarised so that a message processed twice would show."""
    versions = {seed.id: [(v.version, v.caused_by) for v in links.versions(user_id, seed.id)] for seed in seeds}
    return {
        "memories": long_term.count(user_id),
        "outcomes": links.count(user_id, "outcome"),
        "versions": versions,
        "current": {seed.id: getattr(long_term.get(user_id, seed.id), "version", None) for seed in seeds},
        "relations": sorted((r.from_id, r.to_id, r.caused_by) for r in links.relations(user_id)),
    }


def assert_each_effect_once(
    long_term: LongTermStore, links: LinkStore, user_id: str, seeds: list[MemoryRecord]
) -> None:
    for seed in seeds:
        history = links.versions(user_id, seed.id)
        numbers = [v.version for v in history]
        assert numbers == list(range(1, len(history) + 1))  # no gap, no duplicate
        causes = [v.caused_by for v in history[1:]]
        assert len(causes) == len(set(causes))  # no message versioned a memory twice
        current = long_term.get(user_id, seed.id)
        assert current is not None and current.version == max(numbers or [1])


async def test_worker_drains_the_stream_and_counts_the_day(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    seeds = seed_memories(long_term, embedder, "w-user")
    messages = queued_messages(long_term, embedder, "w-user", 12)
    await enqueue(redis, messages)
    worker = make_worker(redis, long_term, links, embedder, batch_size=5)
    result = await worker.drain()
    assert result.processed == 12 and result.dead == 0
    emotional = [m for m in messages if m.emotion_intensity > 30]
    assert sum(result.outcomes[name] for name in ("new_memory", "new_version", "weak_relations", "no_action")) == len(
        emotional
    )
    assert result.outcomes["skipped"] == 12 - len(emotional)
    backlog = await worker.queue.backlog()
    assert backlog == {"queued": 0, "pending": 0, "deferred": 0, "dead": 0}
    stats = await worker.queue.stats()
    assert stats["processed"] == 12 and stats["skipped"] == 12 - len(emotional)
    assert stats["versioned"] == result.outcomes["new_version"]
    assert_each_effect_once(long_term, links, "w-user", seeds)
    await worker.beat(ttl=30)
    assert (await worker.queue.workers())[worker.consumer]["alive"] is True


class Clock:
    """A settable clock for the worker's backoff (no test sleeps through minutes of retries)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def emotional_messages(
    redis: Redis, long_term: LongTermStore, embedder: Embedder, user_id: str, count: int
) -> list[MemoryRecord]:
    """Queued messages that are all emotional, so association asks the chat model about each."""
    seed_memories(long_term, embedder, user_id)
    messages = queued_messages(long_term, embedder, user_id, count)
    for message in messages:
        long_term.upsert(
            user_id,
            [MemoryRecord(**{**message.to_dict(), "kind": message.kind, "emotion_intensity": 90})],
            embedder.embed([message.text]),
        )
    await enqueue(redis, messages)
    return messages


async def test_failing_batch_is_deferred_with_growing_waits_then_dead_lettered_and_can_be_replayed(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    await emotional_messages(redis, long_term, embedder, "dl-user", 4)
    clock = Clock()
    failing = make_worker(
        redis,
        long_term,
        links,
        embedder,
        chat_model=fake_chat_model(),  # no replies: every call fails, and not because the model is down
        llm_budget=RedisLLMBudget(redis, per_minute=100),
        clock=clock,
    )
    waits = []
    for _ in range(3):  # max_retries deferred attempts, 30 s, 60 s, 120 s apart
        result = await failing.drain()
        assert result.deferred == 4 and result.dead == 0 and result.failed == 4
        backlog = await failing.queue.backlog()
        assert backlog["deferred"] == 4 and backlog["queued"] == 0
        assert (await failing.drain()).processed == 0  # not due yet: nothing is retried early
        due = {float(e.fields["due_at"]) for e in await failing.queue.deferred()}
        waits.append(due.pop() - clock.now)
        clock.now += waits[-1]
    assert waits == [30.0, 60.0, 120.0]
    result = await failing.drain()
    assert result.dead == 4 and result.processed == 0
    dead = await failing.queue.dead_letters()
    assert len(dead) == 4 and all("ChatModelError" in e.fields["error"] for e in dead)
    assert {e.fields["attempts"] for e in dead} == {"3"}
    assert links.count("dl-user", "outcome") == 0  # a failed batch wrote nothing
    assert (await failing.queue.stats())["dead"] == 4
    assert (await failing.queue.stats())["deferred"] == 12

    assert await failing.queue.replay_dead() == 4
    offline = make_worker(redis, long_term, links, embedder)
    replayed = await offline.drain()
    assert replayed.processed == 4 and await offline.queue.dead_letters() == []
    assert links.count("dl-user", "outcome") == 4


class DownChatModel(FakeChatModel):
    """A chat model whose server cannot be reached (the client's connection error, as openai raises it)."""

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
        raise openai.APIConnectionError(request=request)


async def test_a_chat_model_outage_pauses_association_and_loses_no_entry_whatever_its_length(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    await emotional_messages(redis, long_term, embedder, "outage-user", 3)
    clock = Clock()
    down = make_worker(
        redis,
        long_term,
        links,
        embedder,
        chat_model=DownChatModel(messages=iter([])),
        llm_budget=RedisLLMBudget(redis, per_minute=1000),
        clock=clock,
    )
    pauses = []
    for _ in range(8):  # far more outages than max_retries (3): an hour-long outage
        started = clock.now
        result = await down.drain()
        assert result.dead == 0 and result.deferred == 3
        assert (await down.drain()).deferred == 0  # paused: the queue is left alone
        pauses.append(down.paused_until - started)
        clock.now = down.paused_until
    assert pauses == [30.0, 60.0, 120.0, 240.0, 480.0, 900.0, 900.0, 900.0]
    assert await down.queue.dead_letters() == []
    entries = await down.queue.deferred()
    assert len(entries) == 3 and {e.fields["attempts"] for e in entries} == {"0"}  # no retry used up

    back = make_worker(redis, long_term, links, embedder, clock=clock)  # the model is back (offline association)
    result = await back.drain()
    assert result.processed == 3 and result.dead == 0
    assert await back.queue.backlog() == {"queued": 0, "pending": 0, "deferred": 0, "dead": 0}
    assert links.count("outage-user", "outcome") == 3


async def test_malformed_entries_go_straight_to_dead_letters(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    await redis.xadd(ASSOCIATION_STREAM, {"user_id": "bad user!", "memory_id": "x"})
    await redis.xadd(ASSOCIATION_STREAM, {"user_id": "fine-user"})
    worker = make_worker(redis, long_term, links, embedder)
    result = await worker.drain()
    assert result.dead == 2
    assert [e.fields["error"] for e in await worker.queue.dead_letters()] == [
        "malformed entry: needs user_id and memory_id"
    ] * 2


async def test_entries_a_dead_consumer_left_pending_are_reclaimed(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    messages = queued_messages(long_term, embedder, "claim-user", 6)
    await enqueue(redis, messages)
    crashed = AssociationQueue(redis)
    await crashed.ensure_group()
    taken = await crashed.read("crashed-consumer", 6)  # delivered, never acknowledged
    assert len(taken) == 6
    fresh = make_worker(redis, long_term, links, embedder, claim_idle_ms=60_000)
    assert (await fresh.drain()).processed == 0  # not idle long enough yet: still the other consumer's
    await asyncio.sleep(0.05)
    patient = make_worker(redis, long_term, links, embedder, claim_idle_ms=20)
    result = await patient.drain()
    assert result.processed == 6
    assert await patient.queue.backlog() == {"queued": 0, "pending": 0, "deferred": 0, "dead": 0}


async def test_two_workers_at_once_leave_each_message_effect_exactly_once(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    users = ["pair-a", "pair-b"]
    seeds = {user: seed_memories(long_term, embedder, user) for user in users}
    messages = [m for user in users for m in queued_messages(long_term, embedder, user, 30, seed=len(user))]
    await enqueue(redis, messages)
    workers = [make_worker(redis, long_term, links, embedder, batch_size=7, claim_idle_ms=10) for _ in range(2)]
    results = await asyncio.gather(*(worker.drain() for worker in workers))
    assert sum(r.processed for r in results) >= len(messages)  # reclaiming may hand an entry to both
    assert all(r.processed > 0 for r in results)  # both took part
    for user in users:
        emotional = {m.id for m in messages if m.user_id == user and m.emotion_intensity > 30}
        assert set(links.outcomes(user, [m.id for m in messages])) == emotional
        assert_each_effect_once(long_term, links, user, seeds[user])
    assert await workers[0].queue.backlog() == {"queued": 0, "pending": 0, "deferred": 0, "dead": 0}


async def test_redis_restart_during_processing_loses_nothing(
    tmp_path: Path, chroma_client: ClientAPI, embedder: Embedder
) -> None:
    server = EmbeddedRedis(tmp_path / "restart")
    server.ensure_running()
    redis = Redis.from_url(server.url)
    try:
        long_term, links = LongTermStore(chroma_client), LinkStore(chroma_client)
        seeds = seed_memories(long_term, embedder, "rr-user")
        messages = queued_messages(long_term, embedder, "rr-user", 80)
        await enqueue(redis, messages)
        worker = make_worker(redis, long_term, links, embedder, batch_size=4, claim_idle_ms=10, lock_seconds=1)
        failures = 0

        async def run() -> None:
            nonlocal failures
            while True:
                try:
                    await worker.drain()
                    if (await worker.queue.backlog())["queued"] == 0:
                        return
                except (RedisError, OSError):
                    failures += 1
                    await asyncio.sleep(0.1)

        task = asyncio.create_task(run())
        while worker.processed_total == 0 and not task.done():
            await asyncio.sleep(0.01)
        await asyncio.to_thread(server.stop)  # SHUTDOWN flushes the AOF
        # down until the worker has hit the outage (a worker busy in its graph may not touch Redis for a while)
        for _ in range(1200):
            if failures or task.done():
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(server.ensure_running)
        await asyncio.wait_for(task, timeout=120)

        assert failures > 0  # the restart did interrupt the worker
        emotional = {m.id for m in messages if m.emotion_intensity > 30}
        assert set(links.outcomes("rr-user", [m.id for m in messages])) == emotional  # each one decided
        assert_each_effect_once(long_term, links, "rr-user", seeds)
        assert await worker.queue.backlog() == {"queued": 0, "pending": 0, "deferred": 0, "dead": 0}
    finally:
        await redis.aclose()
        server.stop()


# -- separate processes ------------------------------------------------------------------------------------
COMPANION = Path(sys.executable).parent / "companion"
PROCESS_TIMEOUT = 180  # bounds a hung process; not a speed assertion


@pytest.fixture
def data_dir(tmp_path: Path, session_dir: Path, embedder: Embedder) -> Iterator[Path]:
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / "models").symlink_to(session_dir / "models", target_is_directory=True)
    yield directory
    EmbeddedChromaServer(directory).stop()
    EmbeddedRedis(directory).stop()


def _env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMPANION_")}
    env.update(HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", COMPANION_DATA_DIR=str(data_dir))
    env.update({f"COMPANION_{name.upper()}": value for name, value in settings.items()})
    return env


async def test_worker_killed_mid_batch_then_another_leaves_each_effect_exactly_once(
    data_dir: Path, embedder: Embedder
) -> None:
    env = _env(data_dir, association_batch_size="3", association_claim_idle_seconds="1", association_lock_seconds="2")
    started = subprocess.run(
        [str(COMPANION), "services", "start", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert started.returncode == 0, started.stderr
    chroma_url = running_chroma_server(data_dir)
    assert chroma_url is not None
    client = chromadb.HttpClient(host=chroma_url, settings=ChromaSettings(anonymized_telemetry=False))
    long_term, links = LongTermStore(client), LinkStore(client)
    redis = Redis.from_url(EmbeddedRedis(data_dir).url)
    try:
        seeds = seed_memories(long_term, embedder, "crash-user")
        messages = queued_messages(long_term, embedder, "crash-user", 45)
        await enqueue(redis, messages)
        first = subprocess.Popen(
            [str(COMPANION), "worker", "--interval", "0.2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + PROCESS_TIMEOUT
        queue = AssociationQueue(redis)
        while (await queue.stats())["processed"] < 6:
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            assert time.monotonic() < deadline, "the first worker processed nothing"
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=PROCESS_TIMEOUT)
        killed_at = await queue.stats()
        assert killed_at["processed"] < len(messages)  # it died with work left

        await asyncio.sleep(1.2)  # its pending entries become stale
        second = make_worker(redis, long_term, links, embedder, batch_size=3, claim_idle_ms=1000, lock_seconds=2)
        result = await second.drain()
        assert result.dead == 0 and result.processed >= len(messages) - killed_at["processed"]

        emotional = {m.id for m in messages if m.emotion_intensity > 30}
        assert set(links.outcomes("crash-user", [m.id for m in messages])) == emotional
        assert_each_effect_once(long_term, links, "crash-user", seeds)
        created = [
            m for m in messages if links.outcomes("crash-user", [m.id]).get(m.id, {}).get("decision") == "new_memory"
        ]
        assert long_term.count("crash-user") == len(seeds) + len(messages)  # a new memory is its message, promoted
        for message in created:
            promoted = long_term.get("crash-user", message.id)
            assert promoted is not None and promoted.kind is MemoryKind.SEMANTIC
            assert [v.caused_by for v in links.versions("crash-user", message.id)][:1] == [message.id]
        assert await queue.backlog() == {"queued": 0, "pending": 0, "deferred": 0, "dead": 0}
    finally:
        await redis.aclose()


async def test_workers_long_gone_are_forgotten_at_the_next_heartbeat(redis: Redis) -> None:
    queue = AssociationQueue(redis)
    await redis.delete(WORKERS_KEY)
    await queue.heartbeat("old-worker", processed=5, ttl=30)
    await redis.hset(WORKERS_KEY, "unreadable-worker", "not json")
    await queue.heartbeat("recent-worker", processed=1, ttl=30, forget_after=3600)
    assert set(await queue.workers()) == {"old-worker", "recent-worker"}  # an hour has not passed
    await asyncio.sleep(0.05)
    await queue.heartbeat("recent-worker", processed=2, ttl=30, forget_after=0.01)
    workers = await queue.workers()
    assert set(workers) == {"recent-worker"} and workers["recent-worker"]["processed"] == 2
