"""Memories of one user: list, search (``?q=``), get, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.deps import AuthorizedUser, ServicesDep
from app.errors import AUTH, BAD_INPUT, NOT_FOUND, UNAVAILABLE, Responses
from app.schemas import TEXT_PATTERN, Deleted, Memory, MemoryPage
from app.services import memories

router = APIRouter(prefix="/v1/users/{user_id}/memories", tags=["memories"])

ERRORS: Responses = {**BAD_INPUT, **AUTH, **UNAVAILABLE}
MemoryIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("", response_model=MemoryPage, responses=ERRORS)
async def list_memories(
    user_id: AuthorizedUser,
    services: ServicesDep,
    q: Annotated[
        str | None, Query(min_length=1, max_length=4000, pattern=TEXT_PATTERN, description="Search text (MMR)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size (at most 50 with q)")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MemoryPage:
    """The user's memories, newest first; with ``q``, the relevant and mutually diverse ones (MMR)."""
    return await memories.list_or_search(services, user_id, query=q, limit=limit, offset=offset)


@router.get("/{memory_id}", response_model=Memory, responses=ERRORS | NOT_FOUND)
async def get_memory(user_id: AuthorizedUser, memory_id: MemoryIdPath, services: ServicesDep) -> Memory:
    """One memory."""
    return await memories.get_memory(services, user_id, memory_id)


@router.delete("/{memory_id}", response_model=Deleted, responses=ERRORS | NOT_FOUND)
async def delete_memory(user_id: AuthorizedUser, memory_id: MemoryIdPath, services: ServicesDep) -> Deleted:
    """Delete one memory."""
    await memories.delete_memory(services, user_id, memory_id)
    return Deleted(deleted=True)
