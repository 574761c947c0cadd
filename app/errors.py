"""Error bodies and handlers: every error the API returns is an ``ErrorBody`` with a one-line ``detail``."""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from companion.core.errors import (
    AuthenticationError,
    ChatModelError,
    CompanionError,
    ConflictError,
    InjectionBlockedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    StoreUnavailableError,
    UserBusyError,
)

logger = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """What went wrong, in one line."""

    error: str = Field(description="Error class, e.g. InvalidInputError, RateLimitedError.", examples=["NotFound"])
    detail: str = Field(description="One line naming the problem.", examples=["no memory 'abc' for user 'alice'"])


#: The ``responses=`` of a route: status -> OpenAPI response.
Responses = dict[int | str, dict[str, Any]]


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


BAD_INPUT: Responses = {400: _doc("Invalid input (the detail says which)"), 422: _doc("Malformed request")}
AUTH: Responses = {401: _doc("Missing, unknown or revoked API key"), 403: _doc("This key may not do this")}
NOT_FOUND: Responses = {404: _doc("Not found")}
RATE_LIMITED: Responses = {429: _doc("Rate limited or cooling down; see Retry-After")}
TOO_LARGE: Responses = {413: _doc("The request body is longer than COMPANION_MAX_REQUEST_BYTES")}
UNAVAILABLE: Responses = {503: _doc("A store or the chat model is unavailable")}
CONFLICT: Responses = {409: _doc("A request with the same Idempotency-Key is still in progress")}
BUSY: Responses = {409: _doc("The user's memories are busy (the association worker holds them) or already so")}
#: What any route that takes a key may answer besides its result; a route adds the answers of its own.
ROUTE_ERRORS: Responses = {**BAD_INPUT, **AUTH, **UNAVAILABLE}


def status_for(exc: CompanionError) -> int:
    """HTTP status of a domain error."""
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError | UserBusyError):
        return 409
    if isinstance(exc, RateLimitedError | InjectionBlockedError):
        return 429
    if isinstance(exc, StoreUnavailableError | ChatModelError):
        return 503
    return 400


RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def rate_limit_headers(limit: int, remaining: int, reset_seconds: int) -> dict[str, str]:
    """``X-RateLimit-Limit`` (messages per minute), ``-Remaining`` and ``-Reset`` (seconds until there is room)."""
    return dict(zip(RATE_LIMIT_HEADERS, (str(limit), str(remaining), str(reset_seconds)), strict=True))


def error_response(exc: CompanionError) -> JSONResponse:
    """The JSON response of a domain error."""
    headers = {}
    if isinstance(exc, RateLimitedError | InjectionBlockedError):
        headers["Retry-After"] = str(max(1, int(exc.retry_after)))
    if isinstance(exc, RateLimitedError) and exc.limit is not None:
        headers.update(rate_limit_headers(exc.limit, 0, int(exc.retry_after)))
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    body = ErrorBody(error=type(exc).__name__, detail=str(exc))
    return JSONResponse(body.model_dump(), status_code=status_for(exc), headers=headers)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Methods the app's documented paths allow for ``path`` (for the ``Allow`` header of a 405)."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


def _failed_store(exc: BaseException) -> str | None:
    """``Chroma`` or ``Redis`` when ``exc`` comes from that store's client library, else None."""
    module = type(exc).__module__
    if module.startswith("chromadb") or isinstance(exc, sqlite3.Error):
        return "Chroma"
    if module.startswith("redis"):
        return "Redis"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors and HTTP errors to ``ErrorBody`` responses."""

    @app.exception_handler(CompanionError)
    async def companion_error(request: Request, exc: CompanionError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Every response is an ErrorBody, a failure nobody foresaw included. A store's own exception (a damaged
        # Chroma file, a dropped connection) is the store being unusable: 503, like StoreUnavailableError.
        store = _failed_store(exc)
        if store is not None:
            logger.error("%s failed during %s %s: %s", store, request.method, request.url.path, _first_line(exc))
            detail = f"{store} failed: {_first_line(exc)}"
            return JSONResponse(ErrorBody(error="StoreUnavailableError", detail=detail).model_dump(), status_code=503)
        logger.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        body = ErrorBody(error="InternalError", detail="an unexpected error; it is in the server's log")
        return JSONResponse(body.model_dump(), status_code=500)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "request"
        body = ErrorBody(error="ValidationError", detail=f"{where[:200]}: {first.get('msg', 'invalid')}"[:500])
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route whose path matched; name those of all of them.
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        body = ErrorBody(error="HTTPError", detail=str(exc.detail))
        return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=headers)
