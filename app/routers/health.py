"""Health: liveness, store reachability with latencies and queue depth, and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from app.deps import ServicesDep
from app.errors import BAD_INPUT, Responses
from app.metrics import Metrics
from app.services.health import association_queue_depth, check_chroma, check_redis

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


class DetailedHealth(BaseModel):
    """Every store with its check latency, and the background queue."""

    status: str = Field(description="'ok' or 'degraded'")
    redis: StoreCheck
    chroma: StoreCheck
    chroma_mode: str
    association_queue_depth: int | None = Field(description="Entries on companion:stream:association")


@router.get("/health", response_model=Health, responses=MALFORMED)
async def health(services: ServicesDep) -> Health:
    """Ping Redis and Chroma."""
    redis, chroma = await asyncio.gather(check_redis(services), check_chroma(services))
    return Health(
        status="ok" if redis.ok and chroma.ok else "degraded",
        redis=redis.ok,
        chroma=chroma.ok,
        chroma_mode=services.chroma_mode,
    )


@router.get("/health/detailed", response_model=DetailedHealth, responses=MALFORMED)
async def health_detailed(services: ServicesDep) -> DetailedHealth:
    """Stores with latencies and the association queue depth (the worker heartbeat comes with the worker)."""
    redis, chroma, depth = await asyncio.gather(
        check_redis(services), check_chroma(services), association_queue_depth(services)
    )
    return DetailedHealth(
        status="ok" if redis.ok and chroma.ok else "degraded",
        redis=StoreCheck(ok=redis.ok, latency_ms=redis.latency_ms, error=redis.error),
        chroma=StoreCheck(ok=chroma.ok, latency_ms=chroma.latency_ms, error=chroma.error),
        chroma_mode=services.chroma_mode,
        association_queue_depth=depth,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {CONTENT_TYPE_LATEST: {}}}, **MALFORMED},
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Request counts and latencies per route, store status and queue depth, for Prometheus."""
    registry: Metrics = request.app.state.metrics
    redis, chroma, depth = await asyncio.gather(
        check_redis(services), check_chroma(services), association_queue_depth(services)
    )
    registry.store_up.labels("redis").set(1 if redis.ok else 0)
    registry.store_up.labels("chroma").set(1 if chroma.ok else 0)
    if depth is not None:
        registry.queue_depth.set(depth)
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
