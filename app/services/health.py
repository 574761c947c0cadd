"""Store checks for the health routes and the metrics gauges."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from app.services.dead_letters import QUEUES, queue_named
from companion.services import Services
from memory.security import SecurityStore
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


def _read_chroma(services: Services) -> None:
    # The heartbeat alone answers even when the store's files are damaged: read the catalogue too.
    services.chroma.heartbeat()
    services.chroma.list_collections(limit=1)


async def check_chroma(services: Services) -> Check:
    """Chroma's heartbeat and one read of its catalogue (a damaged store fails the read)."""
    started = time.perf_counter()
    try:
        await asyncio.to_thread(_read_chroma, services)
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


async def crisis_counts(services: Services) -> dict[str, int] | None:
    """Crisis messages seen so far, by kind (``None`` if Redis does not answer)."""
    try:
        return await SecurityStore(services.redis).crisis_counts()
    except Exception as exc:  # reported as unknown
        logger.warning("cannot read the crisis counts: %s", exc)
        return None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


async def worker_and_queues(services: Services) -> dict[str, Any] | None:
    """The freshest worker heartbeat and both queues' backlogs (``None`` if Redis does not answer)."""
    try:
        beats = await queue_named(services, "association").workers()
        queues = {name: await queue_named(services, name).backlog() for name in QUEUES}
    except Exception as exc:  # reported as unknown
        logger.warning("cannot read the worker heartbeat or the queues: %s", exc)
        return None
    now = time.time()
    latest = max(beats.values(), key=lambda beat: float(beat.get("at", 0.0)), default=None)
    worker = {
        "status": "absent" if latest is None else "alive" if any(b.get("alive") for b in beats.values()) else "stale",
        "alive": sum(1 for beat in beats.values() if beat.get("alive")),
        "seen": len(beats),
        "last_beat_age_seconds": None if latest is None else round(max(0.0, now - float(latest["at"])), 3),
    }
    return {"worker": worker, "queues": queues}
