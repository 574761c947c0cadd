"""Idempotent chat requests: a client that retries with the same ``Idempotency-Key`` gets the first answer back.

A retry after a 503 or a cut connection must not store the message twice. The key (any printable text up to 255
characters, chosen by the client, scoped to the user) is hashed with the user id into

- the turn id, so the turn's memory has the same id on every attempt and Chroma keeps one copy (``add`` of an
  existing id writes nothing; the lexical index replaces its row), and
- ``companion:idem:{<hash>}``: ``pending`` while the first attempt runs (expires after ``PENDING_SECONDS``, so a
  crashed server does not block the key for long), then the finished response, kept ``KEEP_SECONDS``.

A second request while the first runs gets 409; once the first finished, its response is returned again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from companion.core.errors import ConflictError, InvalidInputError, StoreUnavailableError
from memory.keys import hash_tag
from memory.redis_io import as_text
from memory.short_term import PREFIX

__all__ = ["IdempotencyStore", "IdempotentRequest", "idempotent_request"]

MAX_KEY_CHARS = 255
PENDING_SECONDS = 300
KEEP_SECONDS = 24 * 3600
_PENDING = "pending"
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """One user's request under one idempotency key."""

    digest: str

    @property
    def turn_id(self) -> str:
        """The turn (and memory) id every attempt of this request uses."""
        return self.digest[:32]

    @property
    def redis_key(self) -> str:
        """Where the request's state is kept."""
        return f"{PREFIX}:idem:{hash_tag(self.digest)}"


def idempotent_request(user_id: str, key: str) -> IdempotentRequest:
    """Check ``key`` (printable ASCII, no spaces, at most 255 characters) and bind it to ``user_id``."""
    if not key or len(key) > MAX_KEY_CHARS or not _PRINTABLE.fullmatch(key):
        raise InvalidInputError(f"Idempotency-Key must be 1-{MAX_KEY_CHARS} printable ASCII characters without spaces")
    return IdempotentRequest(hashlib.sha256(f"{user_id}\x00{key}".encode()).hexdigest())


class IdempotencyStore:
    """Begin, finish or abandon idempotent requests in Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def begin(self, request: IdempotentRequest) -> str | None:
        """Claim the request; returns the stored response of a finished earlier attempt, else None (go ahead).

        Raises:
            ConflictError: an earlier attempt is still running.
        """
        try:
            if await self._redis.set(request.redis_key, _PENDING, nx=True, ex=PENDING_SECONDS):
                return None
            stored = await self._redis.get(request.redis_key)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        if stored is None:  # it expired between the two calls: claim it again
            return await self.begin(request)
        text = as_text(stored)
        if text == _PENDING:
            raise ConflictError("a request with this Idempotency-Key is still in progress; retry once it has finished")
        return text

    async def finish(self, request: IdempotentRequest, response: str) -> None:
        """Keep the finished response for retries."""
        await self._redis.set(request.redis_key, response, ex=KEEP_SECONDS)

    async def abandon(self, request: IdempotentRequest) -> None:
        """The attempt failed: let a retry run the request again (same turn id, so nothing is stored twice)."""
        await self._redis.delete(request.redis_key)
