"""A memory's history and neighbours: its versions (each with the message that caused it) and its relations."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.deps import AuthorizedUser, CallerDep, ServicesDep
from app.errors import AUTH, BAD_INPUT, NOT_FOUND, UNAVAILABLE, Responses
from app.queries import MemoryIdPath
from app.services.memory_links import memory_relations, memory_versions

router = APIRouter(prefix="/v1/users/{user_id}/memories", tags=["memories"])

ERRORS: Responses = {**BAD_INPUT, **AUTH, **UNAVAILABLE, **NOT_FOUND}


class MemoryVersion(BaseModel):
    """One version of a memory."""

    version: int
    text: str
    caused_by: str = Field(description="Id of the message (episodic memory) that produced this version")
    cause_text: str = Field(description="That message's text")
    created_at: float


class MemoryVersions(BaseModel):
    """Every stored version of a memory, oldest first."""

    user_id: str
    memory_id: str
    current_version: int | None = Field(description="The memory's version now (null once it was deleted)")
    versions: list[MemoryVersion]


class MemoryRelation(BaseModel):
    """A relation from this memory to another of the same user."""

    to_id: str
    to_text: str | None = Field(description="The related memory's text (null if it was deleted since)")
    strength: float = Field(description="0-100")
    reason: str
    caused_by: str = Field(description="Id of the message whose association made the relation")
    created_at: float


class MemoryRelations(BaseModel):
    """Relations of a memory, strongest first."""

    user_id: str
    memory_id: str
    relations: list[MemoryRelation]


@router.get("/{memory_id}/versions", response_model=MemoryVersions, responses=ERRORS)
async def versions(
    user_id: AuthorizedUser, memory_id: MemoryIdPath, services: ServicesDep, caller: CallerDep
) -> MemoryVersions:
    """Every version of one memory, with the message that caused each (403 above the key's clearance)."""
    clearance = caller.clearance_for(user_id)
    found = await asyncio.to_thread(memory_versions, services, user_id, memory_id, clearance=clearance)
    return MemoryVersions.model_validate(found)


@router.get("/{memory_id}/relations", response_model=MemoryRelations, responses=ERRORS)
async def relations(
    user_id: AuthorizedUser, memory_id: MemoryIdPath, services: ServicesDep, caller: CallerDep
) -> MemoryRelations:
    """Relations from one memory to the user's other memories, strongest first (texts withheld above clearance)."""
    clearance = caller.clearance_for(user_id)
    found = await asyncio.to_thread(memory_relations, services, user_id, memory_id, clearance=clearance)
    return MemoryRelations.model_validate(found)
