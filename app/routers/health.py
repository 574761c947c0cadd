"""Health: is the service up and are its stores reachable."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import ServicesDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Liveness and store reachability."""

    status: str
    redis: bool
    chroma: bool
    chroma_mode: str


@router.get("/health", response_model=Health)
async def health(services: ServicesDep) -> Health:
    """Ping Redis and Chroma."""
    try:
        redis_ok = bool(await services.redis.ping())
    except Exception:  # any failure means "not reachable" here; the detail is in the logs
        redis_ok = False
    try:
        await asyncio.to_thread(services.chroma.heartbeat)
        chroma_ok = True
    except Exception:
        chroma_ok = False
    return Health(
        status="ok" if redis_ok and chroma_ok else "degraded",
        redis=redis_ok,
        chroma=chroma_ok,
        chroma_mode=services.chroma_mode,
    )
