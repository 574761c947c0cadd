"""Security state in Redis: injection offences per user over 7 days, cooldowns and blocks, and the incident log.

Keys:

- ``companion:u:{<user>}:offences``   sorted set of offence times (epoch seconds), kept 7 days
- ``companion:u:{<user>}:cooldown``   set while the user cools down (escalation level 2), with its TTL
- ``companion:u:{<user>}:blocked``    set while the user is blocked (escalation level 3), with its TTL
- ``companion:stream:incidents``      every detected injection (capped), for admins

The per-user keys sit under the user's prefix, so erasing a user drops them with the rest of their short-term state.
Escalation (design seed 003): the n-th offence within 7 days gives level min(n, 3): 1 an in-character warning,
2 a cooldown (no messages for ``cooldown_seconds``), 3 a block until the offences age out (7 days).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from companion.errors import StoreUnavailableError
from memory.keys import hash_tag
from memory.redis_io import as_text
from memory.short_term import PREFIX

OFFENCE_WINDOW_SECONDS = 7 * 24 * 3600
INCIDENTS_STREAM = f"{PREFIX}:stream:incidents"
INCIDENTS_MAX = 100_000
EXCERPT_CHARS = 300


def offences_key(user_id: str) -> str:
    """Redis key of a user's offence times."""
    return f"{PREFIX}:u:{hash_tag(user_id)}:offences"


def cooldown_key(user_id: str) -> str:
    """Redis key set while a user cools down."""
    return f"{PREFIX}:u:{hash_tag(user_id)}:cooldown"


def blocked_key(user_id: str) -> str:
    """Redis key set while a user is blocked."""
    return f"{PREFIX}:u:{hash_tag(user_id)}:blocked"


@dataclass(frozen=True, slots=True)
class Restriction:
    """A user may not send messages for ``retry_after`` seconds."""

    level: int  # 2 cooldown, 3 block
    retry_after: int


class SecurityStore:
    """Offences, restrictions and incidents."""

    def __init__(self, redis: Redis, *, cooldown_seconds: int = 900) -> None:
        self._redis = redis
        self.cooldown_seconds = cooldown_seconds

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
        """Count an offence, escalate, log the incident; returns (offences in the last 7 days, escalation level)."""
        now = time.time()
        key = offences_key(user_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(key, {uuid.uuid4().hex: now})
                pipe.zremrangebyscore(key, "-inf", now - OFFENCE_WINDOW_SECONDS)
                pipe.zcard(key)
                pipe.expire(key, OFFENCE_WINDOW_SECONDS)
                count = int((await pipe.execute())[2])
            level = min(count, 3)
            async with self._redis.pipeline(transaction=True) as pipe:
                if level == 2:
                    pipe.set(cooldown_key(user_id), "1", ex=self.cooldown_seconds)
                elif level == 3:
                    pipe.set(blocked_key(user_id), "1", ex=OFFENCE_WINDOW_SECONDS)
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
        """Newest incidents first (optionally of one user)."""
        found: list[dict[str, Any]] = []
        end = "+"
        while len(found) < limit:
            batch: list[Any] = await self._redis.xrevrange(INCIDENTS_STREAM, max=end, min="-", count=500) or []
            for entry_id, fields in batch:
                incident = {as_text(k): as_text(v) for k, v in fields.items()}
                if user_id is None or incident.get("user_id") == user_id:
                    found.append({"id": as_text(entry_id), **incident})
            if len(batch) < 500:
                break
            end = "(" + as_text(batch[-1][0])
        return found[:limit]

    async def forget_incidents(self, user_id: str) -> int:
        """Delete ``user_id``'s incidents (erasure); returns how many."""
        ids = [incident["id"] for incident in await self.incidents(limit=INCIDENTS_MAX, user_id=user_id)]
        return int(await self._redis.xdel(INCIDENTS_STREAM, *ids)) if ids else 0
