"""The FastAPI service: ``create_app()`` opens the stores in its lifespan; routers per area under ``/v1``."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.body_limit import BodySizeLimit
from app.deps import reject_unknown_query_parameters
from app.errors import RATE_LIMIT_HEADERS, TOO_LARGE, install_error_handlers
from app.metrics import install_metrics
from app.routers import (
    admin,
    chat,
    dead_letters,
    health,
    ingestion,
    memories,
    memory_links,
    mood,
    outreach,
    personality,
    reflection,
    users,
)
from companion.core.settings import Settings, get_settings
from companion.runtime.background import background_work
from companion.services import Services, open_checkpointer, open_services, supervise_embedded_redis
from graphs import proactive as proactive_graph
from graphs import reflection as reflection_graph
from graphs.conversation import build_graph_from_services

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"[!-~]{1,128}")

DESCRIPTION = """An AI companion that remembers, over HTTP.

Every `/v1` route needs an API key (`companion keys create`) as `Authorization: Bearer cmp_...`. A user key may
only touch its own user's data (403 otherwise); an admin key may touch every user and the `/v1/admin` routes.
Every error is an `ErrorBody` (`error`, `detail`); 429 responses carry `Retry-After`. A request body longer than
`COMPANION_MAX_REQUEST_BYTES` (8 MiB) gets 413 before it is parsed or its key checked.
"""


def create_app(
    settings: Settings | None = None, *, services: Services | None = None, local_token: str | None = None
) -> FastAPI:
    """Build the app; services open when it starts (or are the ``services`` given) and close when it stops.

    ``companion serve`` opens the services itself before the server starts, so that an unreachable store or an
    unusable data dir is its one-line error and exit code rather than a traceback from inside the ASGI lifespan.
    ``local_token`` is accepted as an operator key for as long as this app lives (``serve`` makes one and writes it
    to the data dir's discovery file, so that ``companion chat`` can hand it its turns); it is never stored.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def opened() -> AsyncIterator[Services]:
        if services is None:
            async with open_services(settings) as own:
                yield own
        else:
            try:
                yield services
            finally:
                await services.aclose()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            opened() as services,
            open_checkpointer(settings, services=services) as checkpointer,
            background_work(services),  # the worker and the scheduler, unless COMPANION_BACKGROUND=false
        ):
            app.state.services = services
            app.state.checkpointer = checkpointer
            app.state.conversation_graph = build_graph_from_services(services, checkpointer=checkpointer)
            app.state.reflection_graph = reflection_graph.build_graph_from_services(services)
            app.state.proactive_graph = proactive_graph.build_graph_from_services(services)
            supervisor = asyncio.create_task(supervise_embedded_redis(settings), name="supervise-embedded-redis")
            try:
                yield
            finally:
                supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervisor

    app = FastAPI(
        title="companion",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=TOO_LARGE,
        dependencies=[Depends(reject_unknown_query_parameters)],
    )
    routers = (
        health,
        chat,
        memories,
        memory_links,
        ingestion,
        personality,
        mood,
        outreach,
        reflection,
        users,
        admin,
        dead_letters,
    )
    for module in routers:
        app.include_router(module.router)
    install_error_handlers(app)
    app.state.metrics = install_metrics(app)
    app.state.local_token = local_token
    # Starlette runs the last added outermost: the request id, then CORS (so errors from the layers inside, a 413
    # included, carry both), then the body limit, before any body is read or key checked.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=sorted(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After", "Idempotent-Replayed", *RATE_LIMIT_HEADERS],
            max_age=600,
        )
    app.add_middleware(CorrelationIdMiddleware, header_name=REQUEST_ID_HEADER, validator=acceptable_request_id)
    return app


def acceptable_request_id(value: str) -> bool:
    """A client's ``X-Request-ID`` is kept when it is 1-128 printable ASCII characters; else a new one is made."""
    return REQUEST_ID_PATTERN.fullmatch(value) is not None
