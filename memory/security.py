"""Security state in Redis: injection offences per user over 7 days, cooldowns and blocks, and the incident log.

Keys:

- ``companion:u:{<user>}:offences``   sorted set of offence times (epoch seconds), kept 7 days
- ``companion:u:{<user>}:cooldown``   set while the user cools down (escalation level 2), with its TTL
- ``companion:u:{<user>}:blocked``    set while the user is blocked (escalation level 3), with its TTL
- ``companion:stream:incidents``      every detected injection (capped), for admins
- ``companion:hash:incident_reviews`` incident id -> admin review (``false_positive``: the offence was removed)
- ``companion:stream:crises``         every message perception flagged as a crisis (capped), for admins: user,
                                      conversation, memory id, kind, score, source and time, never the text
- ``companion:hash:crisis_counts``    crisis messages ever seen, by kind (the app's ``companion_crisis_messages``)

The per-user keys sit under the user's prefix, so erasing a user drops them with the rest of their short-term state.
Escalation (design seed 003): the n-th offence within 7 days gives level min(n, 3): 1 an in-character warning,
2 a cooldown (no messages for ``cooldown_seconds``), 3 a block until the offences age out (7 days). Only a
high-confidence detection is an offence (``tools/defence.py``); an admin who finds an incident was a false positive
marks it so (:meth:`SecurityStore.mark_false_positive`), which removes its offence and lifts a cooldown or block the
remaining offences no longer justify.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from companion.core.errors import StoreUnavailableError
from memory.keys import UserKey
from memory.redis_io import as_text
from memory.short_term import PREFIX

OFFENCE_WINDOW_SECONDS = 7 * 24 * 3600
INCIDENTS_STREAM = f"{PREFIX}:stream:incidents"
INCIDENTS_MAX = 100_000
INCIDENT_REVIEWS = f"{PREFIX}:hash:incident_reviews"
CRISES_STREAM = f"{PREFIX}:stream:crises"
CRISIS_COUNTS = f"{PREFIX}:hash:crisis_counts"
CRISES_MAX = 100_000
STREAM_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")  # ASCII digits (\d also takes other scripts' digits)
EXCERPT_CHARS = 300


#: Redis key of a user's offence times.
offences_key = UserKey("offences")
#: Redis key set while a user cools down.
cooldown_key = UserKey("cooldown")
#: Redis key set while a user is blocked.
blocked_key = UserKey("blocked")


@dataclass(frozen=True, slots=True)
class Restriction:
    """A user may not send messages for ``retry_after`` seconds."""

    level: int  # 2 cooldown, 3 block
    retry_after: int


class SecurityStore:
    """Offences, restrictions and incidents."""

    def __init__(
        self, redis: Redis, *, cooldown_seconds: int = 900, offence_window_seconds: int = OFFENCE_WINDOW_SECONDS
    ) -> None:
        self._redis = redis
        self.cooldown_seconds = cooldown_seconds
        #: How long an offence counts and a block lasts (``COMPANION_INJECTION_OFFENCE_WINDOW_DAYS``; seed: 7 days).
        self.offence_window_seconds = offence_window_seconds

    async def restriction(self, user_id: str) -> Restriction | None:
        """The block or cooldown in force for ``user_id``, if any."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.ttl(blocked_key(user_id))
                pipe.ttl(cooldown_key(user_id))
                blocked_ttl, cooldown_ttl = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        if blocked_ttl and blocked_ttl > 0:
            return Restriction(level=3, retry_after=int(blocked_ttl))
        if cooldown_ttl and cooldown_ttl > 0:
            return Restriction(level=2, retry_after=int(cooldown_ttl))
        return None

    async def record_offence(
        self, user_id: str, *, kind: str, score: float, severity: str, indicators: list[str], text: str
    ) -> tuple[int, int]:
        """Count an offence, escalate, log the incident; returns (offences in the window, escalation level)."""
        now = time.time()
        key = offences_key(user_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(key, {uuid.uuid4().hex: now})
                pipe.zremrangebyscore(key, "-inf", now - self.offence_window_seconds)
                pipe.zcard(key)
                pipe.expire(key, self.offence_window_seconds)
                count = int((await pipe.execute())[2])
            level = min(count, 3)
            async with self._redis.pipeline(transaction=True) as pipe:
                if level == 2:
                    pipe.set(cooldown_key(user_id), "1", ex=self.cooldown_seconds)
                elif level == 3:
                    pipe.set(blocked_key(user_id), "1", ex=self.offence_window_seconds)
                pipe.xadd(
                    INCIDENTS_STREAM,
                    {
                        "user_id": user_id,
                        "kind": kind,
                        "score": repr(score),
                        "severity": severity,
                        "indicators": ",".join(indicators),
                        "offences_7d": str(count),
                        "escalation_level": str(level),
                        "excerpt": text[:EXCERPT_CHARS],
                        "detected_at": repr(now),
                    },
                    maxlen=INCIDENTS_MAX,
                    approximate=True,
                )
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return count, level

    async def incidents(self, *, limit: int = 100, user_id: str | None = None) -> list[dict[str, Any]]:
        """Newest incidents first (optionally of one user), each with ``review`` (``""`` or ``false_positive``)."""
        found = await self._newest(INCIDENTS_STREAM, limit=limit, user_id=user_id)
        if found:
            reviews = await self._redis.hmget(INCIDENT_REVIEWS, [incident["id"] for incident in found])
            for incident, review in zip(found, reviews, strict=True):
                incident["review"] = as_text(review) if review else ""
        return found

    async def _newest(self, stream: str, *, limit: int, user_id: str | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        end = "+"
        try:
            while len(found) < limit:
                batch: list[Any] = await self._redis.xrevrange(stream, max=end, min="-", count=500) or []
                for entry_id, fields in batch:
                    item = {as_text(k): as_text(v) for k, v in fields.items()}
                    if user_id is None or item.get("user_id") == user_id:
                        found.append({"id": as_text(entry_id), **item})
                if len(batch) < 500:
                    break
                end = "(" + as_text(batch[-1][0])
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return found[:limit]

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident by id (with its ``review``), or ``None``."""
        if not STREAM_ID.fullmatch(incident_id) or any(int(part) >= 2**64 for part in incident_id.split("-")):
            return None  # not a stream id (each part is a 64-bit number): no such incident
        try:
            entries: list[Any] = await self._redis.xrange(INCIDENTS_STREAM, min=incident_id, max=incident_id) or []
            review = await self._redis.hget(INCIDENT_REVIEWS, incident_id)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        if not entries:
            return None
        fields = {as_text(k): as_text(v) for k, v in entries[0][1].items()}
        return {"id": incident_id, **fields, "review": as_text(review) if review else ""}

    async def mark_false_positive(self, incident_id: str) -> dict[str, Any] | None:
        """Mark an incident a false positive: its offence is removed and restrictions are recomputed.

        Returns the updated incident (``None`` when there is no such incident). The offence is the one recorded at
        the incident's ``detected_at`` (both are written with the same clock reading). With fewer than 3 offences
        left a block is lifted, with fewer than 2 a cooldown. Marking twice changes nothing more.
        """
        incident = await self.incident(incident_id)
        if incident is None:
            return None
        user_id, detected_at = incident["user_id"], float(incident["detected_at"])
        key = offences_key(user_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(key, detected_at, detected_at)
                pipe.zcard(key)
                pipe.hset(INCIDENT_REVIEWS, incident_id, "false_positive")
                remaining = int((await pipe.execute())[1])
            async with self._redis.pipeline(transaction=True) as pipe:
                if remaining < 3:
                    pipe.delete(blocked_key(user_id))
                if remaining < 2:
                    pipe.delete(cooldown_key(user_id))
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return incident | {"review": "false_positive", "offences_7d_now": remaining}

    async def record_crisis(
        self, user_id: str, *, conversation_id: str, memory_id: str, kind: str, score: float, source: str
    ) -> str:
        """Log a crisis message for admins (never its text) and count it; returns the entry id."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(
                    CRISES_STREAM,
                    {
                        "user_id": user_id,
                        "conversation_id": conversation_id,
                        "memory_id": memory_id,
                        "kind": kind,
                        "score": repr(score),
                        "source": source,
                        "detected_at": repr(time.time()),
                    },
                    maxlen=CRISES_MAX,
                    approximate=True,
                )
                pipe.hincrby(CRISIS_COUNTS, kind, 1)
                entry_id = (await pipe.execute())[0]
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return as_text(entry_id)

    async def crises(self, *, limit: int = 100, user_id: str | None = None) -> list[dict[str, Any]]:
        """Newest crisis entries first (optionally of one user)."""
        return await self._newest(CRISES_STREAM, limit=limit, user_id=user_id)

    async def crisis_counts(self) -> dict[str, int]:
        """Crisis messages seen so far, by kind."""
        try:
            counts = await self._redis.hgetall(CRISIS_COUNTS)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return {as_text(kind): int(value) for kind, value in counts.items()}

    async def forget_incidents(self, user_id: str) -> int:
        """Delete ``user_id``'s incidents, their reviews and crisis entries (erasure); returns how many entries."""
        ids = [incident["id"] for incident in await self.incidents(limit=INCIDENTS_MAX, user_id=user_id)]
        crises = [entry["id"] for entry in await self.crises(limit=CRISES_MAX, user_id=user_id)]
        removed = int(await self._redis.xdel(INCIDENTS_STREAM, *ids)) if ids else 0
        if ids:
            await self._redis.hdel(INCIDENT_REVIEWS, *ids)
        if crises:
            removed += int(await self._redis.xdel(CRISES_STREAM, *crises))
        return removed
