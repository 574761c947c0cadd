"""Health: liveness, store reachability with latencies and queue depth, and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from app.deps import ServicesDep
from app.errors import BAD_INPUT, Responses
from app.metrics import Metrics
from app.services.health import (
    association_queue_depth,
    check_chroma,
    check_redis,
    crisis_counts,
    worker_and_queues,
)

router = APIRouter(tags=["health"])

#: Health routes take no input; an unknown query parameter is still a 422.
MALFORMED: Responses = {422: BAD_INPUT[422]}


class Health(BaseModel):
    """Liveness and store reachability."""

    status: str = Field(description="'ok' or 'degraded'")
    redis: bool
    chroma: bool
    chroma_mode: str


class StoreCheck(BaseModel):
    """One store's check."""

    ok: bool
    latency_ms: float
    error: str | None


class WorkerHealth(BaseModel):
    """The background worker, from its heartbeat in Redis."""

    status: Literal["alive", "stale", "absent"] = Field(
        description="alive: a fresh heartbeat; stale: heartbeats expired (worker stopped); absent: none ever seen"
    )
    alive: int = Field(description="Workers with a fresh heartbeat")
    seen: int = Field(description="Workers that ever beat")
    last_beat_age_seconds: float | None = Field(description="Seconds since the newest heartbeat")


class QueueBacklog(BaseModel):
    """A queue's backlog."""

    queued: int = Field(description="Entries on the stream (including pending ones)")
    pending: int = Field(description="Delivered to a worker, not yet acknowledged")
    dead: int = Field(description="Dead letters")


class DetailedHealth(BaseModel):
    """Every store with its check latency, and the background queue."""

    status: str = Field(description="'ok' or 'degraded'")
    redis: StoreCheck
    chroma: StoreCheck
    chroma_mode: str
    association_queue_depth: int | None = Field(description="Entries on companion:stream:association")
    worker: WorkerHealth | None = Field(default=None, description="Null if Redis does not answer")
    queues: dict[str, QueueBacklog] | None = Field(
        default=None, description="association and ingest backlogs (null if Redis does not answer)"
    )


DEGRADED: Responses = {503: {"description": "a store is not usable: the same body, status `degraded`, says which"}}


@router.get("/health", response_model=Health, responses={**MALFORMED, **DEGRADED})
async def health(services: ServicesDep, response: Response) -> Health:
    """Ping Redis and read Chroma; 503 (with the same body) when either is not usable."""
    redis, chroma = await asyncio.gather(check_redis(services), check_chroma(services))
    if not (redis.ok and chroma.ok):
        response.status_code = 503
    return Health(
        status="ok" if redis.ok and chroma.ok else "degraded",
        redis=redis.ok,
        chroma=chroma.ok,
        chroma_mode=services.chroma_mode,
    )


@router.get("/health/detailed", response_model=DetailedHealth, responses={**MALFORMED, **DEGRADED})
async def health_detailed(services: ServicesDep, response: Response) -> DetailedHealth:
    """Stores with latencies, the worker's heartbeat and the queues' backlogs (queued, pending, dead letters)."""
    redis, chroma, depth, background = await asyncio.gather(
        check_redis(services), check_chroma(services), association_queue_depth(services), worker_and_queues(services)
    )
    if not (redis.ok and chroma.ok):
        response.status_code = 503
    return DetailedHealth(
        status="ok" if redis.ok and chroma.ok else "degraded",
        redis=StoreCheck(ok=redis.ok, latency_ms=redis.latency_ms, error=redis.error),
        chroma=StoreCheck(ok=chroma.ok, latency_ms=chroma.latency_ms, error=chroma.error),
        chroma_mode=services.chroma_mode,
        association_queue_depth=depth,
        worker=None if background is None else WorkerHealth.model_validate(background["worker"]),
        queues=None
        if background is None
        else {k: QueueBacklog.model_validate(v) for k, v in background["queues"].items()},
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {CONTENT_TYPE_LATEST: {}}}, **MALFORMED},
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Request counts and latencies per route, store status, queue depth and crisis counts, for Prometheus."""
    registry: Metrics = request.app.state.metrics
    redis, chroma, depth, background, crises = await asyncio.gather(
        check_redis(services),
        check_chroma(services),
        association_queue_depth(services),
        worker_and_queues(services),
        crisis_counts(services),
    )
    for kind, count in (crises or {}).items():
        registry.crisis_messages.labels(kind).set(count)
    if background is not None:
        registry.observe_background(background)
    registry.store_up.labels("redis").set(1 if redis.ok else 0)
    registry.store_up.labels("chroma").set(1 if chroma.ok else 0)
    if depth is not None:
        registry.queue_depth.set(depth)
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
