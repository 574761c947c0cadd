"""The association worker: consumes the association stream and runs the association graph behind the chat turns.

One *tick*: reclaim entries a dead worker left pending (``XAUTOCLAIM``, after ``claim_idle_ms``), read new ones
(``XREADGROUP``), process ingestion submissions first (they queue their messages here), then group the entries
by user and run the association graph on each group while holding that user's lock. A group that fails is
retried at once a few times (tenacity, for a blip), then deferred: its entries wait in the retry stream and come
back after 30 s, 1 min, 2 min... (capped at 15 min); after ``max_retries`` deferred attempts they go to the
dead-letter stream (``companion worker --dead-letters`` lists them, ``--replay`` puts them back). When the chat
model itself is down (connection refused, timeout, 5xx, 429), the failure is not the entries' fault: they are
deferred without using up a retry, and the worker pauses association with the same growing backoff, so an outage
of an hour sends nothing to the dead letters. Entries are acknowledged
only after their effects are written, and every effect is idempotent (see ``nodes/association.apply_writes``),
so a crash at any point leaves each message's effect exactly once after another worker picks it up.

Redis may lose its data (seed 004: Chroma is the source of truth), and with it queued entries, or a turn may store
its memory and then find Redis down. So every message queued for association carries a pending mark in Chroma
(``MemoryRecord.assoc_pending``) that the association graph clears when it has processed the message, and
``requeue_pending`` (run by ``run_scheduled`` at start and every ``sweep_every`` s) queues again each message still
marked a few minutes after it was written that no stream holds. Association is idempotent per message, so a
message queued twice is harmless.

Several workers may run at once on one Redis: the consumer group gives each entry to one of them, and the
per-user lock keeps two workers from updating one user's memories at the same time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from langgraph.graph.state import CompiledStateGraph
from redis.exceptions import LockError, RedisError
from tenacity import AsyncRetrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from companion.core.errors import CompanionError, InvalidInputError
from companion.runtime.periodic import Job, run_jobs
from graphs.association import associate
from memory.association_queue import AssociationQueue, Entry
from memory.long_term import LongTermStore
from memory.records import validate_user_id

if TYPE_CHECKING:
    from companion.services import Services

logger = logging.getLogger(__name__)

#: Outcome -> the per-day stat it counts towards.
_STAT_OF = {
    "new_memory": "created",
    "new_version": "versioned",
    "weak_relations": "related",
    "no_action": "no_action",
    "skipped": "skipped",
}


@dataclass
class TickResult:
    """What one tick did."""

    processed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    deferred: int = 0
    dead: int = 0
    ingested: int = 0

    def add(self, other: TickResult) -> None:
        """Accumulate another tick's counts."""
        self.processed += other.processed
        self.outcomes.update(other.outcomes)
        self.failed += other.failed
        self.deferred += other.deferred
        self.dead += other.dead
        self.ingested += other.ingested

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "processed": self.processed,
            "outcomes": dict(self.outcomes),
            "failed": self.failed,
            "deferred": self.deferred,
            "dead": self.dead,
            "ingested": self.ingested,
        }


#: Attempts made at once before a failed batch is deferred (the second one is for a blip).
INLINE_ATTEMPTS = 2
#: The first deferred retry waits this long; each further failure doubles it, up to the cap.
RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 900.0

#: Exception names that mean "the chat model cannot be reached or is overloaded" whatever the provider's SDK.
_OUTAGE_NAMES = frozenset(
    {
        "APIConnectionError",
        "APITimeoutError",
        "RateLimitError",
        "InternalServerError",
        "ServiceUnavailableError",
        "ConnectError",
        "ConnectTimeout",
        "ReadTimeout",
        "RemoteProtocolError",
    }
)


def is_model_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says the chat model is unreachable or overloaded.

    That is a connection or timeout error, HTTP 429 or a 5xx: the model's state, not the batch's fault.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | TimeoutError) or type(current).__name__ in _OUTAGE_NAMES:
            return True
        status = getattr(current, "status_code", None)
        if isinstance(status, int) and (status == 429 or status >= 500):
            return True
        current = current.__cause__ or current.__context__
    return False


def consumer_name() -> str:
    """A unique consumer name for this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class AssociationWorker:
    """Processes the association stream through the association graph."""

    def __init__(
        self,
        *,
        queue: AssociationQueue,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        ingestor: Callable[[str], Awaitable[TickResult]] | None = None,
        implicator: Callable[[str, dict[str, str]], Awaitable[int]] | None = None,
        consumer: str | None = None,
        batch_size: int = 256,
        claim_idle_ms: int = 60_000,
        lock_seconds: float = 30.0,
        max_retries: int = 3,
        retry_wait_seconds: float = 0.5,
        retry_base_seconds: float = RETRY_BASE_SECONDS,
        retry_max_seconds: float = RETRY_MAX_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.graph = graph
        self.ingestor = ingestor
        self.implicator = implicator
        self.consumer = consumer or consumer_name()
        self.batch_size = batch_size
        self.claim_idle_ms = claim_idle_ms
        self.lock_seconds = lock_seconds
        self.max_retries = max_retries
        self.retry_wait_seconds = retry_wait_seconds
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self.clock = clock
        self.processed_total = 0
        #: While the chat model is down: no association before this time, and how many outages in a row.
        self.paused_until = 0.0
        self.outages = 0
        self._group_ready = False

    def backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row: base, 2 × base, 4 × base... capped."""
        return float(min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(0, failures - 1)))

    async def tick(self) -> TickResult:
        """Reclaim stale entries, read new ones, process them; returns the counts."""
        result = TickResult()
        if not self._group_ready:
            await self.queue.ensure_group()
            self._group_ready = True
        if self.ingestor is not None:
            result.add(await self.ingestor(self.consumer))
        now = self.clock()
        if now < self.paused_until:  # the chat model is down: leave the queue alone until the pause ends
            return result
        await self.queue.release_due(now)
        claimed = await self.queue.claim_stale(self.consumer, min_idle_ms=self.claim_idle_ms, count=self.batch_size)
        poisoned = [entry for entry in claimed if entry.deliveries > self.max_retries + 1]
        if poisoned:  # delivered to workers that died each time: stop feeding it to them
            await self.queue.dead_letter(poisoned, f"delivered {poisoned[0].deliveries} times without completing")
            result.dead += len(poisoned)
        entries = [entry for entry in claimed if entry not in poisoned]
        if len(entries) < self.batch_size:
            entries += await self.queue.read(self.consumer, self.batch_size - len(entries))
        chat_batches = [entry for entry in entries if entry.fields.get("kind") == "chat_batch"]
        if chat_batches:
            result.add(await self._implicate(chat_batches))
        by_user: dict[str, list[Entry]] = defaultdict(list)
        malformed: list[Entry] = []
        for entry in entries:
            if entry.fields.get("kind") == "chat_batch":
                continue
            user_id, memory_id = entry.fields.get("user_id", ""), entry.fields.get("memory_id", "")
            try:
                validate_user_id(user_id)
            except InvalidInputError:
                malformed.append(entry)
                continue
            (by_user[user_id] if memory_id else malformed).append(entry)
        if malformed:
            await self.queue.dead_letter(malformed, "malformed entry: needs user_id and memory_id")
            result.dead += len(malformed)
        for user_id, user_entries in by_user.items():
            if self.clock() < self.paused_until:  # an outage began during this tick: the rest waits with it
                await self.queue.defer(user_entries, due_at=self.paused_until, attempts=None, error="chat model down")
                result.deferred += len(user_entries)
                continue
            result.add(await self._process_user(user_id, user_entries))
        await self.queue.count(
            {
                "processed": result.processed,
                "failed": result.failed,
                "deferred": result.deferred,
                "dead": result.dead,
                **{_STAT_OF.get(name, name): count for name, count in result.outcomes.items()},
            }
        )
        self.processed_total += result.processed
        return result

    async def _implicate(self, entries: list[Entry]) -> TickResult:
        """Group-chat batches from the bots: each author's messages become an ingestion submission."""
        result = TickResult()
        if self.implicator is None:
            await self.queue.dead_letter(entries, "chat batch, but this worker has no memory implicator")
            result.dead += len(entries)
            return result
        for entry in entries:
            try:
                result.ingested += await self.implicator(entry.entry_id, entry.fields)
            except (InvalidInputError, ValueError) as exc:  # an unreadable batch (bad user id, time, JSON)
                await self.queue.dead_letter([entry], f"{type(exc).__name__}: {exc}".splitlines()[0])
                result.dead += 1
                continue
            await self.queue.ack([entry.entry_id])
            result.processed += 1
        return result

    async def _process_user(self, user_id: str, entries: list[Entry]) -> TickResult:
        result = TickResult()
        message_ids = [entry.fields["memory_id"] for entry in entries]
        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(INLINE_ATTEMPTS),
                wait=wait_exponential(multiplier=self.retry_wait_seconds, max=10),
                retry=retry_if_not_exception_type(InvalidInputError),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    async with self.queue.lock(user_id, timeout=self.lock_seconds):
                        outcomes = await associate(self.graph, user_id=user_id, message_ids=message_ids)
        except (RedisError, LockError):
            raise  # Redis itself is gone: leave the entries pending; they are reclaimed when it is back
        except Exception as exc:  # the worker boundary: any failure of a batch is deferred, then dead-lettered
            return await self._failed(user_id, entries, exc, attempts)
        self.outages = 0
        await self.queue.ack([entry.entry_id for entry in entries])
        result.processed += len(entries)
        result.outcomes.update(outcomes.get(message_id, "skipped") for message_id in message_ids)
        return result

    async def _failed(self, user_id: str, entries: list[Entry], exc: Exception, attempts: int) -> TickResult:
        """Defer a failed batch (or dead-letter the entries out of retries); an outage pauses association."""
        result = TickResult(failed=len(entries))
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        now = self.clock()
        if isinstance(exc, InvalidInputError):  # the entries themselves are wrong: no retry can help
            await self.queue.dead_letter(entries, error)
            result.dead += len(entries)
            return result
        if is_model_outage(exc):
            self.outages += 1
            self.paused_until = now + self.backoff(self.outages)
            logger.warning(
                "the chat model is down (%s); association paused for %.0f s",
                type(exc).__name__,
                self.paused_until - now,
            )
            await self.queue.defer(entries, due_at=self.paused_until, attempts=None, error=error)
            result.deferred += len(entries)
            return result
        out_of_retries = [entry for entry in entries if entry.attempts + 1 > self.max_retries]
        retrying = [entry for entry in entries if entry not in out_of_retries]
        logger.warning(
            "association of %d messages of %s failed after %d attempts: %s", len(entries), user_id, attempts, error
        )
        if out_of_retries:
            await self.queue.dead_letter(out_of_retries, error)
            result.dead += len(out_of_retries)
        for failures in sorted({entry.attempts + 1 for entry in retrying}):
            batch = [entry for entry in retrying if entry.attempts + 1 == failures]
            await self.queue.defer(batch, due_at=now + self.backoff(failures), attempts=failures, error=error)
            result.deferred += len(batch)
        return result

    async def drain(self, *, max_ticks: int | None = None) -> TickResult:
        """Process until nothing is left to read (the synchronous "process everything queued now")."""
        total = TickResult()
        ticks = 0
        while max_ticks is None or ticks < max_ticks:
            result = await self.tick()
            total.add(result)
            ticks += 1
            if result.processed == 0 and result.dead == 0 and result.ingested == 0 and result.deferred == 0:
                break
        return total

    async def beat(self, ttl: int) -> None:
        """Write this worker's heartbeat."""
        await self.queue.heartbeat(self.consumer, processed=self.processed_total, ttl=ttl)


#: A message still marked pending this long after it was written has lost its queue entry (a turn queues it
#: milliseconds after writing it): the sweep queues it again.
SWEEP_MIN_AGE_SECONDS = 300.0
SWEEP_EVERY_SECONDS = 300.0


async def requeue_pending(
    queue: AssociationQueue,
    long_term: LongTermStore,
    *,
    min_age_seconds: float = SWEEP_MIN_AGE_SECONDS,
    now: float | None = None,
) -> int:
    """Queue again the messages Chroma marks pending for association that no stream holds; returns how many.

    Only messages written more than ``min_age_seconds`` ago: younger ones are being queued by their writer. The
    streams are read before Chroma, so a message processed meanwhile (its mark is cleared before its entry is
    acknowledged) is not queued again; dead letters count as held (``companion worker --replay`` is their way back).
    """
    known = await queue.known_messages()
    cutoff = (time.time() if now is None else now) - min_age_seconds
    entries: list[dict[str, str]] = []
    users = await asyncio.to_thread(long_term.user_ids)
    for user_id in users:
        for record in await asyncio.to_thread(long_term.pending, user_id, before=cutoff):
            if (user_id, record.id) not in known:
                entries.append(
                    {
                        "user_id": user_id,
                        "conversation_id": record.conversation_id,
                        "memory_id": record.id,
                        "created_at": repr(record.created_at),
                        "requeued": "sweep",
                    }
                )
    await queue.enqueue(entries)
    if entries:
        affected = len({entry["user_id"] for entry in entries})
        logger.info("re-queued %d pending message(s) of %d user(s) that no queue held", len(entries), affected)
    else:
        logger.debug("no pending message to re-queue (%d user(s) looked at)", len(users))
    return len(entries)


def build_worker(services: Services, *, consumer: str | None = None) -> AssociationWorker:
    """A worker over a process's live services and settings (ingestion included)."""
    from companion.runtime.ingest import Ingestor, implicate_chat_batch
    from graphs.association import build_graph_from_services

    settings = services.settings
    ingestor = Ingestor.from_services(services)

    async def implicator(entry_id: str, fields: dict[str, str]) -> int:
        return await implicate_chat_batch(services.redis, ingestor.links, entry_id, fields)

    return AssociationWorker(
        queue=AssociationQueue(services.redis),
        graph=build_graph_from_services(services),
        ingestor=ingestor.process_submissions,
        implicator=implicator,
        consumer=consumer,
        batch_size=settings.association_batch_size,
        claim_idle_ms=int(settings.association_claim_idle_seconds * 1000),
        lock_seconds=settings.association_lock_seconds,
        max_retries=settings.association_max_retries,
    )


async def run_scheduled(
    worker: AssociationWorker,
    *,
    interval: float,
    cleanup: Callable[[], Awaitable[Any]] | None = None,
    cleanup_every: float = 3600.0,
    sweep: Callable[[], Awaitable[int]] | None = None,
    sweep_every: float = SWEEP_EVERY_SECONDS,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Run ``worker.drain`` every ``interval`` seconds with APScheduler until SIGINT/SIGTERM or ``stop`` is set.

    ``sweep`` (``requeue_pending`` over the process's stores) runs at start and every ``sweep_every`` seconds.
    ``handle_signals=False`` leaves SIGINT/SIGTERM to the host process (a server running this as a task).
    """

    async def process() -> None:
        try:
            result = await worker.drain()
            await worker.beat(ttl=int(interval * 3) + 30)
            if result.processed or result.dead or result.ingested:
                logger.info("processed %s", result.to_dict())
        except (RedisError, OSError, CompanionError) as exc:  # a store is down: try again next tick
            logger.warning("association tick failed, retrying next tick: %s", exc)

    async def clean() -> None:
        if cleanup is not None:
            try:
                await cleanup()
            except (RedisError, OSError, CompanionError) as exc:
                logger.warning("cleanup failed: %s", exc)

    async def requeue() -> None:
        if sweep is not None:
            try:
                await sweep()
            except (RedisError, OSError, CompanionError) as exc:  # a store is down: the next sweep finds them
                logger.warning("re-queuing pending messages failed, retrying at the next sweep: %s", exc)

    start = datetime.fromtimestamp(time.time())
    jobs = [Job("association", process, "interval", {"seconds": interval, "next_run_time": start})]
    if cleanup is not None:
        jobs.append(Job("cleanup", clean, "interval", {"seconds": cleanup_every}))
    if sweep is not None:
        jobs.append(Job("sweep", requeue, "interval", {"seconds": sweep_every, "next_run_time": start}))
    await run_jobs(jobs, stop=stop, handle_signals=handle_signals)
