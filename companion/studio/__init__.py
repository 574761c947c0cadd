"""The process's services for ``langgraph dev`` (LangGraph Studio's local server) and ``langgraph.json``.

``langgraph.json`` names the four ``make_*_graph`` functions of ``companion/studio/graphs.py``. The server calls
one on every request that touches its graph (drawing it, its schemas, each run), on its event loop, where a
blocking call is an error (blockbuster). So the first call builds the process's services and compiles the graph in
a worker thread; later calls get the same compiled graph without blocking. ``app`` (``http.app`` in
``langgraph.json``) carries only a lifespan that closes the services when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, cast

from starlette.applications import Starlette

from companion.core.settings import get_settings
from companion.services import Services, build_services

logger = logging.getLogger(__name__)
G = TypeVar("G")

_lock = threading.Lock()
_services: Services | None = None
_graphs: dict[str, Any] = {}


async def process_graph(name: str, build: Callable[[Services], G]) -> G:
    """The graph ``name``: ``build(services)`` once per process (in a thread, off the event loop), then reused."""
    graph = _graphs.get(name)
    if graph is None:
        graph = await asyncio.to_thread(_build_once, name, build)
    return cast(G, graph)


def _build_once(name: str, build: Callable[[Services], Any]) -> Any:
    global _services
    with _lock:
        if name not in _graphs:
            if _services is None:
                _services = build_services(get_settings())
                logger.info("studio: built the process's services")
            _graphs[name] = build(_services)
        return _graphs[name]


def _take_services() -> Services | None:
    global _services
    with _lock:
        services, _services = _services, None
        _graphs.clear()
        return services


async def close_process_services() -> None:
    """Close the services ``process_graph`` built, if any (the next call builds them again)."""
    services = await asyncio.to_thread(_take_services)
    if services is not None:
        await services.aclose()
        logger.info("studio: closed the process's services")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Nothing to open (graphs build the services on first use); close them when the server stops."""
    try:
        yield
    finally:
        await close_process_services()


app = Starlette(lifespan=lifespan)
