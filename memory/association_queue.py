"""The association queue in Redis: the stream, its dead letters, per-user locks, the LLM budget, heartbeats, stats.

Conversation turns (and ingestion) write to the stream; workers read it through a consumer group.

Keys (under ``companion:``):

- ``stream:association``             entries ``{user_id, memory_id, conversation_id, created_at}``
- ``stream:association:dead``        entries that failed every retry: the original fields + ``error``, ``source_id``
- ``stream:association:retry``       entries waiting for a retry: the original fields + ``attempts``, ``due_at``,
                                     ``error``; moved back to the stream once due (a stream, not a sorted set, so
                                     that erasing or exporting a user finds them like any queued entry)
- ``assoc:lock:{<user>}``            held while a worker processes that user's messages, or while reflection
                                     runs for that user (one writer of a user's memories at a time)
- ``assoc:workers``                  hash consumer -> JSON heartbeat ``{at, pid, host, processed}``
- ``assoc:stats:<YYYY-MM-DD>``       hash processed/created/versioned/related/skipped/failed/dead and ingested/
                                     ingested_messages/ingest_failed (UTC day)
- ``rl/assoc-llm``                   the ``limits`` moving window of LLM calls (5 per minute by default)

Delivery is at-least-once: an entry stays pending in the group until acknowledged after its effects are
written; entries a dead worker left pending are reclaimed with ``XAUTOCLAIM`` once idle long enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, ResponseError

from companion.core.errors import UserBusyError
from memory.keys import hash_tag
from memory.redis_io import as_text
from memory.short_term import ASSOCIATION_STREAM, PREFIX

T = TypeVar("T")

logger = logging.getLogger(__name__)

DEAD_LETTER_STREAM = f"{ASSOCIATION_STREAM}:dead"
RETRY_STREAM = f"{ASSOCIATION_STREAM}:retry"
GROUP = "association"
WORKERS_KEY = f"{PREFIX}:assoc:workers"
#: A worker whose last heartbeat is older than this is dropped from the list of workers (health, processing).
WORKER_FORGET_SECONDS = 7 * 24 * 3600.0
STAT_FIELDS = (
    "processed",
    "created",
    "versioned",
    "related",
    "no_action",
    "skipped",
    "failed",
    "deferred",
    "dead",
    "ingested",  # ingestion: sessions processed, the messages they stored, sessions that failed for good
    "ingested_messages",
    "ingest_failed",
)
#: Fields a retry adds to an entry's own; dropped again when it is dead-lettered or replayed.
RETRY_FIELDS = ("attempts", "due_at", "error")

# Moves the due entries of the retry stream (KEYS[1]) back to the work stream (KEYS[2]) in one atomic step, so two
# workers releasing at once cannot both re-add an entry. ARGV: now, the most entries to look at.
_RELEASE_DUE = """
local moved = 0
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[2]))) do
  local fields, due = entry[2], 0
  for i = 1, #fields, 2 do
    if fields[i] == 'due_at' then due = tonumber(fields[i + 1]) or 0 end
  end
  if due <= tonumber(ARGV[1]) then
    redis.call('XADD', KEYS[2], '*', unpack(fields))
    redis.call('XDEL', KEYS[1], entry[1])
    moved = moved + 1
  end
end
return moved
"""


def stats_key(day: str) -> str:
    """Per-day stats hash (``day`` is ``YYYY-MM-DD``, UTC)."""
    return f"{PREFIX}:assoc:stats:{day}"


def lock_key(user_id: str) -> str:
    """The per-user processing lock."""
    return f"{PREFIX}:assoc:lock:{hash_tag(user_id)}"


def today() -> str:
    """Today's UTC date as ``YYYY-MM-DD``."""
    return time.strftime("%Y-%m-%d", time.gmtime())


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry."""

    entry_id: str
    fields: dict[str, str]
    deliveries: int = 1

    @property
    def attempts(self) -> int:
        """Failed attempts so far (0 for an entry never deferred)."""
        try:
            return max(0, int(self.fields.get("attempts", "0")))
        except ValueError:
            return 0


def _entries(raw: Any) -> list[Entry]:
    return [
        Entry(as_text(entry_id), {as_text(k): as_text(v) for k, v in (fields or {}).items()})
        for entry_id, fields in raw or []
        if fields is not None
    ]


class AssociationQueue:
    """Consumer-group access to one stream (the association stream by default)."""

    def __init__(self, redis: Redis, *, stream: str = ASSOCIATION_STREAM, group: str = GROUP) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.dead_stream = f"{stream}:dead"
        self.retry_stream = f"{stream}:retry"
        self._release_due = redis.register_script(_RELEASE_DUE)

    async def ensure_group(self) -> None:
        """Create the consumer group (from the start of the stream) unless it exists."""
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _regrouped(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, creating the group again and retrying once if Redis lost it (a flush, an old snapshot)."""
        try:
            return await call()
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()
            return await call()

    async def read(self, consumer: str, count: int) -> list[Entry]:
        """New entries for ``consumer`` (never delivered to anyone before)."""
        raw = await self._regrouped(
            lambda: self.redis.xreadgroup(self.group, consumer, {self.stream: ">"}, count=count)
        )
        return [entry for stream_entries in raw or [] for entry in _entries(stream_entries[1])]

    async def claim_stale(self, consumer: str, *, min_idle_ms: int, count: int) -> list[Entry]:
        """Entries other consumers left pending for ``min_idle_ms`` (a crashed worker's), with delivery counts."""
        result = await self._regrouped(
            lambda: self.redis.xautoclaim(self.stream, self.group, consumer, min_idle_ms, "0-0", count=count)
        )
        claimed = _entries(result[1])
        if not claimed:
            return []
        pending = await self.redis.xpending_range(
            self.stream, self.group, min=claimed[0].entry_id, max=claimed[-1].entry_id, count=len(claimed) * 2
        )
        deliveries = {as_text(item["message_id"]): int(item["times_delivered"]) for item in pending}
        return [Entry(e.entry_id, e.fields, deliveries.get(e.entry_id, 1)) for e in claimed]

    async def ack(self, entry_ids: list[str]) -> None:
        """Acknowledge processed entries (and delete them: the stream is a queue, not a log)."""
        if entry_ids:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, self.group, *entry_ids)
                pipe.xdel(self.stream, *entry_ids)
                await pipe.execute()

    async def defer(self, entries: list[Entry], *, due_at: float, attempts: int | None, error: str) -> None:
        """Move entries to the retry stream until ``due_at``, and acknowledge them here (one transaction).

        ``attempts`` is the number of failed attempts to record; ``None`` keeps each entry's own count (a chat-model
        outage is not the entry's fault, so it does not use up its retries).
        """
        if not entries:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                count = entry.attempts if attempts is None else attempts
                fields = {**entry.fields, "attempts": str(count), "due_at": repr(due_at), "error": error[:500]}
                pipe.xadd(self.retry_stream, fields)  # type: ignore[arg-type]
            pipe.xack(self.stream, self.group, *[e.entry_id for e in entries])
            pipe.xdel(self.stream, *[e.entry_id for e in entries])
            await pipe.execute()

    async def release_due(self, now: float, *, count: int = 10_000) -> int:
        """Put the retry entries due by ``now`` back on the stream; returns how many."""
        return int(await self._release_due(keys=[self.retry_stream, self.stream], args=[repr(now), count]))

    async def dead_letter(self, entries: list[Entry], error: str) -> None:
        """Move entries to the dead-letter stream with the error, and acknowledge them here."""
        if not entries:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                fields = {
                    **{k: v for k, v in entry.fields.items() if k not in ("due_at", "error")},
                    "error": error[:500],
                    "source_id": entry.entry_id,
                    "failed_at": repr(time.time()),
                }
                pipe.xadd(self.dead_stream, fields)  # type: ignore[arg-type]
            pipe.xack(self.stream, self.group, *[e.entry_id for e in entries])
            pipe.xdel(self.stream, *[e.entry_id for e in entries])
            await pipe.execute()

    async def deferred(self, count: int = 100) -> list[Entry]:
        """Entries waiting in the retry stream, oldest deferral first."""
        return _entries(await self.redis.xrange(self.retry_stream, count=count))

    async def dead_letters(self, count: int = 100, *, after: str | None = None) -> list[Entry]:
        """Entries in the dead-letter stream, oldest first (those after the entry id ``after`` if given)."""
        start = f"({after}" if after is not None else "-"
        return _entries(await self.redis.xrange(self.dead_stream, min=start, count=count))

    async def replay_dead(self, entry_ids: list[str] | None = None) -> int:
        """Put dead letters (all, or the given ids) back on the stream; returns how many."""
        entries = await self.dead_letters(count=100_000)
        chosen = [e for e in entries if entry_ids is None or e.entry_id in entry_ids]
        if not chosen:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in chosen:
                dropped = {"source_id", "failed_at", *RETRY_FIELDS}
                fields = {k: v for k, v in entry.fields.items() if k not in dropped}
                pipe.xadd(self.stream, fields)  # type: ignore[arg-type]
            pipe.xdel(self.dead_stream, *[e.entry_id for e in chosen])
            await pipe.execute()
        return len(chosen)

    async def known_messages(self, *, field: str = "memory_id") -> set[tuple[str, str]]:
        """``(user_id, <field>)`` of every entry on the stream (pending included), its retry and dead-letter streams.

        The three are read in one transaction, so an entry moving between them (a deferral, a due retry) is seen
        once, not missed.
        """
        async with self.redis.pipeline(transaction=True) as pipe:
            for stream in (self.stream, self.retry_stream, self.dead_stream):
                pipe.xrange(stream)
            found = await pipe.execute()
        return {
            (entry.fields.get("user_id", ""), entry.fields.get(field, "")) for raw in found for entry in _entries(raw)
        }

    async def enqueue(self, entries: list[dict[str, str]]) -> None:
        """Add entries (``{user_id, memory_id, conversation_id, created_at, ...}``) to the stream."""
        if entries:
            async with self.redis.pipeline(transaction=False) as pipe:
                for fields in entries:
                    pipe.xadd(self.stream, fields)  # type: ignore[arg-type]
                await pipe.execute()

    async def backlog(self) -> dict[str, int]:
        """Entries waiting, by state.

        ``queued``: in the stream (pending included); ``pending``: delivered, not acknowledged; ``deferred``: in the
        retry stream, waiting for their time; ``dead``: in the dead-letter stream.
        """
        length = await self.redis.xlen(self.stream)
        deferred = await self.redis.xlen(self.retry_stream)
        dead = await self.redis.xlen(self.dead_stream)
        try:
            summary = await self.redis.xpending(self.stream, self.group)
            pending = int(summary["pending"])
        except ResponseError:
            pending = 0
        return {"queued": int(length), "pending": pending, "deferred": int(deferred), "dead": int(dead)}

    def lock(self, user_id: str, *, timeout: float) -> Lock:
        """The per-user processing lock (expires after ``timeout`` s if its holder dies)."""
        return self.redis.lock(lock_key(user_id), timeout=timeout, blocking_timeout=timeout * 2)

    @contextlib.asynccontextmanager
    async def hold(self, user_id: str, *, timeout: float, wait: float | None = None) -> AsyncIterator[None]:
        """Hold the per-user lock for as long as the block runs, however long that is (reflection's runs).

        The lock is extended every ``timeout / 3`` s while the block runs, so a long run keeps it, and it expires
        ``timeout`` s after a holder that died. Waits up to ``wait`` s (default ``2 × timeout``) for the current
        holder, then raises ``UserBusyError``.
        """
        lock = self.lock(user_id, timeout=timeout)
        if not await lock.acquire(blocking_timeout=timeout * 2 if wait is None else wait):
            raise UserBusyError(f"the memories of user {user_id!r} are being updated by another process; try again")

        async def keep() -> None:
            while True:
                await asyncio.sleep(timeout / 3)
                try:
                    await lock.reacquire()
                except LockNotOwnedError:
                    # This process stalled past the lock's lifetime between two renewals. Take the lock back if no
                    # one else has it, so the rest of the run stays protected; say so either way.
                    if await lock.acquire(blocking=False, token=lock.local.token):
                        logger.warning("the per-user lock of %r lapsed during a stall and was taken back", user_id)
                    else:
                        logger.error("the per-user lock of %r lapsed during a stall; another process holds it", user_id)
                        return

        keeper = asyncio.create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, LockError):
                await keeper
            try:
                await lock.release()
            except LockError:  # it expired (the keeper could not reach Redis): nothing to release
                logger.warning("the per-user lock of a reflection run expired before the run ended")

    async def count(self, counts: dict[str, int], *, day: str | None = None) -> None:
        """Add to today's stats."""
        key = stats_key(day or today())
        async with self.redis.pipeline(transaction=False) as pipe:
            for name, value in counts.items():
                if value:
                    pipe.hincrby(key, name, value)
            pipe.expire(key, 400 * 86400)
            await pipe.execute()

    async def stats(self, day: str | None = None) -> dict[str, int]:
        """One day's stats (today by default)."""
        raw = await self.redis.hgetall(stats_key(day or today()))
        values = {as_text(k): int(v) for k, v in raw.items()}
        return {name: values.get(name, 0) for name in STAT_FIELDS} | values

    async def heartbeat(
        self, consumer: str, *, processed: int, ttl: int, forget_after: float = WORKER_FORGET_SECONDS
    ) -> None:
        """Record that ``consumer`` is alive, and forget workers whose last beat is older than ``forget_after`` s.

        (Every worker process has a consumer name of its own, so without forgetting, the list of workers would grow
        by one per restart, for ever.)
        """
        now = time.time()
        beat = {"at": now, "pid": os.getpid(), "host": socket.gethostname(), "processed": processed}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(WORKERS_KEY, consumer, json.dumps(beat))
            pipe.set(f"{WORKERS_KEY}:{consumer}:alive", "1", ex=ttl)
            pipe.hgetall(WORKERS_KEY)
            *_, beats = await pipe.execute()
        gone = [name for name, raw in beats.items() if _beat_time(raw) < now - forget_after]
        if gone:
            await self.redis.hdel(WORKERS_KEY, *gone)

    async def workers(self) -> dict[str, dict[str, Any]]:
        """Heartbeats of the workers seen, with whether each is still alive."""
        raw = await self.redis.hgetall(WORKERS_KEY)
        found = {}
        for consumer, beat in raw.items():
            name = as_text(consumer)
            alive = bool(await self.redis.exists(f"{WORKERS_KEY}:{name}:alive"))
            found[name] = {**json.loads(as_text(beat)), "alive": alive}
        return found


def _beat_time(raw: Any) -> float:
    """When a stored heartbeat was taken (0 for one that cannot be read, so it is forgotten)."""
    try:
        return float(json.loads(as_text(raw)).get("at", 0.0))
    except (ValueError, TypeError, AttributeError):
        return 0.0


class RedisLLMBudget:
    """The per-minute budget of chat-model calls, shared by every worker (``limits`` moving window in Redis)."""

    def __init__(self, redis: Redis, *, per_minute: int) -> None:
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=f"{PREFIX}:rl",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerMinute(per_minute)

    async def try_acquire(self) -> bool:
        """Count one LLM call if fewer than ``per_minute`` were made in the last minute."""
        return await self._limiter.hit(self._item, "assoc-llm")
