"""A limit on request bodies, enforced before anything reads, parses or authenticates them.

Without it a 600 MB body with no API key was read and parsed before the 401 (26.8 s, 2.3 GB of server memory).
``BodySizeLimit`` is plain ASGI middleware, the outermost layer of the app: a ``Content-Length`` above the limit is
refused at once, and any other body (chunked, or a ``Content-Length`` that understates it) is read here, counting
its chunks, and refused as soon as it passes the limit. The answer is a 413 with the usual ``ErrorBody``; the rest
of the body is never read. A body within the limit is handed on to the app unchanged.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import ErrorBody

#: The ``error`` of the 413 body.
ERROR_NAME = "RequestTooLargeError"


class BodySizeLimit:
    """ASGI middleware: 413 for an HTTP request whose body is longer than ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then read and count the body before the app sees the request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see that as usual
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)

    async def _refuse(self, send: Send) -> None:
        detail = f"the request body is larger than the limit of {self.max_bytes} bytes (COMPANION_MAX_REQUEST_BYTES)"
        body = ErrorBody(error=ERROR_NAME, detail=detail).model_dump_json().encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the unread rest of the body is not worth reading to keep the connection
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _replay(chunks: list[bytes], last: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read so far as one message (or ``last``), then defers to ``receive``."""
    pending: Message | None = last or {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def replay() -> Message:
        nonlocal pending
        if pending is not None:
            message, pending = pending, None
            return message
        return await receive()

    return replay
