"""Store checks for the health routes and the metrics gauges."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from companion.services import Services
from memory.short_term import ASSOCIATION_STREAM

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Check:
    """One store check."""

    ok: bool
    latency_ms: float
    error: str | None = None


async def check_redis(services: Services) -> Check:
    """PING Redis."""
    started = time.perf_counter()
    try:
        await services.redis.ping()
    except Exception as exc:  # any failure means "not reachable" here
        logger.warning("redis health check failed: %s", exc)
        return Check(False, _ms(started), str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return Check(True, _ms(started))


async def check_chroma(services: Services) -> Check:
    """Chroma's heartbeat."""
    started = time.perf_counter()
    try:
        await asyncio.to_thread(services.chroma.heartbeat)
    except Exception as exc:  # chromadb raises many types; all mean "not usable"
        logger.warning("chroma health check failed: %s", exc)
        return Check(False, _ms(started), str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return Check(True, _ms(started))


async def association_queue_depth(services: Services) -> int | None:
    """Entries waiting on the association stream (``None`` if Redis does not answer)."""
    try:
        return int(await services.redis.xlen(ASSOCIATION_STREAM))
    except Exception as exc:  # reported as unknown depth
        logger.warning("cannot read the association queue depth: %s", exc)
        return None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
