"""The FastAPI service: ``create_app()`` opens the stores in its lifespan and maps domain errors to 4xx/503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.routers import chat, health
from companion.errors import (
    ChatModelError,
    CompanionError,
    ConfigurationError,
    InvalidInputError,
    RateLimitedError,
    StoreUnavailableError,
)
from companion.services import open_checkpointer, open_services
from companion.settings import Settings, get_settings
from graphs.conversation import build_graph_from_services


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; services open when it starts and close when it stops."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings) as services, open_checkpointer(settings) as checkpointer:
            app.state.services = services
            app.state.conversation_graph = build_graph_from_services(services, checkpointer=checkpointer)
            yield

    app = FastAPI(title="companion", version="0.1.0", lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(chat.router)

    @app.exception_handler(CompanionError)
    async def companion_error(request: Request, exc: CompanionError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimitedError):
            status, headers = 429, {"Retry-After": str(int(exc.retry_after))}
        elif isinstance(exc, InvalidInputError | ConfigurationError):
            status = 400
        elif isinstance(exc, StoreUnavailableError | ChatModelError):
            status = 503
        else:
            status = 400
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=status, headers=headers)

    return app
