"""Error bodies and handlers: every error the API returns is an ``ErrorBody`` with a one-line ``detail``."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from companion.errors import (
    AuthenticationError,
    ChatModelError,
    CompanionError,
    InjectionBlockedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    StoreUnavailableError,
)


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


def status_for(exc: CompanionError) -> int:
    """HTTP status of a domain error."""
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, RateLimitedError | InjectionBlockedError):
        return 429
    if isinstance(exc, StoreUnavailableError | ChatModelError):
        return 503
    return 400


def error_response(exc: CompanionError) -> JSONResponse:
    """The JSON response of a domain error."""
    headers = {}
    if isinstance(exc, RateLimitedError | InjectionBlockedError):
        headers["Retry-After"] = str(max(1, int(exc.retry_after)))
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


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors and HTTP errors to ``ErrorBody`` responses."""

    @app.exception_handler(CompanionError)
    async def companion_error(request: Request, exc: CompanionError) -> JSONResponse:
        return error_response(exc)

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
