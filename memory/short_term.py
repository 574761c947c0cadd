"""Short-term memory in Redis: recent turns per conversation, activity-based TTL, rate limits, the association queue.

Keys (all under ``companion:``, one set per user, so a user's short-term state can be read or dropped alone):

- ``companion:u:{<user>}:c:{<conversation>}:turns``  JSON turns, oldest first, trimmed to ``context_turns``
- ``companion:u:{<user>}:last_active``                epoch seconds of the user's last message
- ``companion:stream:association``                  stream of stored messages awaiting background association
- ``companion:u:{<user>}:recalls``                   memory ids recalled by turns (sorted set, score = last recall
                                                      time), folded into Chroma by the nightly forgetting pass
- ``companion:users:last_message``                   every user's last message time (sorted set, no expiry): the
                                                      schedulers' list of users and their activity

Ids are wrapped in braces, which ids cannot contain, so ``a:c:b`` + ``d`` never collides with ``a`` + ``b:c:d``
(the braces also make every key of a user one Redis Cluster hash slot).

Activity-based TTL (design seed 004): when a message arrives, a user whose previous message is less than
``active_ttl`` (24 h) old is *active* and their turns expire ``active_ttl`` after this message; a user who is
new or comes back after a longer silence is *inactive* and their turns expire after ``inactive_ttl`` (1 h)
unless they keep talking. Anything Redis forgets is rebuilt from Chroma (see ``nodes.conversation``).

Rate limits use the ``limits`` library's sliding-window counter in the same Redis: per user and global.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from companion.core.errors import RateLimitedError, StoreUnavailableError
from memory.keys import PREFIX, UserKey, encode_part, hash_tag
from memory.profiles import UserProfile, interactions_key, profile_from_hash, profile_key
from memory.records import Turn
from memory.redis_io import as_text

ASSOCIATION_STREAM = f"{PREFIX}:stream:association"
USERS_LAST_MESSAGE = f"{PREFIX}:users:last_message"


def turns_key(user_id: str, conversation_id: str) -> str:
    """Redis key of one conversation's recent turns."""
    return f"{PREFIX}:u:{hash_tag(user_id)}:c:{hash_tag(conversation_id)}:turns"


#: Redis key of the memories a user's turns recalled since the last forgetting pass.
recalls_key = UserKey("recalls")
#: Redis key of a user's last activity time.
last_active_key = UserKey("last_active")
#: How many interactions the log keeps per user (older ones are trimmed as new ones come).
INTERACTIONS_KEPT = 1000


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """Where a user stands against their per-minute message limit (the ``X-RateLimit-*`` headers)."""

    limit: int
    remaining: int
    reset_seconds: int  # until the window has room again


@dataclass(frozen=True, slots=True)
class ShortTermContext:
    """What a turn reads from Redis before answering."""

    turns: list[Turn]
    last_active: float | None
    profile: UserProfile = field(default_factory=UserProfile)


async def note_message_at(redis: Redis, user_id: str, at: float) -> None:
    """:meth:`ShortTermStore.note_message_at` over a bare Redis client (the ingestion worker holds one)."""
    try:
        await redis.zadd(USERS_LAST_MESSAGE, {user_id: at}, gt=True)  # GT: never moves the time back
    except RedisError as exc:
        raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc


def parsed_interaction(fields: dict[str, str]) -> dict[str, Any]:
    """An interaction-log entry with its numbers and mood points as values (the stream holds strings)."""
    row: dict[str, Any] = dict(fields)
    for name in ("at", "response_ms"):
        row[name] = float(row.get(name) or 0.0)
    for name in ("intensity", "memories_used", "memories_withheld"):
        row[name] = int(row.get(name) or 0)
    for name in ("pad_before", "pad_after"):
        row[name] = json.loads(row.get(name) or "{}")
    row["proactive"] = row.get("proactive") == "1"
    return row


def _scored(pairs: Any) -> dict[str, float]:
    """``ZRANGE ... WITHSCORES`` as ``{member: score}``."""
    return {(key.decode() if isinstance(key, bytes) else str(key)): float(score) for key, score in pairs}


class ShortTermStore:
    """Recent turns, activity and queues in Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        context_turns: int = 20,
        active_ttl: int = 24 * 3600,
        inactive_ttl: int = 3600,
        per_user_per_minute: int = 30,
        global_per_minute: int = 10_000,
    ) -> None:
        self.redis = redis
        self.context_turns = context_turns
        self.active_ttl = active_ttl
        self.inactive_ttl = inactive_ttl
        # The limiter shares this client's connection pool (the URI only selects the redis-py implementation).
        self._storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=f"{PREFIX}:rl",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        )
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self._per_user = RateLimitItemPerMinute(per_user_per_minute)
        self._global = RateLimitItemPerMinute(global_per_minute)

    # -- rate limits -------------------------------------------------------------------------------------
    async def admit(self, user_id: str) -> None:
        """Count one message of ``user_id``; raise ``RateLimitedError`` with a retry time when over a limit."""
        try:
            for item, scope, identifiers in (
                (self._per_user, "you are sending messages too fast", ("user", encode_part(user_id))),
                (self._global, "the companion is busy", ("global",)),
            ):
                if not await self._limiter.hit(item, *identifiers):
                    stats = await self._limiter.get_window_stats(item, *identifiers)
                    retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                    raise RateLimitedError(
                        f"slow down: {scope} (limit {item.amount} per minute); retry in {retry_after} s",
                        retry_after=retry_after,
                        limit=item.amount,
                    )
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc

    async def rate_limit(self, user_id: str) -> RateLimitStatus:
        """The user's per-minute limit, what is left of it and when it resets (reads only; counts nothing)."""
        try:
            stats = await self._limiter.get_window_stats(self._per_user, "user", encode_part(user_id))
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return RateLimitStatus(
            limit=self._per_user.amount,
            remaining=max(0, int(stats.remaining)),
            reset_seconds=max(0, math.ceil(stats.reset_time - time.time())),
        )

    # -- context -----------------------------------------------------------------------------------------
    async def load(self, user_id: str, conversation_id: str) -> ShortTermContext:
        """Recent turns of a conversation and the user's last activity time."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.lrange(turns_key(user_id, conversation_id), 0, -1)
                pipe.get(last_active_key(user_id))
                pipe.hgetall(profile_key(user_id))
                raw_turns, raw_last_active, raw_profile = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        turns = [Turn(**json.loads(item)) for item in raw_turns]
        last_active = float(raw_last_active) if raw_last_active else None
        return ShortTermContext(turns=turns, last_active=last_active, profile=profile_from_hash(raw_profile))

    def ttl_for(self, last_active: float | None, now: float) -> int:
        """Activity-based TTL: long while the user is active, short for new or returning users."""
        active = last_active is not None and now - last_active < self.active_ttl
        return self.active_ttl if active else self.inactive_ttl

    async def restore(self, user_id: str, conversation_id: str, turns: Sequence[Turn], *, ttl: int) -> None:
        """Put turns recovered from long-term memory back into Redis."""
        if not turns:
            return
        key = turns_key(user_id, conversation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.rpush(key, *[json.dumps(turn.to_dict()) for turn in turns])
            pipe.ltrim(key, -self.context_turns, -1)
            pipe.expire(key, ttl)
            await pipe.execute()

    async def record_turn(
        self,
        user_id: str,
        conversation_id: str,
        turns: Sequence[Turn],
        *,
        now: float,
        ttl: int,
        association: dict[str, str] | None = None,
        recalled: Sequence[str] = (),
        interaction: dict[str, str] | None = None,
    ) -> str | None:
        """Append a turn's messages, refresh TTL and activity, and queue the message for association.

        ``interaction`` (flat string fields, no message text) goes to the user's interaction log, in the same
        transaction.

        Returns the stream entry id of the association job, if one was queued.
        """
        key = turns_key(user_id, conversation_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, *[json.dumps(turn.to_dict()) for turn in turns])
                pipe.ltrim(key, -self.context_turns, -1)
                pipe.expire(key, ttl)
                pipe.set(last_active_key(user_id), repr(now), ex=self.active_ttl)
                pipe.zadd(USERS_LAST_MESSAGE, {user_id: now})
                if recalled:
                    pipe.zadd(recalls_key(user_id), dict.fromkeys(recalled, now))
                if interaction is not None:
                    pipe.xadd(interactions_key(user_id), interaction, maxlen=INTERACTIONS_KEPT, approximate=True)  # type: ignore[arg-type]
                if association is not None:
                    pipe.xadd(ASSOCIATION_STREAM, association)  # type: ignore[arg-type]
                results = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        if association is None:
            return None
        entry_id = results[-1]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def interactions(self, user_id: str, *, limit: int = 50) -> list[dict[str, str]]:
        """The user's most recent interactions (the per-turn log), newest first."""
        try:
            entries = await self.redis.xrevrange(interactions_key(user_id), count=limit)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return [{as_text(k): as_text(v) for k, v in (fields or {}).items()} for _, fields in entries or []]

    async def recalls(self, user_id: str) -> dict[str, float]:
        """Memory ids recalled since the last forgetting pass, with the time of their last recall."""
        try:
            pairs = await self.redis.zrange(recalls_key(user_id), 0, -1, withscores=True)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return _scored(pairs)

    async def clear_recalls(self, user_id: str, recalled: dict[str, float]) -> None:
        """Drop recall notes once folded in (a note recalled again meanwhile, with a later time, is kept)."""
        if not recalled:
            return
        try:  # notes recalled again after they were read carry a later time than any read, so they stay
            await self.redis.zremrangebyscore(recalls_key(user_id), "-inf", max(recalled.values()))
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc

    async def last_message_at(self, user_id: str) -> float | None:
        """When ``user_id`` last sent a message (``None`` if never)."""
        try:
            score = await self.redis.zscore(USERS_LAST_MESSAGE, user_id)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return None if score is None else float(score)

    async def note_message_at(self, user_id: str, at: float) -> None:
        """Record that ``user_id`` sent a message at ``at`` (kept only if later than the one on record).

        Ingestion calls it for a transcript's last user line, so a user who only ever sends sessions through
        ``POST /raw`` is on the schedulers' list of users too (nightly reflection, insights, outreach).
        """
        await note_message_at(self.redis, user_id, at)

    async def users_last_message(self) -> dict[str, float]:
        """Every user who ever sent a message, with the time of their last one."""
        try:
            pairs = await self.redis.zrange(USERS_LAST_MESSAGE, 0, -1, withscores=True)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return _scored(pairs)

    async def forget_user(self, user_id: str) -> int:
        """Drop every short-term key of ``user_id``; returns how many were deleted."""
        keys = [key async for key in self.redis.scan_iter(match=f"{PREFIX}:u:{hash_tag(user_id)}:*", count=500)]
        await self.redis.zrem(USERS_LAST_MESSAGE, user_id)  # and off the schedulers' list of users
        return int(await self.redis.delete(*keys)) if keys else 0

    async def forget_rate_limits(self, user_id: str) -> int:
        """Drop the per-user rate-limit counters of ``user_id``; returns how many keys were deleted."""
        pattern = f"{PREFIX}:rl*/user/{encode_part(user_id)}/*"
        keys = [key async for key in self.redis.scan_iter(match=pattern, count=500)]
        return int(await self.redis.delete(*keys)) if keys else 0

    async def queued_entries(
        self, user_id: str, *, stream: str = ASSOCIATION_STREAM
    ) -> list[tuple[str, dict[str, str]]]:
        """Entries of ``user_id`` (id, fields) on a stream (the association queue by default), oldest first."""
        found: list[tuple[str, dict[str, str]]] = []
        start = "-"
        while True:
            batch: list[Any] = await self.redis.xrange(stream, min=start, max="+", count=1000) or []
            for entry_id, fields in batch:
                decoded = {as_text(k): as_text(v) for k, v in fields.items()}
                if decoded.get("user_id") == user_id:
                    found.append((as_text(entry_id), decoded))
            if len(batch) < 1000:
                return found
            start = "(" + as_text(batch[-1][0])

    async def forget_queued(self, user_id: str, *, stream: str = ASSOCIATION_STREAM) -> int:
        """Delete ``user_id``'s entries from a stream (the association queue by default); returns how many."""
        entry_ids = [entry_id for entry_id, _ in await self.queued_entries(user_id, stream=stream)]
        return int(await self.redis.xdel(stream, *entry_ids)) if entry_ids else 0
