"""Memories of one user: list, search (``?q=``), get, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.deps import AuthorizedUser, CallerDep, ServicesDep, add_rate_limit_headers
from app.errors import NOT_FOUND, RATE_LIMITED, ROUTE_ERRORS
from app.pagination import CursorQuery
from app.queries import DateTimeQuery, MemoryIdPath, epoch
from app.schemas import TAG_PATTERN, TEXT_PATTERN, Deleted, Memory, MemoryCreate, MemoryEdit, MemoryPage
from app.services import memories
from memory.sensitivity import Sensitivity

router = APIRouter(prefix="/v1/users/{user_id}/memories", tags=["memories"])


@router.get("", response_model=MemoryPage, responses=ROUTE_ERRORS)
async def list_memories(
    user_id: AuthorizedUser,
    services: ServicesDep,
    caller: CallerDep,
    q: Annotated[
        str | None, Query(min_length=1, max_length=4000, pattern=TEXT_PATTERN, description="Search text (MMR)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size (at most 50 with q)")] = 50,
    cursor: CursorQuery = None,
    start_date: Annotated[DateTimeQuery, Query(description="Only memories from this time on (RFC 3339)")] = None,
    end_date: Annotated[DateTimeQuery, Query(description="Only memories up to this time (RFC 3339)")] = None,
    level: Annotated[
        Sensitivity | None, Query(description="Only memories of this sensitivity level (design seed 002)")
    ] = None,
    tag: Annotated[
        str | None, Query(min_length=1, max_length=40, pattern=TAG_PATTERN, description="Only memories with this tag")
    ] = None,
) -> MemoryPage:
    """The user's memories, newest first, a page at a time; with ``q``, the relevant and mutually diverse ones (MMR).

    ``start_date``/``end_date``, ``level`` and ``tag`` narrow both the list and the search.

    Memories above the key's clearance (an admin key's ``--clearance``; all for the user's own key) are left out.
    """
    only = memories.MemoryFilter(
        clearance=caller.clearance_for(user_id),
        level=level,
        tag=tag,
        since=epoch(start_date, "start_date"),
        until=epoch(end_date, "end_date"),
    )
    return await memories.list_or_search(services, user_id, query=q, limit=limit, cursor=cursor, only=only)


@router.post(
    "",
    response_model=Memory,
    status_code=201,
    responses=ROUTE_ERRORS
    | RATE_LIMITED
    | {200: {"model": Memory, "description": "The user already had this content"}},
)
async def create_memory(
    user_id: AuthorizedUser, body: MemoryCreate, services: ServicesDep, response: Response
) -> Memory:
    """Store a memory directly, perceived and classified as a chat message is, and queue it for association.

    Emotion, importance, category, sensitivity and message type are set as for a chat message; an older statement
    it gives a new value is superseded. Content the user already has is not stored twice: that memory comes back
    with 200.
    """
    memory, created = await memories.create_memory(
        services, user_id, body.text, tags=body.tags, created_at=body.created_at
    )
    if not created:
        response.status_code = 200
    await add_rate_limit_headers(response, services, user_id)
    return memory


@router.patch("/{memory_id}", response_model=Memory, responses=ROUTE_ERRORS | NOT_FOUND | RATE_LIMITED)
async def edit_memory(
    user_id: AuthorizedUser,
    memory_id: MemoryIdPath,
    body: MemoryEdit,
    services: ServicesDep,
    caller: CallerDep,
    response: Response,
) -> Memory:
    """Give a memory new text: its next version, re-classified (never lower than it was).

    The old text stays in ``.../versions``.
    """
    clearance = caller.clearance_for(user_id)
    memory = await memories.edit_memory(services, user_id, memory_id, body.text, clearance=clearance)
    await add_rate_limit_headers(response, services, user_id)
    return memory


@router.get("/{memory_id}", response_model=Memory, responses=ROUTE_ERRORS | NOT_FOUND)
async def get_memory(
    user_id: AuthorizedUser, memory_id: MemoryIdPath, services: ServicesDep, caller: CallerDep
) -> Memory:
    """One memory (403 when it is classified above the key's clearance)."""
    return await memories.get_memory(services, user_id, memory_id, clearance=caller.clearance_for(user_id))


@router.delete("/{memory_id}", response_model=Deleted, responses=ROUTE_ERRORS | NOT_FOUND)
async def delete_memory(
    user_id: AuthorizedUser, memory_id: MemoryIdPath, services: ServicesDep, response: Response
) -> Deleted:
    """Delete one memory."""
    await memories.delete_memory(services, user_id, memory_id)
    await add_rate_limit_headers(response, services, user_id)
    return Deleted(deleted=True)
