"""Two small helpers every Redis-backed store shares: decoding replies and turning Redis errors into ours."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from redis.exceptions import RedisError

from companion.core.errors import StoreUnavailableError


def as_text(value: Any) -> str:
    """A Redis reply value (bytes or already decoded) as ``str``."""
    return value.decode() if isinstance(value, bytes) else str(value)


async def redis_call(awaitable: Awaitable[Any]) -> Any:
    """Await one Redis call; a Redis failure becomes ``StoreUnavailableError`` with one readable line."""
    try:
        return await awaitable
    except RedisError as exc:
        raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
