"""How well the companion knows each user, counted in Redis (rules in ``bots.common.response_flow``).

Keys live under the user's short-term prefix, so ``ShortTermStore.forget_user`` drops them with the rest:

- ``companion:u:{<user>}:bot:relation``       hash: ``messages`` (to the companion), ``first_seen``, ``last_seen``
- ``companion:u:{<user>}:bot:relation_days``  set of UTC dates (YYYY-MM-DD) the user wrote to the companion
- ``companion:u:{<user>}:bot:last_channel``   the last Discord channel or Telegram group the user addressed it in
"""

from __future__ import annotations

import time
from collections.abc import Collection

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bots.common.clock import Clock
from bots.common.response_flow import Relationship, relationship_for
from companion.core.errors import StoreUnavailableError
from memory.keys import UserKey

#: Redis hash of a user's message counts.
relation_key = UserKey("bot:relation")
#: Redis set of the days a user wrote to the companion.
relation_days_key = UserKey("bot:relation_days")
#: Redis string: the last channel a user addressed the companion in.
last_channel_key = UserKey("bot:last_channel")


def is_admin(platform: str, platform_user_id: int | str, admin_ids: Collection[str]) -> bool:
    """Whether a platform user is listed in ``COMPANION_ADMIN_IDS`` (bare or ``platform:``-prefixed)."""
    return str(platform_user_id) in admin_ids or f"{platform}:{platform_user_id}" in admin_ids


class RelationshipStore:
    """Counts messages to the companion and derives the relationship."""

    def __init__(self, redis: Redis, *, clock: Clock) -> None:
        self.redis = redis
        self.clock = clock

    async def record_message(self, user_id: str, *, admin: bool) -> Relationship:
        """Count one message to the companion and return the relationship it leaves."""
        now = self.clock.now()
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(relation_key(user_id), "messages", 1)
                pipe.hsetnx(relation_key(user_id), "first_seen", repr(now))
                pipe.hset(relation_key(user_id), "last_seen", repr(now))
                pipe.sadd(relation_days_key(user_id), day)
                pipe.scard(relation_days_key(user_id))
                results = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return relationship_for(is_admin=admin, messages=int(results[0]), days=int(results[-1]))

    async def relationship(self, user_id: str, *, admin: bool) -> Relationship:
        """The current relationship, without counting anything."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(relation_key(user_id), "messages")
            pipe.scard(relation_days_key(user_id))
            messages, days = await pipe.execute()
        return relationship_for(is_admin=admin, messages=int(messages or 0), days=int(days or 0))

    async def remember_channel(self, user_id: str, channel_id: int) -> None:
        """Keep the channel the user last addressed the companion in (for outreach when DMs are closed)."""
        await self.redis.set(last_channel_key(user_id), str(channel_id))

    async def last_channel(self, user_id: str) -> int | None:
        """The channel kept by ``remember_channel``, if any."""
        raw = await self.redis.get(last_channel_key(user_id))
        return int(raw) if raw else None
